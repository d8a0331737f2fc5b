/** The calls benchmark's output: readable tables on stdout, and the same figures as JSON. */
import type { Percentiles } from "../messaging/load.js";
import { fmt, headerLines, table } from "../messaging/report.js";
import type { MachineInfo, PinningReport } from "../messaging/system.js";

export { writeReport } from "../messaging/report.js";

export interface DirectionResult {
  sent: number;
  received: number;
  lostPct: number;
  latePct: number;
  latencyMs: Percentiles;
  /** Share of received frames during whose trip the harness's clock kept time (see README). */
  harnessOnTimePct: number;
  /** Late frames during whose trip the harness kept time, in % of frames sent: lateness that is the bridge's. */
  latePctHarnessOnTime: number;
  /** Latency of the frames during whose trip the harness kept time. */
  latencyMsHarnessOnTime: Percentiles;
  duplicates: number;
  strangers: number;
}

export interface LevelResult {
  level: number;
  connected: number;
  failed: number;
  failures: Record<string, number>;
  /** Measured window (all calls connected), seconds. */
  windowSeconds: number;
  phoneToMatrix: DirectionResult;
  matrixToPhone: DirectionResult;
  setupMs: { twiml: Percentiles; invite: Percentiles; answered: Percentiles; firstAudio: Percentiles; harnessAnswerMs: Percentiles };
  /** Phone hangup → the ghost's m.call.hangup, per call. */
  teardownMs: Percentiles;
  bridgeCpuPct: number;
  /** The bridge's CPU over the window by thread (main thread, V8's GC workers, libuv's pool), % of its core. */
  bridgeThreadsCpuPct: Record<string, number>;
  cpuMsPerCallSecond: number;
  bridgeRssMb: number | null;
  bridgePeakRssMb: number | null;
  bridgeRssAfterMb: number | null;
  harnessCpuPct: number;
  /** The frame clock's lateness behind schedule during the window (ms). */
  scheduleLagMs: Percentiles;
  /** This process's event-loop delay during the window (perf_hooks monitorEventLoopDelay), ms. */
  harnessLoopDelayMs: { p50: number; p99: number; max: number };
  /** Late or lost frames by 100 ms of send time (from the window's start), worst first. */
  lateEpisodes: { atMs: number; direction: string; calls: number; frames: number; bridgesFrames: number; worstMs: number }[];
  /** The same on this process's clock (≈ the times its own `node --trace-gc` prints). */
  windowStartedAtMsSinceHarnessStart: number;
  /** When the window started, in ms since the bridge process was spawned (≈ the times `--trace-gc` prints, give or take its start-up). */
  windowStartedAtMsSinceBridgeStart: number;
  skippedTicks: number;
  otherCpuPct: number[];
  stealPct: number[];
  quality: "ok" | "broke";
  /** Quality counting as late only frames whose trip the harness kept time through. */
  bridgeQuality: "ok" | "broke";
  /** A broken level disturbed by other processes is run again (up to twice): which attempt this is. */
  attempt: number;
  why: string[];
}

export interface CallsReport {
  generatedAt: string;
  machine: MachineInfo;
  pinning: PinningReport;
  settings: Record<string, unknown>;
  targets: { calls: number; addedP99Ms: number; maxBadPct: number };
  levels: LevelResult[];
  carriedOnOneCore: number | null;
  /** The same, counting as late only frames whose trip the harness kept time through. */
  carriedByBridge: number | null;
  stoppedBecause: string;
  verdicts: string[];
  details: Record<string, unknown>;
  bridgeProblems: Record<string, number>;
  error?: string;
}

const pct = (v: number) => (v === 0 ? "0" : v < 0.01 ? "<0.01" : v.toFixed(2));

export function formatReport(report: CallsReport): string {
  const out: string[] = headerLines("calls", report);
  out.push("");
  out.push("media (frames sent during the measured window; latency = one-way through the bridge and back into this process, ms):");
  const media: string[][] = [
    ["calls", "connected", "P→M lost%", "late%", "p50", "p99", "max", "M→P lost%", "late%", "p50", "p99", "max", "bridge CPU%", "CPU ms/call-s", "RSS MB", "quality"],
  ];
  for (const l of report.levels) {
    const a = l.phoneToMatrix;
    const b = l.matrixToPhone;
    media.push([
      String(l.level) + (l.attempt > 1 ? ` (try ${l.attempt})` : ""),
      String(l.connected),
      pct(a.lostPct),
      pct(a.latePct),
      fmt(a.latencyMs.p50, 2),
      fmt(a.latencyMs.p99, 2),
      fmt(a.latencyMs.max, 1),
      pct(b.lostPct),
      pct(b.latePct),
      fmt(b.latencyMs.p50, 2),
      fmt(b.latencyMs.p99, 2),
      fmt(b.latencyMs.max, 1),
      fmt(l.bridgeCpuPct, 0),
      fmt(l.cpuMsPerCallSecond, 2),
      fmt(l.bridgeRssMb, 0),
      l.quality === "ok" ? "ok" : "BROKE",
    ]);
  }
  out.push(table(media));
  out.push("");
  out.push(`the harness (CPU 1) and what is the bridge's: frames whose trip the harness's clock kept time through (no tick > ${report.settings.harnessOnTimeMs} ms late)`);
  const harness: string[][] = [
    ["calls", "harness CPU%", "loop delay p99/max ms", "clock lag p99 ms", "frames on time%", "P→M late% bridge's", "p99", "M→P late% bridge's", "p99", "other CPU% 0/1"],
  ];
  for (const l of report.levels) {
    const a = l.phoneToMatrix;
    const b = l.matrixToPhone;
    harness.push([
      String(l.level),
      fmt(l.harnessCpuPct, 0),
      `${fmt(l.harnessLoopDelayMs.p99, 1)}/${fmt(l.harnessLoopDelayMs.max, 0)}`,
      fmt(l.scheduleLagMs.p99, 1),
      `${fmt(a.harnessOnTimePct, 1)}/${fmt(b.harnessOnTimePct, 1)}`,
      pct(a.latePctHarnessOnTime),
      fmt(a.latencyMsHarnessOnTime.p99, 2),
      pct(b.latePctHarnessOnTime),
      fmt(b.latencyMsHarnessOnTime.p99, 2),
      l.otherCpuPct.length ? l.otherCpuPct.join("/") + (l.stealPct.some((x) => x >= 5) ? ` (steal ${l.stealPct.join("/")})` : "") : "-",
    ]);
  }
  out.push(table(harness));
  out.push("");
  out.push("call setup (ms from the voice webhook's POST; p50/p99):");
  const setup: string[][] = [["calls", "TwiML", "m.call.invite", "answered", "first audio", "(harness answer)", "teardown"]];
  for (const l of report.levels) {
    const s = l.setupMs;
    const pp = (p: Percentiles) => `${fmt(p.p50, 0)}/${fmt(p.p99, 0)}`;
    setup.push([String(l.level), pp(s.twiml), pp(s.invite), pp(s.answered), pp(s.firstAudio), pp(s.harnessAnswerMs), pp(l.teardownMs)]);
  }
  out.push(table(setup));
  const broken = report.levels.filter((l) => l.why.length);
  if (broken.length) {
    out.push("");
    for (const l of broken) out.push(`${l.level} calls: ${l.why.join("; ")}`);
  }
  const contended = report.levels.filter((l) => l.otherCpuPct.some((x) => x >= 10));
  if (contended.length) out.push(`\nWARNING: other processes used ≥ 10% of a CPU during ${contended.map((l) => l.level).join(", ")} calls (last column of the harness table).`);
  out.push("");
  out.push(`carried on one core (≤ ${report.targets.maxBadPct}% lost and ≤ ${report.targets.maxBadPct}% late each way, every call connected): ${report.carriedOnOneCore ?? "none"} calls`);
  out.push(`  counting only lateness the harness did not cause ("bridge's" columns): ${report.carriedByBridge ?? "none"} calls`);
  out.push(`stopped: ${report.stoppedBecause}`);
  if (report.error) out.push(`\nFAILED: ${report.error}`);
  const problems = Object.entries(report.bridgeProblems);
  if (problems.length) {
    out.push("\nthe bridge logged:");
    for (const [msg, n] of problems) out.push(`  ${n} × ${msg}`);
  }
  const unknown = report.details.unknownRoutes as Record<string, number> | undefined;
  if (unknown && Object.keys(unknown).length) {
    out.push("\nroutes the stub homeserver does not know (answered 404):");
    for (const [route, n] of Object.entries(unknown)) out.push(`  ${n} × ${route}`);
  }
  if (report.verdicts.length) {
    out.push("");
    out.push(`target (≥ ${report.targets.calls} concurrent calls on one core, ≤ ${report.targets.addedP99Ms} ms p99 added latency each way):`);
    for (const v of report.verdicts) out.push(`  ${v}`);
  }
  return out.join("\n");
}

export function verdicts(report: CallsReport): string[] {
  const t = report.targets;
  const lines: string[] = [];
  const carried = report.carriedOnOneCore;
  lines.push(`${carried !== null && carried >= t.calls ? "MET    " : "MISSED "} concurrent calls carried: ${carried ?? 0}`);
  const at = report.levels.find((l) => l.level >= t.calls && l.quality === "ok") ?? report.levels.find((l) => l.level >= t.calls);
  if (at) {
    for (const [name, d] of [["phone → Matrix", at.phoneToMatrix], ["Matrix → phone", at.matrixToPhone]] as const) {
      const ok = d.latencyMs.p99 <= t.addedP99Ms;
      lines.push(`${ok ? "MET    " : "MISSED "} ${name} p99 at ${at.level} calls: ${fmt(d.latencyMs.p99, 2)} ms`);
    }
  } else {
    lines.push(`MISSED  no level reached ${t.calls} calls`);
  }
  return lines;
}
