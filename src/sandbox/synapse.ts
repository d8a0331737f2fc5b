/**
 * A real Synapse homeserver on loopback, for the sandbox and the end-to-end tests. Synapse lives in
 * a private Python virtualenv (installed once from PyPI into a cache folder) and keeps all of its
 * state in one data folder, so a second start on the same folder keeps users and rooms.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, open, readFile, readdir, rename, rm, writeFile, type FileHandle } from "node:fs/promises";
import { createServer } from "node:net";
import path from "node:path";
import { dump } from "js-yaml";
import type { Logger } from "pino";

export type SynapseErrorCode =
  | "synapse-install-failed"
  | "synapse-keygen-failed"
  | "synapse-start-failed"
  | "synapse-start-timeout"
  | "synapse-request-failed";

export class SynapseError extends Error {
  readonly code: SynapseErrorCode;

  constructor(code: SynapseErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SynapseError";
    this.code = code;
  }
}

// ---------------------------------------------------------------------------------------------
// Install
// ---------------------------------------------------------------------------------------------

/** Pinned to one minor series: the generated config below was checked against 1.163's options. */
const SYNAPSE_REQUIREMENT = "matrix-synapse~=1.163.0";
const MARKER_FILE = "synapse-installed.json";
const OUTPUT_TAIL_LINES = 40;

export interface SynapseInstall {
  venvDir: string;
  python: string;
  version: string;
}

interface InstallMarker {
  requirement: string;
  version: string;
}

/**
 * Creates (once) a virtualenv at `cacheDir` and pip-installs matrix-synapse into it. Concurrent
 * callers each build in their own temporary folder next to `cacheDir` and move it into place with
 * one rename, so nobody ever sees a half-built venv; the loser of the race throws its copy away.
 */
export async function ensureSynapse(options: {
  cacheDir: string;
  logger?: Logger;
  /** The interpreter that creates the venv. */
  basePython?: string;
}): Promise<SynapseInstall> {
  const venvDir = path.resolve(options.cacheDir);
  const existing = await readInstall(venvDir);
  if (existing) return existing;

  await removeAbandonedBuilds(venvDir);
  const buildDir = `${venvDir}.build-${process.pid}-${randomBytes(4).toString("hex")}`;
  const log = options.logger;
  log?.info({ venvDir, requirement: SYNAPSE_REQUIREMENT }, "installing Synapse");
  const started = Date.now();
  try {
    await buildVenv(buildDir, options.basePython ?? "python3", log);
    await moveIntoPlace(buildDir, venvDir);
  } finally {
    await rm(buildDir, { recursive: true, force: true });
  }
  const installed = await readInstall(venvDir);
  if (!installed) {
    throw new SynapseError("synapse-install-failed", `Synapse venv at ${venvDir} is unusable after install`);
  }
  log?.info({ version: installed.version, ms: Date.now() - started }, "Synapse installed");
  return installed;
}

function venvPython(venvDir: string): string {
  return path.join(venvDir, "bin", "python");
}

async function readInstall(venvDir: string): Promise<SynapseInstall | undefined> {
  const python = venvPython(venvDir);
  try {
    const marker = JSON.parse(await readFile(path.join(venvDir, MARKER_FILE), "utf8")) as InstallMarker;
    if (marker.requirement !== SYNAPSE_REQUIREMENT || !existsSync(python)) return undefined;
    return { venvDir, python, version: marker.version };
  } catch {
    return undefined;
  }
}

async function buildVenv(buildDir: string, basePython: string, log: Logger | undefined): Promise<void> {
  await mkdir(path.dirname(buildDir), { recursive: true });
  await runInstallStep(buildDir, basePython, ["-m", "venv", buildDir], log);
  const python = venvPython(buildDir);
  await runInstallStep(
    buildDir,
    python,
    ["-m", "pip", "install", "--disable-pip-version-check", "--no-input", SYNAPSE_REQUIREMENT],
    log,
  );
  // Not synapse.__version__: that asks git, and a cache inside a checkout would report the
  // checkout's branch and commit.
  const version = (
    await runInstallStep(buildDir, python, ["-c", 'import importlib.metadata as m; print(m.version("matrix-synapse"))'], log)
  ).trim();
  const marker: InstallMarker = { requirement: SYNAPSE_REQUIREMENT, version };
  // Written last, so a venv with a marker is always a finished one.
  await writeFile(path.join(buildDir, MARKER_FILE), JSON.stringify(marker));
}

/** A venv only refers to itself through pyvenv.cfg next to bin/python, so moving it is safe. */
async function moveIntoPlace(buildDir: string, venvDir: string): Promise<void> {
  if (existsSync(venvDir) && !(await readInstall(venvDir))) {
    // A stale or half-built venv from an older layout: set it aside, then delete it.
    const trash = `${venvDir}.old-${process.pid}-${randomBytes(4).toString("hex")}`;
    await rename(venvDir, trash).catch(ignoreCode("ENOENT"));
    await rm(trash, { recursive: true, force: true });
  }
  try {
    await rename(buildDir, venvDir);
  } catch (err) {
    // Another caller finished first; its venv is as good as ours.
    if (hasCode(err, "ENOTEMPTY") || hasCode(err, "EEXIST")) return;
    throw err;
  }
}

/** Build folders whose owning process is gone were left by a crash or a kill. */
async function removeAbandonedBuilds(venvDir: string): Promise<void> {
  const parent = path.dirname(venvDir);
  const prefix = `${path.basename(venvDir)}.build-`;
  const entries = await readdir(parent).catch(() => [] as string[]);
  for (const entry of entries) {
    if (!entry.startsWith(prefix)) continue;
    const pid = Number(entry.slice(prefix.length).split("-")[0]);
    if (Number.isInteger(pid) && !isAlive(pid)) {
      await rm(path.join(parent, entry), { recursive: true, force: true });
    }
  }
}

/** Runs one install command, streaming its output to the logger; resolves with its stdout. */
function runInstallStep(
  venvDir: string,
  command: string,
  args: string[],
  log: Logger | undefined,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: pythonEnv(venvDir) });
    const tail = new LineTail(OUTPUT_TAIL_LINES);
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    forwardLines(child, (line) => {
      tail.push(line);
      log?.debug({ step: path.basename(command), line }, "synapse install output");
    });
    child.once("error", (err) => reject(installFailed(command, args, tail, err)));
    child.once("close", (code, signal) => {
      if (code === 0) resolve(stdout);
      else reject(installFailed(command, args, tail, new Error(`exit ${code ?? signal}`)));
    });
  });
}

function installFailed(command: string, args: string[], tail: LineTail, cause: Error): SynapseError {
  return new SynapseError(
    "synapse-install-failed",
    `Installing Synapse failed: ${command} ${args.join(" ")} (${cause.message})\n${tail.text()}`,
    { cause },
  );
}

// ---------------------------------------------------------------------------------------------
// Run
// ---------------------------------------------------------------------------------------------

const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;
const POLL_INTERVAL_MS = 100;

export interface SynapseOptions {
  install: SynapseInstall;
  /** Config, signing key, SQLite database, media and log all live here; reused if present. */
  dataDir: string;
  serverName: string;
  /** 0 or undefined picks a free loopback port. */
  port?: number;
  /** Absolute paths of appservice registration YAML files. */
  appserviceRegistrations: string[];
  /** Defaults to the loopback URL of the listener. */
  publicBaseUrl?: string;
  logger?: Logger;
}

export interface RegisteredUser {
  userId: string;
  accessToken: string;
  deviceId: string;
}

export interface RunningSynapse {
  url: string;
  serverName: string;
  registrationSharedSecret: string;
  /**
   * Registers a user through the shared-secret admin API, or logs in with the password when the
   * user already exists, and returns a fresh access token.
   */
  registerUser(
    localpart: string,
    password: string,
    options?: { admin?: boolean; displayName?: string },
  ): Promise<RegisteredUser>;
  /** SIGTERM, then SIGKILL if Synapse is still up after 10 s. */
  stop(): Promise<void>;
  readonly pid: number;
}

interface DataFiles {
  config: string;
  logConfig: string;
  log: string;
  database: string;
  media: string;
  signingKey: string;
  secret: string;
  pid: string;
}

function dataFiles(dataDir: string, serverName: string): DataFiles {
  return {
    config: path.join(dataDir, "homeserver.yaml"),
    logConfig: path.join(dataDir, "log.config.yaml"),
    log: path.join(dataDir, "homeserver.log"),
    database: path.join(dataDir, "homeserver.db"),
    media: path.join(dataDir, "media_store"),
    signingKey: path.join(dataDir, `${serverName}.signing.key`),
    secret: path.join(dataDir, "registration_shared_secret"),
    pid: path.join(dataDir, "homeserver.pid"),
  };
}

export async function startSynapse(options: SynapseOptions): Promise<RunningSynapse> {
  const log = options.logger;
  const dataDir = path.resolve(options.dataDir);
  const files = dataFiles(dataDir, options.serverName);
  await mkdir(files.media, { recursive: true });
  await killLeftover(files, log);

  const secret = await loadOrCreateSecret(files.secret);
  const port = options.port || (await freeLoopbackPort());
  const url = `http://127.0.0.1:${port}`;
  await writeFile(files.logConfig, dump(logConfig(files.log)));
  await writeFile(
    files.config,
    dump(
      homeserverConfig({
        files,
        port,
        secret,
        serverName: options.serverName,
        publicBaseUrl: options.publicBaseUrl ?? `${url}/`,
        registrations: options.appserviceRegistrations,
      }),
    ),
  );
  if (!existsSync(files.signingKey)) await generateSigningKey(options.install, files);

  const started = Date.now();
  const synapse = spawnSynapse(options.install, files, log);
  await writeFile(files.pid, `${synapse.child.pid}\n`);
  try {
    await waitUntilReady(url, synapse, files.log);
  } catch (err) {
    await synapse.stop();
    await rm(files.pid, { force: true });
    throw err;
  }
  log?.info({ url, pid: synapse.child.pid, ms: Date.now() - started }, "Synapse is up");

  return {
    url,
    serverName: options.serverName,
    registrationSharedSecret: secret,
    pid: synapse.child.pid ?? -1,
    registerUser: (localpart, password, userOptions = {}) =>
      registerUser(url, secret, localpart, password, userOptions),
    stop: async () => {
      await synapse.stop();
      await rm(files.pid, { force: true });
      log?.info({ url }, "Synapse stopped");
    },
  };
}

async function loadOrCreateSecret(file: string): Promise<string> {
  try {
    const existing = (await readFile(file, "utf8")).trim();
    if (existing) return existing;
  } catch (err) {
    if (!hasCode(err, "ENOENT")) throw err;
  }
  const secret = randomBytes(32).toString("hex");
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error("no port assigned"))));
    });
  });
}

function logConfig(logFile: string): Record<string, unknown> {
  const format = "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s";
  return {
    version: 1,
    formatters: { precise: { format } },
    handlers: {
      file: { class: "logging.FileHandler", formatter: "precise", filename: logFile, encoding: "utf8" },
      // Only warnings reach stderr, which we keep to explain a failed start.
      console: { class: "logging.StreamHandler", formatter: "precise", level: "WARNING" },
    },
    root: { level: "INFO", handlers: ["file", "console"] },
    disable_existing_loggers: false,
  };
}

/** High enough that no test or sandbox session ever waits on a limiter. */
const UNLIMITED = { per_second: 10_000, burst_count: 10_000 };

function relaxedRateLimits(): Record<string, unknown> {
  return {
    rc_message: UNLIMITED,
    rc_registration: UNLIMITED,
    rc_login: { address: UNLIMITED, account: UNLIMITED, failed_attempts: UNLIMITED },
    rc_joins: { local: UNLIMITED, remote: UNLIMITED },
    rc_joins_per_room: UNLIMITED,
    rc_invites: { per_room: UNLIMITED, per_user: UNLIMITED, per_issuer: UNLIMITED },
    rc_admin_redaction: UNLIMITED,
    rc_3pid_validation: UNLIMITED,
    rc_room_creation: UNLIMITED,
    rc_presence: { per_user: UNLIMITED },
    rc_delayed_event_mgmt: UNLIMITED,
    rc_media_create: UNLIMITED,
    rc_profile: UNLIMITED,
  };
}

function homeserverConfig(input: {
  files: DataFiles;
  port: number;
  secret: string;
  serverName: string;
  publicBaseUrl: string;
  registrations: string[];
}): Record<string, unknown> {
  const { files } = input;
  return {
    server_name: input.serverName,
    public_baseurl: input.publicBaseUrl,
    pid_file: files.pid,
    listeners: [
      {
        port: input.port,
        bind_addresses: ["127.0.0.1"],
        type: "http",
        tls: false,
        x_forwarded: false,
        // "client" also serves the admin API and media; there is deliberately no federation.
        resources: [{ names: ["client"], compress: false }],
      },
    ],
    database: { name: "sqlite3", args: { database: files.database } },
    log_config: files.logConfig,
    media_store_path: files.media,
    enable_media_repo: true,
    max_upload_size: "50M",
    url_preview_enabled: false,
    signing_key_path: files.signingKey,
    registration_shared_secret: input.secret,
    enable_registration: false,
    report_stats: false,
    trusted_key_servers: [],
    suppress_key_server_warning: true,
    presence: { enabled: false },
    app_service_config_files: input.registrations.map((file) => path.resolve(file)),
    ...relaxedRateLimits(),
  };
}

async function generateSigningKey(install: SynapseInstall, files: DataFiles): Promise<void> {
  const args = ["-m", "synapse.app.homeserver", "-c", files.config, "--generate-keys"];
  const result = await runToEnd(install, args);
  if (result.code !== 0 || !existsSync(files.signingKey)) {
    throw new SynapseError(
      "synapse-keygen-failed",
      `Generating the Synapse signing key failed (exit ${result.code}):\n${result.output}`,
    );
  }
}

function runToEnd(install: SynapseInstall, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(install.python, args, { stdio: ["ignore", "pipe", "pipe"], env: pythonEnv(install.venvDir) });
    const tail = new LineTail(OUTPUT_TAIL_LINES);
    forwardLines(child, (line) => tail.push(line));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, output: tail.text() }));
  });
}

interface SynapseProcess {
  child: ChildProcess;
  output: LineTail;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
  stop(): Promise<void>;
}

/**
 * Python prologue that ties Synapse's life to ours on Linux: PR_SET_PDEATHSIG makes the kernel
 * kill it when this Node process dies, even by SIGKILL, where `process.on("exit")` never runs.
 * It then execs Synapse in place, so the pid we hold is Synapse's own. The kernel counts the
 * spawning thread as the parent, so start Synapse from a thread that lives as long as it should
 * (the main thread, or a test worker whose end should end Synapse too).
 */
const DIE_WITH_PARENT = `
import os, signal, sys
parent = int(sys.argv[1])
if sys.platform.startswith("linux"):
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    except Exception:
        pass
if os.getppid() != parent:
    sys.exit("parent exited before Synapse started")
os.execv(sys.executable, [sys.executable, "-m", "synapse.app.homeserver", *sys.argv[2:]])
`;

function spawnSynapse(install: SynapseInstall, files: DataFiles, log: Logger | undefined): SynapseProcess {
  const child = spawn(install.python, ["-c", DIE_WITH_PARENT, String(process.pid), "-c", files.config], {
    stdio: ["ignore", "pipe", "pipe"],
    cwd: path.dirname(files.config),
    env: pythonEnv(install.venvDir),
    detached: false,
  });
  const output = new LineTail(OUTPUT_TAIL_LINES);
  forwardLines(child, (line) => {
    output.push(line);
    log?.[levelOfSynapseLine(line)]({ pid: child.pid, line }, "synapse");
  });

  // Belt to the prologue's braces: covers normal exits on every platform.
  const killOnExit = () => child.kill("SIGKILL");
  process.on("exit", killOnExit);
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      done = true;
      process.removeListener("exit", killOnExit);
      resolve({ code, signal });
    };
    child.once("exit", finish);
    // A spawn failure (missing python) emits "error" and never "exit".
    child.once("error", (err) => {
      output.push(String(err));
      finish(null, null);
    });
  });

  return {
    child,
    output,
    exited,
    hasExited: () => done,
    stop: () => stopChild(child, exited, () => done),
  };
}

/**
 * Only WARNING and above reach Synapse's stderr, but its start-up banner is logged at WARNING on
 * purpose to be always visible; that is routine, not a warning for us.
 */
function levelOfSynapseLine(line: string): "debug" | "warn" | "error" {
  if (line.includes(" - synapse.config.logger - ")) return "debug";
  if (line.includes(" - ERROR - ") || line.includes(" - CRITICAL - ")) return "error";
  return "warn";
}

async function stopChild(
  child: ChildProcess,
  exited: Promise<unknown>,
  hasExited: () => boolean,
): Promise<void> {
  if (hasExited()) return;
  child.kill("SIGTERM");
  const escalate = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
  try {
    await exited;
  } finally {
    clearTimeout(escalate);
  }
}

async function waitUntilReady(url: string, synapse: SynapseProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void synapse.exited.then((result) => {
    exit = result;
  });
  while (Date.now() < deadline) {
    if (exit) {
      throw new SynapseError(
        "synapse-start-failed",
        `Synapse exited during start (code ${exit.code}, signal ${exit.signal}).\n` +
          `--- output ---\n${synapse.output.text()}\n--- ${logFile} ---\n${await fileTail(logFile)}`,
      );
    }
    if (await isHealthy(url)) return;
    await delay(POLL_INTERVAL_MS);
  }
  throw new SynapseError(
    "synapse-start-timeout",
    `Synapse did not answer ${url}/health within ${READY_TIMEOUT_MS / 1000} s.\n` +
      `--- output ---\n${synapse.output.text()}\n--- ${logFile} ---\n${await fileTail(logFile)}`,
  );
}

async function isHealthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

/**
 * A Synapse started by an earlier run that never got to stop it (e.g. its parent was killed on a
 * system without PR_SET_PDEATHSIG) would hold the same database; two Synapses cannot share it, so
 * it goes. Only a process whose command line names this data folder's config is touched.
 */
async function killLeftover(files: DataFiles, log: Logger | undefined): Promise<void> {
  const pid = Number((await readFile(files.pid, "utf8").catch(() => "")).trim());
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  if (!cmdline.includes(files.config)) return;
  log?.warn({ pid }, "killing a Synapse left running on this data folder");
  process.kill(pid, "SIGKILL");
  const deadline = Date.now() + STOP_GRACE_MS;
  while (isAlive(pid) && Date.now() < deadline) await delay(POLL_INTERVAL_MS);
}

// ---------------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------------

export async function registerUser(
  url: string,
  secret: string,
  localpart: string,
  password: string,
  options: { admin?: boolean; displayName?: string },
): Promise<RegisteredUser> {
  const endpoint = `${url}/_synapse/admin/v1/register`;
  const { nonce } = (await requestJson("GET", endpoint)).body as { nonce: string };
  const admin = options.admin ?? false;
  const mac = createHmac("sha1", secret)
    .update([nonce, localpart, password, admin ? "admin" : "notadmin"].join("\0"))
    .digest("hex");
  const body = { nonce, username: localpart, password, admin, mac, displayname: options.displayName };
  const response = await requestJson("POST", endpoint, body);
  if (response.status === 200) return toUser(response.body);
  if (response.status === 400 && errcodeOf(response.body) === "M_USER_IN_USE") {
    return login(url, localpart, password);
  }
  throw requestFailed("POST", endpoint, response);
}

async function login(url: string, localpart: string, password: string): Promise<RegisteredUser> {
  const endpoint = `${url}/_matrix/client/v3/login`;
  const response = await requestJson("POST", endpoint, {
    type: "m.login.password",
    identifier: { type: "m.id.user", user: localpart },
    password,
  });
  if (response.status !== 200) throw requestFailed("POST", endpoint, response);
  return toUser(response.body);
}

function toUser(body: unknown): RegisteredUser {
  const { user_id, access_token, device_id } = body as Record<string, string>;
  if (!user_id || !access_token) {
    throw new SynapseError("synapse-request-failed", `Synapse answered without a user or token: ${JSON.stringify(body)}`);
  }
  return { userId: user_id, accessToken: access_token, deviceId: device_id ?? "" };
}

async function requestJson(
  method: "GET" | "POST",
  endpoint: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  let response: Response;
  try {
    response = await fetch(endpoint, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw new SynapseError("synapse-request-failed", `${method} ${endpoint} failed: ${String(err)}`, { cause: err });
  }
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) as unknown };
  } catch {
    return { status: response.status, body: text };
  }
}

function errcodeOf(body: unknown): string | undefined {
  return typeof body === "object" && body !== null ? (body as { errcode?: string }).errcode : undefined;
}

function requestFailed(method: string, endpoint: string, response: { status: number; body: unknown }): SynapseError {
  return new SynapseError(
    "synapse-request-failed",
    `${method} ${endpoint} answered ${response.status}: ${JSON.stringify(response.body)}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/** Keeps the last lines of a process's output, for error messages. */
class LineTail {
  readonly #lines: string[] = [];
  constructor(readonly size: number) {}
  push(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > this.size) this.#lines.shift();
  }
  text(): string {
    return this.#lines.join("\n");
  }
}

function forwardLines(child: ChildProcess, onLine: (line: string) => void): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    let pending = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      const lines = (pending + chunk).split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) if (line.trim()) onLine(line);
    });
    stream.on("end", () => {
      if (pending.trim()) onLine(pending);
    });
  }
}

/**
 * Keeps the caller's own virtualenv or PYTHONPATH from leaking into Synapse's interpreter. The git
 * ceiling stops Synapse's version lookup from finding the checkout the cache lives in.
 */
function pythonEnv(venvDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: "1", GIT_CEILING_DIRECTORIES: venvDir };
  delete env.PYTHONPATH;
  delete env.PYTHONHOME;
  delete env.VIRTUAL_ENV;
  return env;
}

/** Reads only the end of the file: the log grows across sandbox sessions. */
async function fileTail(file: string, lines = OUTPUT_TAIL_LINES): Promise<string> {
  const maxBytes = 16 * 1024;
  let handle: FileHandle | undefined;
  try {
    handle = await open(file, "r");
    const { size } = await handle.stat();
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer.toString("utf8").split("\n").slice(-lines - 1).join("\n");
  } catch {
    return "(no log file)";
  } finally {
    await handle?.close();
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM means it exists but belongs to someone else.
    return hasCode(err, "EPERM");
  }
}

function hasCode(err: unknown, code: string): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === code;
}

function ignoreCode(code: string): (err: unknown) => void {
  return (err) => {
    if (!hasCode(err, code)) throw err;
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
