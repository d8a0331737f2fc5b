/** The benchmark's output: a readable table on stdout, and the same figures as JSON. */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { PhaseResult } from "./measure.js";
import type { MachineInfo, PinningReport } from "./system.js";

export interface SynapseAlone {
  sends: number;
  seconds: number;
  sendsPerSec: number;
  errors: number;
  concurrency: number;
  cpuMsPerSend: number | null;
  /** CPU other processes on the machine used meanwhile, in % of one CPU. */
  otherCpuPct: number;
}

export interface SetupReport {
  phases: PhaseResult[];
  details: Record<string, unknown>;
  bridgeProblems: Record<string, number>;
  error?: string;
}

export interface Report {
  generatedAt: string;
  machine: MachineInfo;
  pinning: PinningReport;
  settings: Record<string, unknown>;
  targets: { stubAddedP99Ms: number; stubTextsPerSec: number };
  setups: Partial<Record<"stub" | "synapse", SetupReport>>;
  synapseAlone: SynapseAlone | null;
  ratios: { inbound: number | null; outbound: number | null } | null;
  verdicts: string[];
}

export const fmt = (v: number | null | undefined, digits = 1) => (v === null || v === undefined || Number.isNaN(v) ? "-" : v.toFixed(digits));

/** Rows as a text table under a rule: the first `leftColumns` columns aligned left, the rest right. */
export function table(rows: string[][], leftColumns = 1): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r, i) => {
      const line = r.map((cell, c) => (c < leftColumns ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ");
      return i === 0 ? `${line}\n${widths.map((w) => "-".repeat(w)).join("  ")}` : line;
    })
    .join("\n");
}

/** The lines a report opens with: which benchmark and when, the machine, the pinning, the settings. */
export function headerLines(benchmark: string, report: Pick<Report, "generatedAt" | "machine" | "pinning" | "settings">): string[] {
  const m = report.machine;
  return [
    `matrix-pstn-bridge ${benchmark} benchmark   ${report.generatedAt}`,
    `machine: ${m.nproc} CPUs, ${m.cpuModel}, ${m.memoryGb} GB, node ${m.node}, ${m.platform}`,
    `pinning: ${report.pinning.note}`,
    `settings: ${Object.entries(report.settings)
      .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
      .join(", ")}`,
  ];
}

export function formatReport(report: Report): string {
  const out: string[] = headerLines("messaging", report);
  out.push("");
  const header = ["setup", "direction", "run", "texts", "done", "sec", "texts/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "ack p50/p99 ms", "bridge CPU ms/text", "HS CPU ms/text", "RSS MB", "harness CPU%", "other CPU% 0/1"];
  const rows: string[][] = [header];
  for (const [name, setup] of Object.entries(report.setups)) {
    for (const p of setup?.phases ?? []) {
      const load = p.load.kind === "throughput" ? `max (c=${p.load.concurrency})` : `${p.load.rate}/s × ${p.load.seconds}s`;
      rows.push([
        name,
        p.direction,
        load,
        String(p.texts),
        p.complete ? "all" : String(p.arrived),
        fmt(p.seconds, 2),
        fmt(p.textsPerSec, 0),
        fmt(p.latencyMs.p50, 2),
        fmt(p.latencyMs.p90, 2),
        fmt(p.latencyMs.p99, 2),
        fmt(p.latencyMs.max, 1),
        `${fmt(p.ackMs.p50, 2)}/${fmt(p.ackMs.p99, 2)}`,
        fmt(p.cpuMsPerText, 3),
        fmt(p.homeserverCpuMsPerText, 2),
        fmt(p.bridgeRssMb, 0),
        fmt(p.harnessCpuPct, 0),
        p.otherCpuPct.length ? p.otherCpuPct.join("/") + (p.stealPct.some((x) => x >= 5) ? ` (steal ${p.stealPct.join("/")})` : "") : "-",
      ]);
    }
  }
  out.push(table(rows, 3));
  const contended = Object.values(report.setups).flatMap((s) => s?.phases ?? []).filter((p) => p.otherCpuPct.some((x) => x >= 10));
  if (contended.length) {
    out.push(
      `\nWARNING: other processes used ≥ 10% of a CPU during ${contended.length} run(s) (last column): their throughput and latency are understated; CPU ms/text is still the bridge's own.`,
    );
  }
  if (report.synapseAlone) {
    const a = report.synapseAlone;
    out.push("");
    out.push(
      `Synapse alone (a client sending m.room.message, c=${a.concurrency}, no bridge in the rooms): ${a.sends} sends in ${fmt(a.seconds, 2)} s = ${fmt(a.sendsPerSec, 0)} sends/s` +
        (a.cpuMsPerSend !== null ? `, Synapse CPU ${fmt(a.cpuMsPerSend, 2)} ms/send` : "") +
        (a.errors ? `, ${a.errors} errors` : "") +
        (a.otherCpuPct >= 10 ? ` (WARNING: other processes used ${a.otherCpuPct}% of a CPU meanwhile)` : ""),
    );
    if (report.ratios) {
      out.push(`bridge over Synapse (bridge texts/s ÷ Synapse-alone sends/s): inbound ${fmt(report.ratios.inbound, 2)}, outbound ${fmt(report.ratios.outbound, 2)}`);
    }
  }
  out.push("");
  out.push("latency is measured:");
  const seen = new Set<string>();
  for (const [name, setup] of Object.entries(report.setups)) {
    for (const p of setup?.phases ?? []) {
      const key = `${name} ${p.direction}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(`  ${key}: ${p.latencyMeasure}`);
      out.push(`  ${" ".repeat(key.length)}  ack: ${p.ackMeasure}`);
    }
  }
  for (const [name, setup] of Object.entries(report.setups)) {
    if (setup?.error) out.push(`\n${name}: FAILED: ${setup.error}`);
    const problems = Object.entries(setup?.bridgeProblems ?? {});
    if (problems.length) {
      out.push(`\nthe bridge logged (${name}):`);
      for (const [msg, n] of problems) out.push(`  ${n} × ${msg}`);
    }
  }
  if (report.verdicts.length) {
    out.push("");
    out.push(`targets (stub: ≤ ${report.targets.stubAddedP99Ms} ms added at p99, ≥ ${report.targets.stubTextsPerSec} texts/s each way on one core):`);
    for (const v of report.verdicts) out.push(`  ${v}`);
  }
  return out.join("\n");
}

export function verdicts(report: Report): string[] {
  const stub = report.setups.stub?.phases ?? [];
  const lines: string[] = [];
  for (const direction of ["inbound", "outbound"] as const) {
    const tp = stub.find((p) => p.direction === direction && p.load.kind === "throughput");
    if (tp) {
      const ok = tp.complete && tp.textsPerSec >= report.targets.stubTextsPerSec;
      lines.push(`${ok ? "MET    " : "MISSED "} ${direction} throughput: ${fmt(tp.textsPerSec, 0)} texts/s`);
    }
    for (const p of stub.filter((q) => q.direction === direction && q.load.kind === "rate")) {
      const ok = p.complete && p.latencyMs.p99 <= report.targets.stubAddedP99Ms;
      lines.push(`${ok ? "MET    " : "MISSED "} ${direction} p99 at ${p.run}: ${fmt(p.latencyMs.p99, 2)} ms`);
    }
  }
  return lines;
}

/** The report as JSON (the calls benchmark's too). */
export function writeReport(report: object, file: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(report, null, 2) + "\n");
}
