import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { ensureSynapse, freeLoopbackPort, startSynapse, type RunningSynapse } from "../../src/sandbox/synapse.js";
import { REPO_ROOT, type E2eEnvironment } from "./harness/environment.js";

declare module "vitest" {
  export interface ProvidedContext {
    e2e: E2eEnvironment;
  }
}

let synapse: RunningSynapse | undefined;
let workDir: string | undefined;

/**
 * One real Synapse for the whole end-to-end tier. The registration it loads is written by the
 * bridge's own CLI (`-r`), from a config whose appservice port is fixed for this run; each test
 * file then starts its own simulator and bridge process against it.
 */
export async function setup(project: TestProject): Promise<void> {
  const cli = path.join(REPO_ROOT, "build", "index.js");
  if (!existsSync(cli)) throw new Error("build/index.js is missing: run `npm run build` before the e2e tier");

  const install = await ensureSynapse({ cacheDir: path.join(REPO_ROOT, ".cache", "synapse-venv") });
  workDir = mkdtempSync(path.join(tmpdir(), "pstn-e2e-"));
  const synapsePort = await freeLoopbackPort();
  const appservicePort = await freeLoopbackPort();
  const homeserverUrl = `http://127.0.0.1:${synapsePort}`;
  const registrationPath = path.join(workDir, "registration.yaml");
  const baseConfig = {
    homeserver: { url: homeserverUrl, domain: "localhost" },
    appservice: { bindAddress: "127.0.0.1", port: appservicePort, publicUrl: `http://127.0.0.1:${appservicePort}`, registrationPath },
    webhooks: { publicBaseUrl: "http://127.0.0.1:1", bindAddress: "127.0.0.1", port: 1 },
    database: { path: path.join(workDir, "unused.db"), credentialKey: randomBytes(24).toString("hex") },
    permissions: { "*": "none", localhost: "user", "@stranger:localhost": "none", "@boss:localhost": "admin" },
  };
  const configPath = path.join(workDir, "registration-config.json");
  writeFileSync(configPath, JSON.stringify(baseConfig, null, 2));
  execFileSync(process.execPath, [cli, "-c", configPath, "-r", "-f", registrationPath], { stdio: "pipe" });

  const synapseDir = path.join(workDir, "synapse");
  mkdirSync(synapseDir);
  synapse = await startSynapse({ install, dataDir: synapseDir, serverName: "localhost", port: synapsePort, appserviceRegistrations: [registrationPath] });
  project.provide("e2e", {
    homeserverUrl,
    serverName: "localhost",
    sharedSecret: synapse.registrationSharedSecret,
    registrationPath,
    baseConfig,
    workDir,
  });
}

export async function teardown(): Promise<void> {
  await synapse?.stop();
  if (workDir && !process.env.KEEP_E2E_DIR) rmSync(workDir, { recursive: true, force: true });
}
