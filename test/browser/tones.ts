import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { tone } from "../../src/media/audio/tones.js";
import { encodeWav } from "../../src/media/audio/wav.js";

/**
 * The tones the browser tests play and listen for. Each party gets its own frequency, well apart
 * from the others and from their first harmonics, so "A hears B" can't be confused with an echo
 * of A or with codec distortion. None of them is a DTMF row or column frequency.
 */
export const TONES = {
  /** The first browser user's microphone (the caller in most tests). */
  browserA: 600,
  /** A second browser user's microphone. */
  browserB: 900,
  /** What the Node (werift / bridge) side sends. */
  node: 1000,
} as const;

/** Sample rate of the fake-microphone WAV; Chromium resamples it to its capture rate. */
export const WAV_RATE = 48_000;
/**
 * Length of the WAV. Chromium loops `--use-file-for-fake-audio-capture` files (checked: a 1 s
 * file kept playing for as long as the call lasted). 4 s of 600/900/1000 Hz is a whole number of
 * periods, yet the loop point still shows a phase jump (Chromium's loop isn't sample-exact), so
 * analyse tones block-wise (analyse.ts), never with one Goertzel over several seconds.
 */
export const WAV_SECONDS = 4;

/** Writes a 16-bit mono PCM WAV of a pure `hz` sine (at 0.5 of full scale) and returns its path. */
export function writeToneWav(dir: string, hz: number, seconds = WAV_SECONDS): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `tone-${hz}hz.wav`);
  writeFileSync(file, encodeWav(tone([hz], seconds * 1000, { rate: WAV_RATE, amplitude: 0.5 }), WAV_RATE));
  return file;
}

/** The frequencies a detector should look at: the expected one and every other test tone. */
export function probeFrequencies(): number[] {
  return [...new Set<number>(Object.values(TONES))].sort((a, b) => a - b);
}
