/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time by function and by area (a
 * package under node_modules, a file of the bridge, node's internals), to name the hot spots.
 *
 *   npx tsx bench/messaging/profile-summary.ts <file.cpuprofile> [top]
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  totalMs: number;
  byFunction: { name: string; where: string; selfMs: number; pct: number }[];
  byArea: { area: string; selfMs: number; pct: number }[];
  /** Inclusive time of frames from the bridge's own files (build/...), by function. */
  bridgeInclusive: { name: string; where: string; totalMs: number; pct: number }[];
}

function areaOf(url: string, name: string): string {
  if (!url) return name.startsWith("(") ? name : "(native)";
  const modules = url.lastIndexOf("node_modules/");
  if (modules >= 0) {
    const rest = url.slice(modules + "node_modules/".length).split("/");
    return `npm:${rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/")[0]}`;
  const build = url.indexOf("/build/");
  if (build >= 0) return `bridge:${url.slice(build + 7)}`;
  return url;
}

function shortWhere(url: string, line: number): string {
  if (!url) return "";
  const modules = url.lastIndexOf("node_modules/");
  const tail = modules >= 0 ? url.slice(modules + "node_modules/".length) : url.includes("/build/") ? url.slice(url.indexOf("/build/") + 1) : url;
  return `${tail.replace(/^file:\/\//, "")}:${line + 1}`;
}

export function summarise(file: string, top = 30): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  let total = 0;
  const fn = new Map<string, { name: string; where: string; us: number }>();
  const area = new Map<string, number>();
  const bridgeTotal = new Map<string, { name: string; where: string; us: number }>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === "(idle)" || functionName === "(program)") continue;
    total += us;
    const name = functionName || "(anonymous)";
    const where = shortWhere(url, lineNumber);
    const key = `${name} ${where}`;
    const entry = fn.get(key) ?? { name, where, us: 0 };
    entry.us += us;
    fn.set(key, entry);
    const a = areaOf(url, functionName);
    area.set(a, (area.get(a) ?? 0) + us);
    // Inclusive time of the bridge's own frames on this sample's stack (each counted once).
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur)!.callFrame;
      if (!frame.url.includes("/build/")) continue;
      const fname = frame.functionName || "(anonymous)";
      const fwhere = shortWhere(frame.url, frame.lineNumber);
      const fkey = `${fname} ${fwhere}`;
      if (seen.has(fkey)) continue;
      seen.add(fkey);
      const e = bridgeTotal.get(fkey) ?? { name: fname, where: fwhere, us: 0 };
      e.us += us;
      bridgeTotal.set(fkey, e);
    }
  }
  const ms = (us: number) => Math.round(us / 100) / 10;
  const pct = (us: number) => Math.round((us / total) * 1000) / 10;
  return {
    totalMs: ms(total),
    byFunction: [...fn.values()].sort((a, b) => b.us - a.us).slice(0, top).map((e) => ({ name: e.name, where: e.where, selfMs: ms(e.us), pct: pct(e.us) })),
    byArea: [...area.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([a, us]) => ({ area: a, selfMs: ms(us), pct: pct(us) })),
    bridgeInclusive: [...bridgeTotal.values()].sort((a, b) => b.us - a.us).slice(0, top).map((e) => ({ name: e.name, where: e.where, totalMs: ms(e.us), pct: pct(e.us) })),
  };
}

export function formatSummary(summary: ProfileSummary): string {
  const lines = [`busy CPU in the profile: ${summary.totalMs} ms`, "", "self time by area:"];
  for (const a of summary.byArea) lines.push(`  ${a.pct.toFixed(1).padStart(5)}%  ${a.selfMs.toFixed(0).padStart(7)} ms  ${a.area}`);
  lines.push("", "self time by function:");
  for (const f of summary.byFunction) lines.push(`  ${f.pct.toFixed(1).padStart(5)}%  ${f.selfMs.toFixed(0).padStart(7)} ms  ${f.name}  ${f.where}`);
  lines.push("", "inclusive time of the bridge's own functions (build/ → src/):");
  for (const f of summary.bridgeInclusive) lines.push(`  ${f.pct.toFixed(1).padStart(5)}%  ${f.totalMs.toFixed(0).padStart(7)} ms  ${f.name}  ${f.where}`);
  return lines.join("\n");
}

if (import.meta.url === pathToFileURL(path.resolve(process.argv[1] ?? "")).href) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write("usage: tsx bench/messaging/profile-summary.ts <file.cpuprofile> [top]\n");
    process.exit(2);
  }
  process.stdout.write(formatSummary(summarise(file, Number(process.argv[3] ?? 30))) + "\n");
}
