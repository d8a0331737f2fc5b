import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { freeLoopbackPort } from "../../../src/sandbox/synapse.js";
import { REPO_ROOT, type E2eEnvironment } from "./environment.js";

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/**
 * The built bridge, run as a separate process exactly as a user would run it
 * (`node build/index.js -c config.json`), with its JSON log captured for assertions.
 */
export class BridgeProcess {
  readonly logs: LogLine[] = [];
  readonly stderr: string[] = [];
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> = Promise.resolve(null);

  private constructor(
    readonly configPath: string,
    readonly config: Record<string, Record<string, unknown>>,
    private readonly logPath: string,
  ) {}

  /** Writes a config for this test file (own database, own ports) next to the shared registration. */
  static async create(
    env: E2eEnvironment,
    name: string,
    options: { twilioApiBaseUrl: string; calls?: Record<string, unknown> },
  ): Promise<BridgeProcess> {
    const dir = path.join(env.workDir, name);
    mkdirSync(dir, { recursive: true });
    // Ports the OS just handed out can come round again; never reuse the shared appservice port.
    const taken = new Set([Number(env.baseConfig.appservice!.port)]);
    const pick = async () => {
      for (;;) {
        const port = await freeLoopbackPort();
        if (!taken.has(port)) {
          taken.add(port);
          return port;
        }
      }
    };
    const webhookPort = await pick();
    const adminPort = await pick();
    const config = {
      ...env.baseConfig,
      webhooks: { publicBaseUrl: `http://127.0.0.1:${webhookPort}`, bindAddress: "127.0.0.1", port: webhookPort },
      database: { path: path.join(dir, "bridge.db"), credentialKey: `file:${path.join(dir, "credential.key")}` },
      logging: { level: "debug" },
      admin: { bindAddress: "127.0.0.1", port: adminPort, token: randomBytes(16).toString("hex") },
      providers: { twilio: { enabled: true, apiBaseUrl: options.twilioApiBaseUrl } },
      // Everything runs on this machine: call media stays on loopback.
      calls: { loopbackMediaOnly: true, ...options.calls },
    };
    const configPath = path.join(dir, "config.json");
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    return new BridgeProcess(configPath, config, path.join(dir, "bridge.log"));
  }

  get webhookBase(): string {
    return String(this.config.webhooks!.publicBaseUrl);
  }
  get adminBase(): string {
    return `http://127.0.0.1:${String(this.config.admin!.port)}`;
  }
  get adminToken(): string {
    return String(this.config.admin!.token);
  }

  async start(timeoutMs = 30_000): Promise<void> {
    const startedBefore = this.logs.filter((l) => l.msg === "bridge started").length;
    const out = createWriteStream(this.logPath, { flags: "a" });
    const child = spawn(process.execPath, [path.join(REPO_ROOT, "build", "index.js"), "-c", this.configPath], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    let buffer = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out.write(chunk);
      buffer += chunk.toString("utf8");
      let newline: number;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          this.stderr.push(line);
        }
      }
    });
    child.stderr!.on("data", (chunk: Buffer) => {
      out.write(chunk);
      this.stderr.push(chunk.toString("utf8"));
    });
    const deadline = Date.now() + timeoutMs;
    // Wait for this run's "bridge started", not an earlier run's.
    while (this.logs.filter((l) => l.msg === "bridge started").length === startedBefore) {
      if (child.exitCode !== null) throw new Error(`bridge exited with ${child.exitCode}: ${this.stderr.join("").slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`bridge did not start in time: ${this.stderr.join("").slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Stops the bridge: SIGTERM (a clean stop) or SIGKILL (a crash). */
  async stop(signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<number | null> {
    if (!this.child || this.child.exitCode !== null) return this.child?.exitCode ?? null;
    this.child.kill(signal);
    return this.exited;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Log lines at warn (40) or above, for a test to show when something fails. */
  problems(): LogLine[] {
    return this.logs.filter((l) => l.level >= 40);
  }

  async debugActors(token: string | null = this.adminToken): Promise<{ status: number; body: unknown; text: string }> {
    const response = await fetch(`${this.adminBase}/debug/actors`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    const text = await response.text();
    return { status: response.status, body: JSON.parse(text) as unknown, text };
  }
}
