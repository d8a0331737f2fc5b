/**
 * Load generation and bookkeeping: a keep-alive HTTP client, closed-loop (bounded concurrency)
 * and open-loop (fixed rate) drivers, a tracker that pairs each text's send time with its arrival
 * time on the far side, and percentiles.
 */
import { Agent, request } from "node:http";
import { performance } from "node:perf_hooks";

/** Wall-clock milliseconds with sub-millisecond resolution (comparable to origin_server_ts). */
export const now = (): number => performance.timeOrigin + performance.now();

/** Converts a performance.now() reading to the `now()` clock. */
export const fromPerf = (t: number): number => performance.timeOrigin + t;

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

export interface HttpResult {
  status: number;
  body: string;
}

/** One HTTP request over kept-alive connections; never rejects for HTTP statuses. */
export function httpCall(url: string, options: { method: string; headers?: Record<string, string>; body?: string }): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...options.headers };
    if (options.body !== undefined) headers["content-length"] = Buffer.byteLength(options.body);
    const req = request(url, { method: options.method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

export function closeHttp(): void {
  agent.destroy();
}

export interface DriveResult {
  /** now() when the first text was fired and when the last firing call returned. */
  firstAt: number;
  lastFiredAt: number;
  /** Open loop only: the worst delay between a text's scheduled time and its firing. */
  maxLagMs: number;
  errors: number;
}

/** Fires `count` texts with at most `concurrency` in flight (each waits for its request). */
export async function closedLoop(count: number, concurrency: number, fire: (i: number) => Promise<void>): Promise<DriveResult> {
  let next = 0;
  let errors = 0;
  const firstAt = now();
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      try {
        await fire(i);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { firstAt, lastFiredAt: now(), maxLagMs: 0, errors };
}

/**
 * Fires `count` texts at `rate` per second on schedule, whatever the answers do (open loop, so a
 * slow answer never delays the next text and latencies are not understated).
 */
export async function openLoop(count: number, rate: number, fire: (i: number) => Promise<void>): Promise<DriveResult> {
  const intervalMs = 1000 / rate;
  const start = performance.now();
  const inFlight: Promise<void>[] = [];
  let errors = 0;
  let maxLagMs = 0;
  let fired = 0;
  while (fired < count) {
    const elapsed = performance.now() - start;
    while (fired < count && fired * intervalMs <= elapsed) {
      maxLagMs = Math.max(maxLagMs, elapsed - fired * intervalMs);
      inFlight.push(
        fire(fired).catch(() => {
          errors++;
        }),
      );
      fired++;
    }
    if (fired >= count) break;
    const wait = fired * intervalMs - (performance.now() - start);
    await new Promise((resolve) => (wait > 1.5 ? setTimeout(resolve, Math.floor(wait - 0.5)) : setImmediate(resolve)));
  }
  const lastFiredAt = now();
  await Promise.all(inFlight);
  return { firstAt: performance.timeOrigin + start, lastFiredAt, maxLagMs, errors };
}

/**
 * Pairs sends with arrivals by marker (the text's body). Times are `now()` milliseconds, or any
 * clock, as long as sends and arrivals use the same one.
 */
export class Tracker {
  private readonly sent = new Map<string, number>();
  private readonly arrived = new Map<string, number>();
  private waiters: (() => void)[] = [];
  /** How long the receiving side took to acknowledge each request (webhook, transaction, send), ms. */
  readonly acks: number[] = [];
  lastArrival = 0;

  constructor(readonly expected: number) {}

  markSent(marker: string, at: number): void {
    this.sent.set(marker, at);
  }

  markArrived(marker: string, at: number): void {
    if (!this.sent.has(marker) || this.arrived.has(marker)) return;
    this.arrived.set(marker, at);
    this.lastArrival = Math.max(this.lastArrival, at);
    if (this.arrived.size >= this.expected) for (const wake of this.waiters.splice(0)) wake();
  }

  ack(ms: number): void {
    this.acks.push(ms);
  }

  get arrivedCount(): number {
    return this.arrived.size;
  }

  /** Resolves true once every expected text arrived, false on timeout. */
  waitAll(timeoutMs: number): Promise<boolean> {
    if (this.arrived.size >= this.expected) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  latencies(): number[] {
    const out: number[] = [];
    for (const [marker, at] of this.arrived) out.push(at - this.sent.get(marker)!);
    return out;
  }
}

export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles, in ms, rounded to 0.01. */
export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { count: 0, p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  const r = (v: number) => Math.round(v * 100) / 100;
  return {
    count: sorted.length,
    p50: r(at(50)),
    p90: r(at(90)),
    p99: r(at(99)),
    max: r(sorted[sorted.length - 1]!),
    mean: r(sorted.reduce((a, b) => a + b, 0) / sorted.length),
  };
}
