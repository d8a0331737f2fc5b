/**
 * One measured run ("phase"): fire texts in one direction (closed loop or fixed rate), wait until
 * each arrived on the far side and the bridge has finished its follow-up work (delivery statuses,
 * echoes of its own events), and read the bridge's CPU time and memory around it.
 */
import Database from "better-sqlite3";
import { closedLoop, now, openLoop, percentiles, Tracker, type DriveResult, type Percentiles } from "./load.js";
import { cpuLoad, cpuMs, cpuSample, foreignLoad, memory, round, sleep, waitCpuQuiet } from "./system.js";

export type Direction = "inbound" | "outbound";

/** How a setup moves texts in one direction, and how it sees them arrive. */
export interface DirectionDriver {
  /** Sends text `i` (its body is `body`) and records its send time in `tracker` (now() clock). */
  fire(i: number, body: string, tracker: Tracker): Promise<void>;
  /**
   * Fills in arrival times for bodies starting with `prefix` that the setup couldn't observe live
   * (Synapse's origin_server_ts, read after the run). Optional.
   */
  collect?(tracker: Tracker, prefix: string, since: number): Promise<void>;
  /** Which clock the arrivals use, for the report. */
  latencyMeasure: string;
  /** What `ack` times are for this direction, for the report. */
  ackMeasure: string;
}

export type Load = { kind: "throughput"; count: number; concurrency: number | "all-at-once" } | { kind: "rate"; rate: number; seconds: number };

export interface PhaseResult {
  setup: string;
  direction: Direction;
  run: string;
  load: Load;
  texts: number;
  arrived: number;
  complete: boolean;
  seconds: number;
  textsPerSec: number;
  latencyMs: Percentiles;
  latencyMeasure: string;
  /** The first hop: how long the request that carried each text took to be acknowledged. */
  ackMs: Percentiles;
  ackMeasure: string;
  bridgeCpuMs: number;
  cpuMsPerText: number;
  bridgeRssMb: number | null;
  bridgePeakRssMb: number | null;
  /** CPU the homeserver (Synapse) used per text, when it is a separate process. */
  homeserverCpuMsPerText: number | null;
  /** The harness's own CPU use during the run, in % of one core (it shares CPU 1 with the homeserver). */
  harnessCpuPct: number;
  /** Open loop: the worst delay of a send behind its schedule (the generator falling behind). */
  maxScheduleLagMs: number;
  sendErrors: number;
  /**
   * Per CPU, % of the run it spent on processes other than the bridge, the harness and the
   * homeserver (someone else's work on the machine), and % stolen by the hypervisor. Figures from
   * a run with much of either are not trustworthy.
   */
  otherCpuPct: number[];
  stealPct: number[];
  /** How long the run waited for other load on the machine to stop before starting. */
  waitedForQuietMs: number;
  /** Runs disturbed by other load are repeated: which attempt this is. */
  attempt: number;
}

export interface PhaseContext {
  setup: string;
  bridgePid: number;
  homeserverPid: number | null;
  dbPath: string;
  /** The bridge's CPU when pinned (its time is then charged to that CPU), else null. */
  bridgeCpu: number | null;
  /** The harness's CPU when pinned (with the homeserver), else null. */
  harnessCpu: number | null;
  /** Wait up to this long for other processes' load to drop below `quietPct` before a run. */
  waitQuietMs: number;
  quietPct: number;
  log(line: string): void;
}

/** Waits (up to ctx.waitQuietMs) until processes other than ours use less than ctx.quietPct of a CPU. */
export async function waitForQuietMachine(ctx: PhaseContext): Promise<number> {
  const started = Date.now();
  const ours = [ctx.bridgePid, process.pid, ...(ctx.homeserverPid ? [ctx.homeserverPid] : [])];
  let logged = false;
  for (;;) {
    const foreign = await foreignLoad(ours, 500);
    if (foreign < ctx.quietPct) return Date.now() - started;
    if (Date.now() - started > ctx.waitQuietMs) {
      ctx.log(`    other processes still use ${foreign}% of a CPU; measuring anyway (see the "other CPU" column)`);
      return Date.now() - started;
    }
    if (!logged) ctx.log(`    other processes use ${foreign}% of a CPU; waiting up to ${Math.round(ctx.waitQuietMs / 1000)} s for them to stop`);
    logged = true;
  }
}

let phaseCounter = 0;

/** Waits until the bridge's database shows the texts of this run done (posted, or delivered and shown). */
async function waitDone(dbPath: string, direction: Direction, afterId: number, count: number, timeoutMs: number): Promise<boolean> {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const sql =
      direction === "inbound"
        ? "SELECT COUNT(*) AS n FROM messages WHERE id > ? AND direction = 'in' AND state = 'posted'"
        : "SELECT COUNT(*) AS n FROM messages WHERE id > ? AND direction = 'out' AND shown_status = 'delivered'";
    const statement = db.prepare(sql);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const { n } = statement.get(afterId) as { n: number };
      if (n >= count) return true;
      await sleep(100);
    }
    return false;
  } finally {
    db.close();
  }
}

function lastMessageId(dbPath: string): number {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare("SELECT COALESCE(MAX(id), 0) AS id FROM messages").get() as { id: number }).id;
  } finally {
    db.close();
  }
}

const FILLER = "Hi! Running a few minutes late, see you at the usual place.";

export async function runPhase(ctx: PhaseContext, direction: Direction, driver: DirectionDriver, load: Load, options: { timeoutMs?: number } = {}): Promise<PhaseResult> {
  const phase = ++phaseCounter;
  const prefix = `bench-${direction === "inbound" ? "in" : "out"}-${phase}-`;
  const count = load.kind === "throughput" ? load.count : Math.round(load.rate * load.seconds);
  const tracker = new Tracker(count);
  const body = (i: number) => `${prefix}${i} ${FILLER}`;
  const timeoutMs = options.timeoutMs ?? 120_000;

  await waitCpuQuiet(ctx.bridgePid, 200, 5_000);
  const waitedForQuietMs = await waitForQuietMachine(ctx);
  const afterId = lastMessageId(ctx.dbPath);
  const machine0 = cpuSample();
  const bridgeCpu0 = cpuMs(ctx.bridgePid) ?? 0;
  const hsCpu0 = ctx.homeserverPid ? cpuMs(ctx.homeserverPid) : null;
  const harness0 = process.cpuUsage();
  const wall0 = now();

  let drive: DriveResult;
  if (load.kind === "throughput") {
    const fire = (i: number) => driver.fire(i, body(i), tracker);
    drive = load.concurrency === "all-at-once" ? await allAtOnce(count, fire) : await closedLoop(count, load.concurrency, fire);
  } else {
    drive = await openLoop(count, load.rate, (i) => driver.fire(i, body(i), tracker));
  }
  const done = await waitDone(ctx.dbPath, direction, afterId, count, timeoutMs);
  if (driver.collect) await driver.collect(tracker, prefix, drive.firstAt);
  else await tracker.waitAll(done ? 5_000 : 1_000);
  const harnessCpu = process.cpuUsage(harness0);
  const harnessWall = now() - wall0;
  const machine1 = cpuSample();
  const bridgeMid = cpuMs(ctx.bridgePid) ?? bridgeCpu0;
  const hsMid = ctx.homeserverPid ? cpuMs(ctx.homeserverPid) : null;
  await waitCpuQuiet(ctx.bridgePid, 300, 10_000);
  const bridgeCpu1 = cpuMs(ctx.bridgePid) ?? bridgeCpu0;
  const hsCpu1 = ctx.homeserverPid ? cpuMs(ctx.homeserverPid) : null;
  const mem = memory(ctx.bridgePid);

  // Someone else's load per CPU: busy time minus what the bridge, the harness and the homeserver used there.
  let otherCpuPct: number[] = [];
  let stealPct: number[] = [];
  if (machine0 && machine1) {
    const load = cpuLoad(machine0, machine1);
    const pct = (ms: number) => (ms / load.ms) * 100;
    const harnessMs = (harnessCpu.user + harnessCpu.system) / 1000;
    const hsMs = hsCpu0 !== null && hsMid !== null ? hsMid - hsCpu0 : 0;
    const ownPct = load.busyPct.map((_, cpu) => {
      if (ctx.bridgeCpu === null || ctx.harnessCpu === null) return cpu === 0 ? pct(bridgeMid - bridgeCpu0 + harnessMs + hsMs) : 0;
      return (cpu === ctx.bridgeCpu ? pct(bridgeMid - bridgeCpu0) : 0) + (cpu === ctx.harnessCpu ? pct(harnessMs + hsMs) : 0);
    });
    otherCpuPct =
      ctx.bridgeCpu === null || ctx.harnessCpu === null
        ? [round(Math.max(0, load.busyPct.reduce((a, b) => a + b, 0) - ownPct[0]!), 0)]
        : load.busyPct.map((busy, cpu) => round(Math.max(0, busy - ownPct[cpu]!), 0));
    stealPct = load.stealPct;
  }

  const seconds = tracker.lastArrival > drive.firstAt ? (tracker.lastArrival - drive.firstAt) / 1000 : NaN;
  const bridgeCpuMs = bridgeCpu1 - bridgeCpu0;
  return {
    setup: ctx.setup,
    direction,
    run: load.kind === "throughput" ? `throughput` : `${load.rate}/s`,
    load,
    texts: count,
    arrived: tracker.arrivedCount,
    complete: done && tracker.arrivedCount === count,
    seconds: round(seconds, 2),
    textsPerSec: round(tracker.arrivedCount / seconds, 1),
    latencyMs: percentiles(tracker.latencies()),
    latencyMeasure: driver.latencyMeasure,
    ackMs: percentiles(tracker.acks),
    ackMeasure: driver.ackMeasure,
    bridgeCpuMs: round(bridgeCpuMs, 0),
    cpuMsPerText: round(bridgeCpuMs / count, 3),
    bridgeRssMb: mem?.rssMb ?? null,
    bridgePeakRssMb: mem?.peakRssMb ?? null,
    homeserverCpuMsPerText: hsCpu0 !== null && hsCpu1 !== null ? round((hsCpu1 - hsCpu0) / count, 3) : null,
    harnessCpuPct: round(((harnessCpu.user + harnessCpu.system) / 1000 / harnessWall) * 100, 0),
    maxScheduleLagMs: round(drive.maxLagMs, 1),
    sendErrors: drive.errors,
    otherCpuPct,
    stealPct,
    waitedForQuietMs,
    attempt: 1,
  };
}

/** Everything queued at once (the homeserver side of the stub batches it into transactions). */
async function allAtOnce(count: number, fire: (i: number) => Promise<void>): Promise<DriveResult> {
  const firstAt = now();
  let errors = 0;
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      fire(i).catch(() => {
        errors++;
      }),
    ),
  );
  return { firstAt, lastFiredAt: now(), maxLagMs: 0, errors };
}

/**
 * Runs `work` once the machine is quiet, and says how much CPU other processes used meanwhile
 * (all CPUs together, in % of one CPU).
 */
export async function whileQuiet<T>(ctx: PhaseContext, work: () => Promise<T>): Promise<{ value: T; otherCpuPct: number }> {
  await waitForQuietMachine(ctx);
  const ours = [ctx.bridgePid, ...(ctx.homeserverPid ? [ctx.homeserverPid] : [])];
  const before = cpuSample();
  const ourBefore = ours.map((pid) => cpuMs(pid) ?? 0);
  const harness0 = process.cpuUsage();
  const value = await work();
  const after = cpuSample();
  const ourMs = ours.reduce((sum, pid, i) => sum + ((cpuMs(pid) ?? 0) - ourBefore[i]!), 0);
  const harness = process.cpuUsage(harness0);
  if (!before || !after) return { value, otherCpuPct: 0 };
  const busy = after.busyMs.reduce((a, b) => a + b, 0) - before.busyMs.reduce((a, b) => a + b, 0);
  const own = ourMs + (harness.user + harness.system) / 1000;
  return { value, otherCpuPct: round(Math.max(0, (busy - own) / (after.at - before.at)) * 100, 0) };
}
