import type { Clock } from "../../../../clock.js";
import { share } from "../../../../media/audio/goertzel.js";
import { concat, dtmfFrequencies, FRAME_SAMPLES, PHONE_RATE, silence, tone } from "../../../../media/audio/tones.js";

/**
 * Audio on the simulated phone network: everything is 8 kHz 16-bit mono PCM moved in 20 ms frames
 * (160 samples) by one ticker, the pace of a real call. A call's handset side has a microphone
 * (a tone, key presses, or a browser's audio) and an earpiece (everything played to it, kept so
 * tests can listen, with a DTMF detector running over it).
 */

export const FRAME_MS = 20;
export const SILENT_FRAME: Int16Array = new Int16Array(FRAME_SAMPLES);

/** What `<Say>` sounds like: syllables alternating between these two pitches. */
export const SAY_FREQUENCIES = [600, 900] as const;
/** Milliseconds of `<Say>` audio per character of text (about 15 characters a second). */
export const SAY_MS_PER_CHARACTER = 60;
/** The `<Record playBeep>` beep: 250 ms at this pitch. */
export const BEEP_FREQUENCY = 1400;
export const BEEP_MS = 250;
/** How long a pressed key sounds, and the pause after it, in the handset's microphone audio. */
export const KEY_TONE_MS = 100;
export const KEY_GAP_MS = 60;

/** Samples this loud or louder are sound; below, silence (for `<Record timeout>` and trimming). */
const SILENCE_PEAK = 300;

export function isSilent(frame: Int16Array): boolean {
  for (let i = 0; i < frame.length; i++) if (Math.abs(frame[i]!) >= SILENCE_PEAK) return false;
  return true;
}

/** The audio of `<Say>` for `text`: a recognisable two-pitch pattern, 60 ms per character. */
export function sayAudio(text: string): Int16Array {
  const ms = Math.max(400, text.length * SAY_MS_PER_CHARACTER);
  const syllableMs = 100;
  const parts: Int16Array[] = [];
  for (let at = 0, i = 0; at < ms; at += syllableMs, i++) {
    const frequency = SAY_FREQUENCIES[i % SAY_FREQUENCIES.length]!;
    parts.push(tone([frequency], 90, { amplitude: 0.35 }), silence(10));
  }
  return concat(parts);
}

export const beepAudio = (): Int16Array => tone([BEEP_FREQUENCY], BEEP_MS, { amplitude: 0.4 });

/** A key as `<Play digits>` and the handset's keypad sound it. */
export function keyAudio(digit: string): Int16Array {
  const pair = dtmfFrequencies(digit);
  return concat([pair ? tone(pair, KEY_TONE_MS, { amplitude: 0.5 }) : silence(KEY_TONE_MS), silence(KEY_GAP_MS)]);
}

/** Reads PCM out in frames; the last frame is padded with silence. */
export class PcmReader {
  #at = 0;
  constructor(private readonly pcm: Int16Array) {}

  get done(): boolean {
    return this.#at >= this.pcm.length;
  }

  next(): Int16Array {
    const frame = new Int16Array(FRAME_SAMPLES);
    frame.set(this.pcm.subarray(this.#at, this.#at + FRAME_SAMPLES));
    this.#at += FRAME_SAMPLES;
    return frame;
  }
}

/**
 * One 20 ms clock for every connected call, drift-compensated against `clock.now()`: a tick
 * that fires late is made up by running the missed ticks at once, up to 100 ms; after a longer
 * stall the ticker starts counting again rather than bursting.
 */
export class AudioTicker {
  readonly #clock: Clock;
  readonly #tasks = new Set<() => void>();
  #timer: unknown = undefined;
  #next = 0;
  #onError: (err: unknown) => void;

  constructor(clock: Clock, onError: (err: unknown) => void) {
    this.#clock = clock;
    this.#onError = onError;
  }

  /** Runs `task` every 20 ms until the returned function is called. */
  add(task: () => void): () => void {
    this.#tasks.add(task);
    if (this.#timer === undefined) {
      this.#next = this.#clock.now() + FRAME_MS;
      this.#schedule();
    }
    return () => {
      this.#tasks.delete(task);
      if (this.#tasks.size === 0) this.stop();
    };
  }

  stop(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  clear(): void {
    this.#tasks.clear();
    this.stop();
  }

  #schedule(): void {
    this.#timer = this.#clock.setTimeout(() => this.#tick(), Math.max(0, this.#next - this.#clock.now()));
  }

  #tick(): void {
    this.#timer = undefined;
    const now = this.#clock.now();
    if (now - this.#next > 100) this.#next = now;
    let runs = 0;
    while (this.#next <= now && runs < 6 && this.#tasks.size > 0) {
      for (const task of [...this.#tasks]) {
        try {
          task();
        } catch (err) {
          this.#onError(err);
        }
      }
      this.#next += FRAME_MS;
      runs++;
    }
    if (this.#tasks.size > 0) this.#schedule();
  }
}

const DTMF_ROWS = [697, 770, 852, 941] as const;
const DTMF_COLUMNS = [1209, 1336, 1477, 1633] as const;
const DTMF_KEYS = ["123A", "456B", "789C", "*0#D"] as const;

/**
 * Finds DTMF keys in a stream of audio: Goertzel over 40 ms windows every 20 ms; a key counts when
 * one row and one column tone carry most of the energy in two windows running, and again only
 * after a window without it.
 */
export class DtmfDetector {
  #previous: Int16Array = new Int16Array(0);
  #candidate = "";
  #run = 0;
  #reported = false;
  keys = "";

  /** Feeds one 20 ms frame. Returns the key detected at this frame, if any. */
  push(frame: Int16Array): string | undefined {
    const window = this.#previous.length > 0 ? concat([this.#previous, frame]) : frame;
    this.#previous = frame;
    const key = detectKey(window);
    if (key === undefined || key !== this.#candidate) {
      this.#candidate = key ?? "";
      this.#run = key === undefined ? 0 : 1;
      this.#reported = false;
      return undefined;
    }
    this.#run += 1;
    if (this.#run >= 2 && !this.#reported) {
      this.#reported = true;
      this.keys += key;
      return key;
    }
    return undefined;
  }
}

/** The DTMF key that dominates `samples`, if one does. */
export function detectKey(samples: Int16Array): string | undefined {
  let energy = 0;
  for (let i = 0; i < samples.length; i++) energy += samples[i]! * samples[i]!;
  if (energy / samples.length < 150 * 150) return undefined;
  const strongest = (frequencies: readonly number[]): { index: number; best: number; second: number } => {
    const shares = frequencies.map((f) => share(samples, f, PHONE_RATE));
    let index = 0;
    for (let i = 1; i < shares.length; i++) if (shares[i]! > shares[index]!) index = i;
    const second = Math.max(...shares.filter((_, i) => i !== index));
    return { index, best: shares[index]!, second };
  };
  const row = strongest(DTMF_ROWS);
  const column = strongest(DTMF_COLUMNS);
  if (row.best < 0.2 || column.best < 0.2 || row.best + column.best < 0.6) return undefined;
  if (row.second > row.best * 0.3 || column.second > column.best * 0.3) return undefined;
  return DTMF_KEYS[row.index]![column.index];
}

/** Keeps at most this much earpiece audio per call (ten minutes); older audio is dropped. */
const EARPIECE_LIMIT = 10 * 60 * PHONE_RATE;

/** Everything played into a handset's earpiece during one call, and the keys heard in it. */
export class Earpiece {
  #chunks: Int16Array[] = [];
  #kept = 0;
  #dropped = 0;
  readonly #detector = new DtmfDetector();
  readonly #listeners = new Set<(frame: Int16Array) => void>();

  /** Samples heard since the call connected (including any dropped for the size limit). */
  get length(): number {
    return this.#dropped + this.#kept;
  }

  get keys(): string {
    return this.#detector.keys;
  }

  write(frame: Int16Array): void {
    this.#chunks.push(frame);
    this.#kept += frame.length;
    while (this.#kept > EARPIECE_LIMIT) {
      const oldest = this.#chunks.shift();
      if (!oldest) break;
      this.#kept -= oldest.length;
      this.#dropped += oldest.length;
    }
    this.#detector.push(frame);
    for (const listener of this.#listeners) listener(frame);
  }

  /** Calls `listener` with every frame from now on; returns the unsubscribe. */
  tap(listener: (frame: Int16Array) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The audio from sample `from` (counted since the call connected) to now. */
  since(from: number): Int16Array {
    const all = concat(this.#chunks);
    return all.slice(Math.max(0, from - this.#dropped));
  }
}
