import { readFileSync } from "node:fs";
import { hasTone, share } from "../../../src/media/audio/goertzel.js";
import { PHONE_RATE } from "../../../src/media/audio/tones.js";

/** Helpers for the voice tests: the 2020 Media Streams capture, and listening to audio. */

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/**
 * The first message of each event Twilio sent in the real 2020 capture (twilio/media-streams
 * `connect-basic/output.txt`), parsed from its Node console format into JSON.
 */
export function captureMessages(): Record<string, JsonObject> {
  const url = new URL("../../fixtures/twilio-media-streams-connect-capture-2020.txt", import.meta.url);
  const text = readFileSync(url, "utf8");
  const found: Record<string, JsonObject> = {};
  const marker = /From Twilio: (\w+) event received:?\s*/g;
  for (let match = marker.exec(text); match; match = marker.exec(text)) {
    const event = match[1]!.toLowerCase();
    const start = text.indexOf("{", marker.lastIndex);
    let depth = 0;
    let end = start;
    for (; end < text.length; end++) {
      if (text[end] === "{") depth++;
      else if (text[end] === "}" && --depth === 0) break;
    }
    const literal = text.slice(start, end + 1);
    const json = literal
      .replace(/'((?:[^'\\]|\\.)*)'/g, (_whole, inner: string) => JSON.stringify(inner))
      .replace(/([{,]\s*)([A-Za-z_]\w*)\s*:/g, '$1"$2":');
    found[event] ??= JSON.parse(json) as JsonObject;
  }
  return found;
}

/** Every key path of a JSON object ("start.mediaFormat.encoding"), sorted: its shape. */
export function shapeOf(value: unknown, prefix = ""): string[] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return [];
  return Object.entries(value)
    .flatMap(([key, inner]) => {
      const path = prefix ? `${prefix}.${key}` : key;
      // customParameters are the application's own names.
      return path.endsWith("customParameters") ? [path] : [path, ...shapeOf(inner, path)];
    })
    .sort();
}

/** The tone dominates the (non-silent) audio. */
export const hears = (samples: Int16Array, frequency: number): boolean => hasTone(samples, frequency, PHONE_RATE);

/** Not even a fifth of the audio's energy is at this frequency, anywhere it is loud. */
export const free = (samples: Int16Array, frequency: number): boolean => !hasTone(samples, frequency, PHONE_RATE, 0.2);

/** The share of loud 50 ms blocks whose energy sits mostly at one of `frequencies`. */
export function blocksAt(samples: Int16Array, frequencies: readonly number[], threshold = 0.5): number {
  const block = PHONE_RATE / 20;
  let loud = 0;
  let hits = 0;
  for (let at = 0; at + block <= samples.length; at += block) {
    const slice = samples.subarray(at, at + block);
    if (!slice.some((v) => Math.abs(v) > 300)) continue;
    loud++;
    if (frequencies.some((f) => share(slice, f, PHONE_RATE) >= threshold)) hits++;
  }
  return loud === 0 ? 0 : hits / loud;
}

/** Whether the samples hold no sound at all. */
export const silent = (samples: Int16Array): boolean => samples.every((v) => Math.abs(v) < 300);
