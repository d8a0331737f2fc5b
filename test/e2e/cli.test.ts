import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { load } from "js-yaml";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./harness/environment.js";

/** The command-line contract of the built bridge, run as a user runs it. */
const CLI = path.join(REPO_ROOT, "build", "index.js");
const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", env: { PATH: process.env.PATH, ...env }, timeout: 20_000 });

function configFile(config: unknown): string {
  const dir = mkdtempSync(path.join(tmpdir(), "pstn-cli-"));
  const file = path.join(dir, "config.json");
  writeFileSync(file, JSON.stringify(config));
  return file;
}

const example = JSON.parse(readFileSync(path.join(REPO_ROOT, "config.example.json"), "utf8")) as Record<string, Record<string, unknown>>;

describe("the command line", () => {
  it("--help explains generating the registration and running", () => {
    const result = run(["--help"]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("-r, --generate-registration");
    expect(result.stdout).toContain("node build/index.js -c config.json -r");
    expect(result.stdout).toContain("Run the bridge");
  });

  it("refuses an unknown option with the usage", () => {
    const result = run(["--frobnicate"]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("Usage:");
  });

  it("refuses a broken config, naming the key, with a non-zero exit", () => {
    const result = run(["-c", configFile({ ...example, homeserver: { url: "not a url", domain: "example.org" } })]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("homeserver.url must be a URL");
  });

  it("-r writes the registration from config.example.json as it stands, with the public URL and exclusive namespaces", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "pstn-cli-"));
    const registration = path.join(dir, "registration.yaml");
    const config = configFile({ ...example, appservice: { ...example.appservice, bindAddress: "0.0.0.0", publicUrl: "https://bridge.internal:29333" } });
    const result = run(["-c", config, "-r", "-f", registration]);
    expect(result.status).toBe(0);
    const written = load(readFileSync(registration, "utf8")) as Record<string, unknown>;
    expect(written).toMatchObject({
      url: "https://bridge.internal:29333",
      sender_localpart: "_pstn_",
      rate_limited: false,
      protocols: ["im.vector.protocol.pstn", "m.protocol.pstn"],
      namespaces: { users: [{ exclusive: true, regex: "@_pstn_.*:example\\.org" }] },
    });
    expect(written.as_token).toMatch(/^[0-9a-f]{64}$/);
    expect(written.hs_token).toMatch(/^[0-9a-f]{64}$/);
    expect(written.as_token).not.toBe(written.hs_token);

    const again = run(["-c", config, "-r", "-f", registration]);
    expect(again.stdout).toContain("kept the existing tokens");
    const rewritten = load(readFileSync(registration, "utf8")) as Record<string, unknown>;
    expect(rewritten.as_token).toBe(written.as_token);
    expect(rewritten.hs_token).toBe(written.hs_token);
  });

  it("-r also works on config.example.json itself", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "pstn-cli-"));
    const result = run(["-c", path.join(REPO_ROOT, "config.example.json"), "-r", "-f", path.join(dir, "reg.yaml")]);
    expect(result.status).toBe(0);
  });

  it("refuses to run without a registration, saying how to make one", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "pstn-cli-"));
    const config = configFile({ ...example, database: { path: path.join(dir, "db.sqlite"), credentialKey: "k".repeat(40) } });
    const result = run(["-c", config, "-f", path.join(dir, "missing.yaml")]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/generate it with -r/);
  });

  it("refuses to run without the credential key, naming the variable", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "pstn-cli-"));
    const config = configFile({ ...example, database: { path: path.join(dir, "db.sqlite") } });
    const result = run(["-c", config]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("PSTN_BRIDGE_CREDENTIAL_KEY");
  });
});
