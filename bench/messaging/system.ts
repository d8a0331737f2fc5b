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
