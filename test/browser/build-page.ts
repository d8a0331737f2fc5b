import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { build, version as esbuildVersion } from "esbuild";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** The page's sources (a dot-folder, so the root tsconfig, which has no DOM types, skips it). */
export const PAGE_SOURCE_DIR = path.join(REPO_ROOT, "test", "browser", ".page");
const CACHE_DIR = path.join(REPO_ROOT, ".cache", "browser-page");

/** Everything that shapes the bundle apart from node_modules (which counts by version). */
function inputs(): string[] {
  return [
    ...readdirSync(PAGE_SOURCE_DIR)
      .filter((f) => f.endsWith(".ts") || f === "tsconfig.json")
      .map((f) => path.join(PAGE_SOURCE_DIR, f)),
    path.join(REPO_ROOT, "test", "browser", "api.ts"),
    path.join(REPO_ROOT, "test", "browser", "analyse.ts"),
    fileURLToPath(import.meta.url), // the build options below
    path.join(REPO_ROOT, "src", "media", "audio", "goertzel.ts"),
  ].sort();
}

function sourceHash(): string {
  const hash = createHash("sha256");
  for (const file of inputs()) hash.update(path.relative(REPO_ROOT, file)).update("\0").update(readFileSync(file)).update("\0");
  const sdk = JSON.parse(readFileSync(path.join(REPO_ROOT, "node_modules", "matrix-js-sdk", "package.json"), "utf8")) as { version: string };
  hash.update(`matrix-js-sdk@${sdk.version} esbuild@${esbuildVersion}`);
  return hash.digest("hex").slice(0, 16);
}

const INDEX_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>pstn test page</title></head>
<body><script type="module" src="./page.js"></script></body></html>
`;

/**
 * Type-checks the page with its own tsconfig (DOM types). esbuild only strips types, and the root
 * `tsc` doesn't see the dot-folder, so this is where page type errors surface (about 2 s, only
 * when the sources changed).
 */
async function typecheckPage(): Promise<void> {
  const tsc = path.join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc");
  try {
    await promisify(execFile)(process.execPath, [tsc, "-p", path.join(PAGE_SOURCE_DIR, "tsconfig.json")], { cwd: REPO_ROOT });
  } catch (err) {
    const { stdout } = err as { stdout?: string };
    throw new Error(`the browser test page does not type-check:\n${stdout ?? String(err)}`);
  }
}

/**
 * Type-checks and bundles the page (matrix-js-sdk included) with esbuild's JS API, once per
 * source hash: `.cache/browser-page/<hash>/{index.html,page.js}`. Returns that folder.
 */
export async function buildPage(): Promise<string> {
  const hash = sourceHash();
  const out = path.join(CACHE_DIR, hash);
  if (existsSync(path.join(out, "page.js"))) return out;
  await typecheckPage();
  mkdirSync(CACHE_DIR, { recursive: true });
  const staging = `${out}.tmp-${process.pid}-${Date.now()}`;
  mkdirSync(staging, { recursive: true });
  try {
    await build({
      entryPoints: [path.join(PAGE_SOURCE_DIR, "main.ts")],
      outfile: path.join(staging, "page.js"),
      bundle: true,
      platform: "browser",
      format: "esm",
      target: "chrome120",
      tsconfig: path.join(PAGE_SOURCE_DIR, "tsconfig.json"),
      // matrix-js-sdk reads process.env.NODE_ENV in a few places.
      define: { "process.env.NODE_ENV": '"production"' },
      logLevel: "error",
    });
    writeFileSync(path.join(staging, "index.html"), INDEX_HTML);
    try {
      renameSync(staging, out);
    } catch (err) {
      // Another process finished the same build first: theirs is identical.
      if (!existsSync(path.join(out, "page.js"))) throw err;
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  // Older builds are stale (the sources moved on); builds in progress elsewhere are `.tmp-` folders.
  for (const entry of readdirSync(CACHE_DIR)) {
    if (entry !== hash && !entry.includes(".tmp-")) rmSync(path.join(CACHE_DIR, entry), { recursive: true, force: true });
  }
  return out;
}

export interface PageServer {
  /** http://127.0.0.1:<port>/ — a potentially trustworthy origin, so getUserMedia works over http. */
  url: string;
  close(): Promise<void>;
}

/** Serves the built page on an ephemeral 127.0.0.1 port. */
export async function servePage(dir?: string): Promise<PageServer> {
  const root = dir ?? (await buildPage());
  const files: Record<string, { body: Buffer; type: string }> = {
    "/": { body: readFileSync(path.join(root, "index.html")), type: "text/html; charset=utf-8" },
    "/index.html": { body: readFileSync(path.join(root, "index.html")), type: "text/html; charset=utf-8" },
    "/page.js": { body: readFileSync(path.join(root, "page.js")), type: "text/javascript; charset=utf-8" },
  };
  const server = createServer((request, response) => {
    const file = files[(request.url ?? "/").split("?")[0]!];
    if (!file) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": file.type, "cache-control": "no-store" }).end(file.body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
