import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { dump } from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ensureSynapse,
  startSynapse,
  type RunningSynapse,
  type SynapseInstall,
} from "../../src/sandbox/synapse.js";

// The same venv the sandbox uses, so the slow first install happens at most once per checkout.
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const cacheDir = path.join(repoRoot, ".cache", "synapse-venv");
const serverName = "localhost";
const asToken = randomBytes(16).toString("hex");

async function whoami(url: string, token: string): Promise<{ status: number; userId?: string }> {
  const response = await fetch(`${url}/_matrix/client/v3/account/whoami`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const body = (await response.json()) as { user_id?: string };
  return { status: response.status, userId: body.user_id };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("Synapse for the sandbox", () => {
  let install: SynapseInstall;
  let dataDir: string;
  let registration: string;
  let synapse: RunningSynapse | undefined;

  const start = async () =>
    startSynapse({ install, dataDir, serverName, appserviceRegistrations: [registration] });

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), "pstn-synapse-"));
    registration = path.join(dataDir, "pstn-registration.yaml");
    await writeFile(
      registration,
      dump({
        id: "pstn-test",
        // Nothing listens on the discard port; Synapse only needs a URL to accept the file.
        url: "http://127.0.0.1:9",
        as_token: asToken,
        hs_token: randomBytes(16).toString("hex"),
        sender_localpart: "_pstn_",
        rate_limited: false,
        namespaces: { users: [{ exclusive: true, regex: "@_pstn_.*:localhost" }], aliases: [], rooms: [] },
      }),
    );
  });

  afterAll(async () => {
    await synapse?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("installs matrix-synapse into the shared cache", async () => {
    install = await ensureSynapse({ cacheDir });
    expect(install.version).toMatch(/^1\.163\./);
    // A second call must find the marker and not touch pip.
    const again = await ensureSynapse({ cacheDir });
    expect(again).toEqual(install);
  }, 300_000);

  it("starts, registers a user and accepts the appservice token", async () => {
    synapse = await start();
    expect(synapse.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const alice = await synapse.registerUser("alice", "alice-password", { displayName: "Alice" });
    expect(alice.userId).toBe("@alice:localhost");
    expect(await whoami(synapse.url, alice.accessToken)).toEqual({ status: 200, userId: "@alice:localhost" });
    expect(await whoami(synapse.url, asToken)).toEqual({ status: 200, userId: "@_pstn_:localhost" });
  }, 120_000);

  it("keeps users and its shared secret across a restart on the same data dir", async () => {
    const secretBefore = synapse!.registrationSharedSecret;
    await synapse!.stop();
    synapse = await start();

    expect(synapse.registrationSharedSecret).toBe(secretBefore);
    const alice = await synapse.registerUser("alice", "alice-password");
    expect(alice.userId).toBe("@alice:localhost");
    expect(await whoami(synapse.url, alice.accessToken)).toEqual({ status: 200, userId: "@alice:localhost" });
  }, 120_000);

  it("stops without leaving a process behind", async () => {
    const { pid } = synapse!;
    expect(isAlive(pid)).toBe(true);
    await synapse!.stop();
    synapse = undefined;
    expect(isAlive(pid)).toBe(false);
  }, 30_000);
});
