/**
 * What the benchmark reads from the machine: CPU pinning (taskset), per-process CPU time and RSS
 * from /proc, and a description of the machine for the report.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  node: string;
  platform: string;
  memoryGb: number;
}

export function machineInfo(): MachineInfo {
  let cpuModel = os.cpus()[0]?.model ?? "unknown";
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((l) => l.startsWith("model name"));
    if (line) cpuModel = line.slice(line.indexOf(":") + 1).trim();
  } catch {
    // Not Linux: keep what os.cpus() said.
  }
  let nproc = os.availableParallelism();
  try {
    nproc = Number(execFileSync("nproc", { encoding: "utf8" }).trim()) || nproc;
  } catch {
    // nproc missing: keep Node's count.
  }
  return {
    nproc,
    cpuModel,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
  };
}

let tasksetPath: string | null | undefined;

/** The taskset binary (util-linux), or null when it is not installed. */
export function taskset(): string | null {
  if (tasksetPath !== undefined) return tasksetPath;
  for (const candidate of ["/usr/bin/taskset", "/bin/taskset", "/usr/local/bin/taskset"]) {
    try {
      execFileSync(candidate, ["-V"], { stdio: "ignore" });
      return (tasksetPath = candidate);
    } catch {
      // try the next one
    }
  }
  try {
    const found = execFileSync("sh", ["-c", "command -v taskset"], { encoding: "utf8" }).trim();
    return (tasksetPath = found || null);
  } catch {
    return (tasksetPath = null);
  }
}

/** Pins every thread of a running process to `cpu`; false when taskset is missing or refused. */
export function pinProcess(pid: number, cpu: number): boolean {
  const bin = taskset();
  if (!bin) return false;
  try {
    execFileSync(bin, ["-a", "-p", "-c", String(cpu), String(pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** The CPUs a process may run on, as the kernel lists them ("0", "0-1"). */
export function allowedCpus(pid: number): string {
  try {
    const line = readFileSync(`/proc/${pid}/status`, "utf8")
      .split("\n")
      .find((l) => l.startsWith("Cpus_allowed_list:"));
    return line?.split(":")[1]?.trim() ?? "?";
  } catch {
    return "?";
  }
}

export interface Pinning {
  machine: MachineInfo;
  tasksetBin: string | null;
  /** The bridge's CPU, or null when nothing is pinned. */
  bridgeCpu: number | null;
  harnessPinned: boolean;
  note: string;
}

/**
 * Pins this process (the harness; `harnessIs` names what runs on its CPU, for the note) to CPU 1
 * and picks CPU 0 for the bridge, when taskset is there and the machine has two CPUs or more.
 */
export function pinHarness(harnessIs: string): Pinning {
  const machine = machineInfo();
  const tasksetBin = taskset();
  const canPin = tasksetBin !== null && machine.nproc >= 2;
  const harnessPinned = canPin && pinProcess(process.pid, 1);
  const bridgeCpu = canPin ? 0 : null;
  const note = !tasksetBin
    ? "taskset not found (util-linux): NOT pinned, the bridge and the harness share every CPU"
    : machine.nproc < 2
      ? "only one CPU: NOT pinned"
      : `bridge: taskset -c 0; ${harnessIs}: taskset -c 1 (${harnessPinned ? "applied" : "FAILED"})`;
  return { machine, tasksetBin, bridgeCpu, harnessPinned, note };
}

/** The pinning as the reports record it. */
export interface PinningReport {
  taskset: string | null;
  bridgeCpus: string;
  harnessCpus: string;
  note: string;
}

export function pinningReport(p: Pinning): PinningReport {
  return { taskset: p.tasksetBin, bridgeCpus: p.bridgeCpu === null ? "all" : String(p.bridgeCpu), harnessCpus: allowedCpus(process.pid), note: p.note };
}

let ticksPerSecond: number | undefined;

/** Clock ticks per second of /proc/<pid>/stat times (getconf CLK_TCK; 100 nearly everywhere). */
export function clockTicks(): number {
  if (ticksPerSecond !== undefined) return ticksPerSecond;
  try {
    ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    ticksPerSecond = 100;
  }
  return ticksPerSecond;
}

/** utime + stime of a process (all its threads), in ms; null if it is gone. */
export function cpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces; fields after its closing parenthesis are fixed.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / clockTicks();
  } catch {
    return null;
  }
}

export interface Memory {
  rssMb: number;
  peakRssMb: number;
}

/** Resident memory now and at its peak (VmRSS, VmHWM), in MB. */
export function memory(pid: number): Memory | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (key: string) => Number(/(\d+)\s*kB/.exec(status.split("\n").find((l) => l.startsWith(key)) ?? "")?.[1] ?? NaN);
    return { rssMb: round(kb("VmRSS:") / 1024, 1), peakRssMb: round(kb("VmHWM:") / 1024, 1) };
  } catch {
    return null;
  }
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Waits until a process has stopped using CPU: no tick for `quietMs` in a row (after the work it
 * was given is known to be done, so the CPU reading covers its follow-up work too).
 */
export async function waitCpuQuiet(pid: number, quietMs = 300, maxMs = 10_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  let last = cpuMs(pid);
  let quietSince = Date.now();
  while (Date.now() < deadline) {
    await sleep(50);
    const now = cpuMs(pid);
    if (now === null) return;
    if (now !== last) {
      last = now;
      quietSince = Date.now();
    } else if (Date.now() - quietSince >= quietMs) {
      return;
    }
  }
}

export interface CpuSample {
  /** Per CPU: busy and steal jiffies converted to ms, from /proc/stat. */
  busyMs: number[];
  stealMs: number[];
  at: number;
}

/** Busy time (user, nice, system, irq, softirq) and steal time of every CPU since boot. */
export function cpuSample(): CpuSample | null {
  try {
    const lines = readFileSync("/proc/stat", "utf8").split("\n").filter((l) => /^cpu\d+ /.test(l));
    const tick = 1000 / clockTicks();
    const busyMs: number[] = [];
    const stealMs: number[] = [];
    for (const line of lines) {
      const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
      busyMs.push(((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0)) * tick);
      stealMs.push((steal ?? 0) * tick);
    }
    return { busyMs, stealMs, at: Date.now() };
  } catch {
    return null;
  }
}

/** Per CPU: % of the interval it was busy, and % stolen by the hypervisor. */
export function cpuLoad(from: CpuSample, to: CpuSample): { busyPct: number[]; stealPct: number[]; ms: number } {
  const ms = Math.max(1, to.at - from.at);
  return {
    busyPct: to.busyMs.map((b, i) => round(((b - (from.busyMs[i] ?? 0)) / ms) * 100, 0)),
    stealPct: to.stealMs.map((s, i) => round(((s - (from.stealMs[i] ?? 0)) / ms) * 100, 0)),
    ms,
  };
}

/**
 * CPU time used on the machine by processes other than `ours`, in % of one CPU, over `ms`: how
 * much someone else's work competed with the benchmark.
 */
export async function foreignLoad(ours: number[], ms = 500): Promise<number> {
  const before = cpuSample();
  const ourBefore = ours.map((pid) => cpuMs(pid) ?? 0);
  await sleep(ms);
  const after = cpuSample();
  const ourAfter = ours.map((pid) => cpuMs(pid) ?? 0);
  if (!before || !after) return 0;
  const busy = after.busyMs.reduce((a, b) => a + b, 0) - before.busyMs.reduce((a, b) => a + b, 0);
  const own = ourAfter.reduce((a, b) => a + b, 0) - ourBefore.reduce((a, b) => a + b, 0);
  return round(Math.max(0, (busy - own) / (after.at - before.at)) * 100, 0);
}
