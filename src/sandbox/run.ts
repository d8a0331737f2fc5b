import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../config/load.js";
import { createLogger } from "../log.js";
import { writeRegistration } from "../matrix/registration.js";
import { startCarrierSimulator } from "./simulator/index.js";
import { ensureSynapse, startSynapse } from "./synapse.js";

/**
 * The sandbox: the bridge's main job on embedded defaults. A local Synapse (installed into a
 * git-ignored virtualenv on first use), the carrier simulator standing in for Twilio, and the
 * bridge itself on SQLite, all on loopback, with a demo user and a demo Twilio account. Everything
 * lives under .cache/sandbox and is reused by the next run.
 */

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const CACHE = path.join(REPO_ROOT, ".cache");
const DATA = path.join(CACHE, "sandbox");

const PORTS = { synapse: 8008, appservice: 29333, webhooks: 29334, admin: 29335, simulator: 29400 } as const;
const SERVER_NAME = "localhost";
const DEMO_USERS = [
  { localpart: "demo", password: "demo" },
  { localpart: "demo2", password: "demo2" },
];
// The demo account is fixed so the printed `link` command keeps working across runs.
const DEMO_ACCOUNT = { sid: "AC5a9db0c0b5ff4ef8a2b7c9e3d1f60a11", authToken: "5f4dcc3b5aa765d61d8327deb882cf99" };
const DEMO_NUMBER = "+15550001111";
const DEMO_HANDSET = "+15557654321";

interface SandboxSecrets {
  adminToken: string;
}

function secrets(): SandboxSecrets {
  const file = path.join(DATA, "secrets.json");
  if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as SandboxSecrets;
  const created = { adminToken: randomBytes(16).toString("hex") };
  writeFileSync(file, JSON.stringify(created), { mode: 0o600 });
  return created;
}

function bridgeConfig(adminToken: string, simulatorUrl: string) {
  return {
    homeserver: { url: `http://127.0.0.1:${PORTS.synapse}`, domain: SERVER_NAME },
    appservice: {
      bindAddress: "127.0.0.1",
      port: PORTS.appservice,
      publicUrl: `http://127.0.0.1:${PORTS.appservice}`,
      registrationPath: "registration.yaml",
    },
    webhooks: { publicBaseUrl: `http://127.0.0.1:${PORTS.webhooks}`, bindAddress: "127.0.0.1", port: PORTS.webhooks },
    database: { engine: "sqlite", path: "bridge.db", credentialKey: "file:credential.key" },
    permissions: { "*": "none", [SERVER_NAME]: "user", [`@demo:${SERVER_NAME}`]: "admin" },
    logging: { level: "info", pretty: false },
    admin: { bindAddress: "127.0.0.1", port: PORTS.admin, token: adminToken },
    // Element, the bridge and the simulator all run on this machine: call media stays on loopback.
    calls: { loopbackMediaOnly: true, ringTimeoutSeconds: 30 },
    providers: { twilio: { enabled: true, apiBaseUrl: simulatorUrl } },
  };
}

async function main(): Promise<void> {
  mkdirSync(DATA, { recursive: true });
  const log = createLogger({ level: process.env.SANDBOX_LOG_LEVEL === "debug" ? "debug" : "info", pretty: true });
  const stops: (() => Promise<void> | void)[] = [];
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write("\nStopping the sandbox…\n");
    for (const stop of stops.reverse()) {
      try {
        await stop();
      } catch (err) {
        log.warn({ err }, "error while stopping");
      }
    }
    process.exit(code);
  };
  process.on("SIGINT", () => void stopAll(0));
  process.on("SIGTERM", () => void stopAll(0));

  try {
    const { adminToken } = secrets();
    const sim = await startCarrierSimulator({ port: PORTS.simulator, logger: log });
    stops.push(() => sim.close());
    sim.twilio.createAccount({ ...DEMO_ACCOUNT, friendlyName: "Sandbox account", balance: "25.00" });
    sim.twilio.addNumber(DEMO_ACCOUNT.sid, DEMO_NUMBER, { friendlyName: "Sandbox number" });

    const configPath = path.join(DATA, "config.json");
    writeFileSync(configPath, JSON.stringify(bridgeConfig(adminToken, sim.url), null, 2));
    const config = loadConfig(configPath);
    writeRegistration(config, config.appservice.registrationPath);

    log.info("preparing Synapse (the first run installs it from PyPI, about half a minute)");
    const install = await ensureSynapse({ cacheDir: path.join(CACHE, "synapse-venv"), logger: log });
    const synapse = await startSynapse({
      install,
      dataDir: path.join(DATA, "synapse"),
      serverName: SERVER_NAME,
      port: PORTS.synapse,
      appserviceRegistrations: [config.appservice.registrationPath],
      logger: log,
    });
    stops.push(() => synapse.stop());
    for (const user of DEMO_USERS) await synapse.registerUser(user.localpart, user.password, { displayName: user.localpart });

    const bridge = startBridge(configPath, path.join(DATA, "bridge.log"));
    stops.push(() => stopBridge(bridge));
    bridge.once("exit", (code) => {
      if (!stopping) {
        log.error({ code }, `the bridge exited; its log is ${path.join(DATA, "bridge.log")}`);
        void stopAll(1);
      }
    });
    await waitForBridge(bridge, PORTS.admin);
    printWelcome(sim.url, adminToken);
  } catch (err) {
    log.error({ err }, "the sandbox could not start");
    await stopAll(1);
  }
}

function startBridge(configPath: string, logPath: string): ChildProcess {
  const out = createWriteStream(logPath, { flags: "a" });
  const child = spawn(process.execPath, [path.join(REPO_ROOT, "build", "index.js"), "-c", configPath], {
    cwd: DATA,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.pipe(out);
  child.stderr!.on("data", (chunk: Buffer) => {
    out.write(chunk);
    process.stderr.write(chunk);
  });
  return child;
}

async function stopBridge(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

async function waitForBridge(child: ChildProcess, adminPort: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the bridge exited with code ${child.exitCode}`);
    try {
      const response = await fetch(`http://127.0.0.1:${adminPort}/health`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error("the bridge did not start within 30 s");
}

function printWelcome(simulatorUrl: string, adminToken: string): void {
  const lines = [
    "",
    "  The sandbox is up. Ctrl-C stops everything.",
    "",
    `  Matrix homeserver   http://127.0.0.1:${PORTS.synapse}   (server name: ${SERVER_NAME})`,
    `  Log in as           @demo:${SERVER_NAME} / password: demo      (a second person: @demo2:${SERVER_NAME} / demo2)`,
    `  Bridge bot          @_pstn_:${SERVER_NAME}   invite it to a new room (turn encryption off), then type \`help\``,
    `  Link the demo number, in that room:`,
    `      link twilio ${DEMO_ACCOUNT.sid} ${DEMO_ACCOUNT.authToken} ${DEMO_NUMBER}`,
    `  Simulator phone     ${simulatorUrl}/phone   (text or call the bridge from ${DEMO_HANDSET}; it rings when you call it)`,
    `  Calls               in the room with a contact, press Element's call button (or type \`call <number>\` in the control room)`,
    `  Live actor tree     http://127.0.0.1:${PORTS.admin}/debug   token: ${adminToken}`,
    `  Logs                ${path.relative(REPO_ROOT, path.join(DATA, "bridge.log"))}, ${path.relative(REPO_ROOT, path.join(DATA, "synapse", "homeserver.log"))}`,
    "",
  ];
  process.stdout.write(lines.join("\n") + "\n");
}

void main();
