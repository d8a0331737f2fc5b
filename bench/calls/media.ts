/**
 * The audio the benchmark sends and how each frame is followed: every 20 ms µ-law frame (160
 * bytes) carries a tag in its first 9 bytes (a magic, the direction, the call's slot and a
 * sequence number; the rest is a tone), so the far side knows which frame it got. The bridge
 * forwards µ-law payloads untouched, so the tag arrives intact. Send and receive times are
 * performance.now() in this one process.
 *
 * One clock (`FrameClock`) paces every call, both sides: a single timer ticking every 2 ms, each
 * call side assigned to one of ten 2 ms phases of the 20 ms period, so frames of many calls are
 * spread over the period as independent phones would spread them, not sent in one burst.
 */
import { performance } from "node:perf_hooks";
import { FRAME_SAMPLES, toMulaw, tone } from "../../src/media/audio/tones.js";

export const FRAME_MS = 20;
export const FRAME_BYTES = FRAME_SAMPLES;
const MAGIC_0 = 0xb1;
const MAGIC_1 = 0x7e;
export const TAG_BYTES = 9;

export type Direction = "phoneToMatrix" | "matrixToPhone";
const DIRECTION_CODE: Record<Direction, number> = { phoneToMatrix: 1, matrixToPhone: 2 };

/** 20 ms of a 440 Hz tone in µ-law: the body of every frame after the tag. */
const BODY = toMulaw(tone([440], FRAME_MS, { amplitude: 0.3 }));

/** A tagged frame: magic, direction, call slot (uint16), sequence number (uint32), then the tone. */
export function taggedFrame(direction: Direction, slot: number, seq: number): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_BYTES);
  BODY.copy(frame, 0, 0, FRAME_BYTES);
  frame[0] = MAGIC_0;
  frame[1] = MAGIC_1;
  frame[2] = DIRECTION_CODE[direction];
  frame.writeUInt16BE(slot & 0xffff, 3);
  frame.writeUInt32BE(seq >>> 0, 5);
  return frame;
}

/** Reads a tag (the first 9 bytes); null when the bytes are not one of our frames (ringback, tones). */
export function readTag(bytes: Uint8Array): { direction: Direction; slot: number; seq: number } | null {
  if (bytes.length < TAG_BYTES || bytes[0] !== MAGIC_0 || bytes[1] !== MAGIC_1) return null;
  const code = bytes[2];
  const direction: Direction | null = code === 1 ? "phoneToMatrix" : code === 2 ? "matrixToPhone" : null;
  if (!direction) return null;
  const slot = (bytes[3]! << 8) | bytes[4]!;
  const seq = ((bytes[5]! << 24) | (bytes[6]! << 16) | (bytes[7]! << 8) | bytes[8]!) >>> 0;
  return { direction, slot, seq };
}

/** Send and receive time of every frame of one direction of one call, by sequence number. */
export class FrameLog {
  sent = new Float64Array(1024).fill(NaN);
  received = new Float64Array(1024).fill(NaN);
  /** How many frames were sent (the next sequence number). */
  count = 0;
  duplicates = 0;
  /** Frames with a sequence number never sent (corrupted tags, or another call's frames). */
  strangers = 0;
  firstReceivedAt = NaN;

  /** Records a send; returns the frame's sequence number. */
  markSent(at: number): number {
    const seq = this.count++;
    if (seq >= this.sent.length) this.grow();
    this.sent[seq] = at;
    return seq;
  }

  markReceived(seq: number, at: number): void {
    if (seq >= this.count) {
      this.strangers++;
      return;
    }
    if (!Number.isNaN(this.received[seq]!)) {
      this.duplicates++;
      return;
    }
    this.received[seq] = at;
    if (Number.isNaN(this.firstReceivedAt)) this.firstReceivedAt = at;
  }

  private grow(): void {
    const sent = new Float64Array(this.sent.length * 2).fill(NaN);
    const received = new Float64Array(this.sent.length * 2).fill(NaN);
    sent.set(this.sent);
    received.set(this.received);
    this.sent = sent;
    this.received = received;
  }
}

export interface WindowStats {
  sent: number;
  received: number;
  lost: number;
  late: number;
  /** Late frames during whose trip the harness's clock kept time (every tick ≤ `onTimeMs` late): the bridge's doing. */
  lateHarnessOnTime: number;
  /** Latencies of the frames during whose trip the harness's clock kept time. */
  latenciesHarnessOnTime: number[];
  /** One-way latency of each received frame sent in the window (ms). */
  latencies: number[];
  duplicates: number;
  strangers: number;
}

/**
 * Frames sent in [from, to): how many arrived, how many late (latency > lateMs), their latencies;
 * and the same for the frames whose trip the harness (this process) did not delay: every tick of
 * its clock between the send and the receipt ran ≤ `onTimeMs` late, so the harness polled its
 * sockets all along and the frame cannot have waited in it for longer than that.
 */
export function windowStats(logs: FrameLog[], from: number, to: number, lateMs: number, ticks: TickLog, onTimeMs: number): WindowStats {
  const out: WindowStats = { sent: 0, received: 0, lost: 0, late: 0, lateHarnessOnTime: 0, latenciesHarnessOnTime: [], latencies: [], duplicates: 0, strangers: 0 };
  for (const log of logs) {
    out.duplicates += log.duplicates;
    out.strangers += log.strangers;
    for (let seq = 0; seq < log.count; seq++) {
      const sent = log.sent[seq]!;
      if (!(sent >= from && sent < to)) continue;
      out.sent++;
      const received = log.received[seq]!;
      if (Number.isNaN(received)) {
        out.lost++;
        continue;
      }
      out.received++;
      const latency = received - sent;
      out.latencies.push(latency);
      if (latency > lateMs) out.late++;
      if (ticks.worstLag(sent, received) <= onTimeMs) {
        out.latenciesHarnessOnTime.push(latency);
        if (latency > lateMs) out.lateHarnessOnTime++;
      }
    }
  }
  return out;
}

/** Something that sends one frame every 20 ms on the shared clock. */
export interface FrameSource {
  /** Called once per 20 ms in this source's phase; `due` is when the frame was due (performance.now()). */
  tick(due: number): void;
}

/** When each tick of the clock was due and how late it ran (ms), in order. */
export class TickLog {
  due: number[] = [];
  lag: number[] = [];

  /** The worst lateness of the ticks due in [from, to]. */
  worstLag(from: number, to: number): number {
    let lo = 0;
    let hi = this.due.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.due[mid]! < from) lo = mid + 1;
      else hi = mid;
    }
    let worst = 0;
    for (let i = lo; i < this.due.length && this.due[i]! <= to; i++) worst = Math.max(worst, this.lag[i]!);
    return worst;
  }
}

const SLOTS = 10;
const STEP_MS = FRAME_MS / SLOTS;
/** Behind by more than this, the clock stops catching up (frames are skipped, and counted). */
const MAX_CATCH_UP_MS = 100;

/**
 * One timer for every call: every 2 ms it runs the sources of the current phase (one in ten), so
 * each source ticks every 20 ms. A late timer is caught up (sources run for every missed phase,
 * in order) up to 100 ms; after a longer stall the missed ticks are skipped and counted.
 */
export class FrameClock {
  private readonly slots: Set<FrameSource>[] = Array.from({ length: SLOTS }, () => new Set());
  private timer: NodeJS.Timeout | null = null;
  private nextDue = 0;
  private k = 0;
  private ticks = new TickLog();
  skippedTicks = 0;
  private count = 0;

  /** Adds a source in phase `phase` (any integer; taken modulo 10); returns its removal. */
  add(source: FrameSource, phase: number): () => void {
    const slot = this.slots[((phase % SLOTS) + SLOTS) % SLOTS]!;
    slot.add(source);
    this.count++;
    if (!this.timer) this.start();
    return () => {
      if (slot.delete(source)) this.count--;
      if (this.count === 0) this.stop();
    };
  }

  /** Every tick since the last call (when due, how late), and starts a new log. */
  takeTicks(): TickLog {
    const ticks = this.ticks;
    this.ticks = new TickLog();
    return ticks;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private start(): void {
    this.nextDue = performance.now() + STEP_MS;
    this.timer = setTimeout(this.run, STEP_MS);
  }

  private readonly run = (): void => {
    const now = performance.now();
    if (now - this.nextDue > MAX_CATCH_UP_MS) {
      const missed = Math.floor((now - this.nextDue) / STEP_MS);
      this.skippedTicks += missed;
      this.k += missed;
      this.nextDue += missed * STEP_MS;
    }
    while (this.nextDue <= now) {
      const sources = this.slots[this.k % SLOTS]!;
      this.ticks.due.push(this.nextDue);
      this.ticks.lag.push(performance.now() - this.nextDue);
      for (const source of sources) source.tick(this.nextDue);
      this.k++;
      this.nextDue += STEP_MS;
    }
    if (this.count > 0) this.timer = setTimeout(this.run, Math.max(0, this.nextDue - performance.now()));
    else this.timer = null;
  };
}
