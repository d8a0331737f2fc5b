/**
 * Messaging benchmark: the bridge's own cost and speed for texts, both directions, against a
 * minimal stub homeserver (the bridge alone) and against a real Synapse.
 *
 *   npx tsx bench/messaging/run.ts [--quick] [--setup stub|synapse|both] [--contacts 50]
 *                                  [--cpu-prof] [--log-level warn] [--keep]
 *
 * Prints a table and writes bench/messaging/results/latest.json. See README.md next to this file.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { CLI, provenance } from "./bridge-process.js";
import { closeHttp } from "./load.js";
import { runPhase, whileQuiet, type DirectionDriver, type Direction, type Load, type PhaseContext, type PhaseResult } from "./measure.js";
import { formatSummary, summarise } from "./profile-summary.js";
import { formatReport, verdicts, writeReport, type Report, type SetupReport, type SynapseAlone } from "./report.js";
import { stubSetup, synapseSetup, type BenchSetup } from "./setups.js";
import { allowedCpus, pinHarness, pinningReport } from "./system.js";

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    setup: { type: "string", default: "both" },
    direction: { type: "string", default: "both" },
    contacts: { type: "string", default: "50" },
    "cpu-prof": { type: "boolean", default: false },
    "log-level": { type: "string", default: "warn" },
    keep: { type: "boolean", default: false },
    "wait-quiet": { type: "string", default: "90" },
    retries: { type: "string", default: "2" },
    "bridge-node-args": { type: "string", default: "" },
    out: { type: "string", default: path.join(import.meta.dirname, "results", "latest.json") },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (args.help) {
  process.stdout.write(
    "usage: npx tsx bench/messaging/run.ts [--quick] [--setup stub|synapse|both] [--direction inbound|outbound|both] [--contacts N] [--cpu-prof] [--log-level warn] [--wait-quiet SECONDS] [--retries N] [--bridge-node-args FLAGS] [--keep] [--out FILE]\n",
  );
  process.exit(0);
}
if (!["stub", "synapse", "both"].includes(args.setup)) {
  process.stderr.write(`--setup must be stub, synapse or both\n`);
  process.exit(2);
}
if (!["inbound", "outbound", "both"].includes(args.direction)) {
  process.stderr.write(`--direction must be inbound, outbound or both\n`);
  process.exit(2);
}
if (!existsSync(CLI)) {
  process.stderr.write(`${CLI} is missing: run \`npm run build\` first\n`);
  process.exit(2);
}

const quick = args.quick;
const contacts = Number(args.contacts);
const CONCURRENCY = contacts;
const directions: Direction[] = args.direction === "both" ? ["inbound", "outbound"] : [args.direction as Direction];
/**
 * Rates are fixed against the stub; against Synapse, which takes far fewer texts per second than
 * the bridge, they are a quarter and a half of what Synapse alone sustained (measured first), so
 * the latency runs measure latency, not a queue growing behind a saturated homeserver.
 */
const plan = {
  stub: { warmupTexts: quick ? 200 : 500, throughputTexts: quick ? 1500 : 4000, rates: [100, 300], textsPerRate: (rate: number) => rate * (quick ? 4 : 10) },
  synapse: { warmupTexts: quick ? 100 : 200, throughputTexts: quick ? 400 : 1000, rateShares: [0.25, 0.5], textsPerRate: () => (quick ? 120 : 300) },
  synapseAloneSends: quick ? 400 : 1000,
};

const log = (line: string) => process.stderr.write(`${line}\n`);

// --- pinning: the bridge on CPU 0, everything else (this process and its children) on CPU 1 ---
const pinning = pinHarness("harness, simulator, stub homeserver and Synapse");
const { machine, bridgeCpu } = pinning;
const harnessCpu = pinning.harnessPinned ? 1 : null;
/** Before each run, wait this long at most for other processes on the machine to go quiet. */
const waitQuietMs = Number(args["wait-quiet"]) * 1000;
const QUIET_PCT = 10;
/** A run during which other processes used this much of a CPU (or more) is run again, up to --retries times. */
const RETRY_OTHER_PCT = 15;
const retries = Number(args.retries);

const workDir = mkdtempSync(path.join(tmpdir(), "pstn-bench-"));
let current: BenchSetup | null = null;
let cleaning = false;
let interrupted = false;

async function cleanup(): Promise<void> {
  if (cleaning) return;
  cleaning = true;
  await current?.close().catch(() => {});
  current = null;
  closeHttp();
  if (!args.keep && !args["cpu-prof"]) rmSync(workDir, { recursive: true, force: true });
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    interrupted = true;
    log(`\n${signal}: stopping everything…`);
    void cleanup().finally(() => process.exit(130));
  });
}

/** A run, repeated (up to --retries times) while other processes on the machine disturbed it. */
async function measuredPhase(ctx: PhaseContext, direction: Direction, driver: DirectionDriver, load: Load): Promise<PhaseResult> {
  for (let attempt = 1; ; attempt++) {
    const result = { ...(await runPhase(ctx, direction, driver, load)), attempt };
    const other = Math.max(0, ...result.otherCpuPct);
    if (other < RETRY_OTHER_PCT || attempt > retries) return result;
    log(`    other processes used ${other}% of a CPU during that run (${result.textsPerSec} texts/s, p99 ${result.latencyMs.p99} ms): running it again`);
  }
}

interface MeasureSettings {
  warmupTexts: number;
  throughputTexts: number;
  rates: number[];
  textsPerRate: (rate: number) => number;
}

async function measure(setup: BenchSetup, settings: MeasureSettings): Promise<PhaseResult[]> {
  const results: PhaseResult[] = [];
  const outboundConcurrency = setup.name === "stub" ? ("all-at-once" as const) : CONCURRENCY;
  const throughput = (direction: Direction, count: number): Load => ({
    kind: "throughput",
    count,
    concurrency: direction === "inbound" ? CONCURRENCY : outboundConcurrency,
  });
  log(`  warm-up: ${settings.warmupTexts} texts each way (not reported)`);
  for (const direction of directions) {
    await runPhase(setup.ctx, direction, direction === "inbound" ? setup.inbound : setup.outbound, throughput(direction, settings.warmupTexts));
  }
  for (const direction of directions) {
    const driver = direction === "inbound" ? setup.inbound : setup.outbound;
    const loads: Load[] = [
      throughput(direction, settings.throughputTexts),
      ...settings.rates.map((rate): Load => ({ kind: "rate", rate, seconds: Math.round((settings.textsPerRate(rate) / rate) * 10) / 10 })),
    ];
    for (const load of loads) {
      const result = await measuredPhase(setup.ctx, direction, driver, load);
      results.push(result);
      log(
        `  ${direction} ${result.run}: ${result.arrived}/${result.texts} in ${result.seconds} s = ${result.textsPerSec} texts/s, ` +
          `p50 ${result.latencyMs.p50} p99 ${result.latencyMs.p99} max ${result.latencyMs.max} ms, ${result.cpuMsPerText} CPU ms/text`,
      );
    }
  }
  return results;
}

async function main(): Promise<void> {
  log(`work dir ${workDir}`);
  log(`pinning: ${pinning.note}`);
  const report: Report = {
    generatedAt: new Date().toISOString(),
    machine,
    pinning: pinningReport(pinning),
    settings: {
      mode: quick ? "quick" : "full",
      contacts,
      concurrency: CONCURRENCY,
      stubRates: plan.stub.rates.join("/s, ") + "/s",
      synapseRates: plan.synapse.rateShares.map((s) => `${s * 100}%`).join(" and ") + " of Synapse alone",
      logging: args["log-level"],
      database: "SQLite on disk (WAL), temp dir",
      signatures: "checked",
      simulatorStatusDelayMs: 50,
      cpuProfile: args["cpu-prof"],
      ...(args["bridge-node-args"] ? { bridgeNodeArgs: args["bridge-node-args"] } : {}),
      waitForQuiet: `≤ ${args["wait-quiet"]} s per run for other processes to use < ${QUIET_PCT}% CPU; a run they disturbed (≥ ${RETRY_OTHER_PCT}%) is repeated up to ${retries} times`,
      bridge: provenance(),
    },
    targets: { stubAddedP99Ms: 5, stubTextsPerSec: 500 },
    setups: {},
    synapseAlone: null,
    ratios: null,
    verdicts: [],
  };
  const setups = args.setup === "both" ? (["stub", "synapse"] as const) : ([args.setup] as ("stub" | "synapse")[]);
  for (const name of setups) {
    if (interrupted) break;
    log(`\n== setup ${name} ==`);
    const profDir = args["cpu-prof"] ? path.join(workDir, `${name}-cpu-prof`) : undefined;
    const bridgeNodeArgs = args["bridge-node-args"].split(/\s+/).filter(Boolean);
    const options = { workDir, contacts, bridgeCpu, harnessCpu, waitQuietMs, quietPct: QUIET_PCT, bridgeNodeArgs, logLevel: args["log-level"], log, ...(profDir ? { cpuProfDir: profDir } : {}) };
    const entry: SetupReport = { phases: [], details: {}, bridgeProblems: {} };
    report.setups[name] = entry;
    try {
      current = name === "stub" ? await stubSetup(options) : await synapseSetup(options);
      log(`  bridge pid ${current.bridge.pid} on CPUs ${allowedCpus(current.bridge.pid)}; harness on CPUs ${allowedCpus(process.pid)}`);
      if (current.synapseAlone) {
        log(`  Synapse alone: ${plan.synapseAloneSends} sends, c=${CONCURRENCY}`);
        const setup = current;
        let measuredAlone: { value: Awaited<ReturnType<NonNullable<BenchSetup["synapseAlone"]>>>; otherCpuPct: number };
        for (let attempt = 1; ; attempt++) {
          measuredAlone = await whileQuiet(setup.ctx, () => setup.synapseAlone!(plan.synapseAloneSends, CONCURRENCY));
          if (measuredAlone.otherCpuPct < RETRY_OTHER_PCT || attempt > retries) break;
          log(`    other processes used ${measuredAlone.otherCpuPct}% of a CPU meanwhile (${measuredAlone.value.sendsPerSec} sends/s): again`);
        }
        const alone = measuredAlone.value;
        report.synapseAlone = { ...alone, concurrency: CONCURRENCY, otherCpuPct: measuredAlone.otherCpuPct } satisfies SynapseAlone;
        log(`  Synapse alone: ${alone.sendsPerSec} sends/s`);
        const rates = plan.synapse.rateShares.map((share) => Math.max(1, Math.round(alone.sendsPerSec * share)));
        entry.phases = await measure(current, { ...plan.synapse, rates });
        const tp = (d: Direction) => entry.phases.find((p) => p.direction === d && p.load.kind === "throughput")?.textsPerSec ?? null;
        const ratio = (v: number | null) => (v === null ? null : Math.round((v / alone.sendsPerSec) * 100) / 100);
        report.ratios = { inbound: ratio(tp("inbound")), outbound: ratio(tp("outbound")) };
      } else {
        entry.phases = await measure(current, plan.stub);
      }
      entry.details = current.details();
    } catch (err) {
      entry.error = err instanceof Error ? err.message : String(err);
      log(`  setup ${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    } finally {
      if (current) {
        entry.bridgeProblems = { ...current.bridge.problems };
        await current.close();
        current = null;
      }
    }
    if (profDir && existsSync(profDir)) {
      for (const file of readdirSync(profDir).filter((f) => f.endsWith(".cpuprofile"))) {
        const full = path.join(profDir, file);
        log(`\n-- CPU profile of the bridge (${name}): ${full}`);
        log(formatSummary(summarise(full, 25)));
      }
    }
  }
  if (interrupted) return;
  report.verdicts = verdicts(report);
  process.stdout.write(formatReport(report) + "\n");
  writeReport(report, args.out);
  log(`\nwrote ${args.out}`);
}

main()
  .catch((err: unknown) => {
    log(`benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  })
  .finally(() => void cleanup());
