import alawmulaw from "alawmulaw";

/**
 * Audio the bridge and its tests make: pure tones, DTMF pairs, the ringback cadence, as 16-bit
 * PCM or as the 8 kHz µ-law that phone networks (and Twilio's Media Streams) carry. µ-law coding
 * is alawmulaw's, not ours.
 */

export const PHONE_RATE = 8000;
/** One Media Streams frame: 20 ms of 8 kHz µ-law. */
export const FRAME_SAMPLES = 160;

/** `ms` of a sum of sine waves (equal parts), at `rate`, peak `amplitude` of full scale. */
export function tone(frequencies: number[], ms: number, options: { rate?: number; amplitude?: number; phase?: number } = {}): Int16Array {
  const rate = options.rate ?? PHONE_RATE;
  const amplitude = (options.amplitude ?? 0.4) * 32767;
  const count = Math.round((rate * ms) / 1000);
  const start = options.phase ?? 0;
  const out = new Int16Array(count);
  for (let i = 0; i < count; i++) {
    let value = 0;
    for (const f of frequencies) value += Math.sin((2 * Math.PI * f * (start + i)) / rate);
    out[i] = Math.round((value / frequencies.length) * amplitude);
  }
  return out;
}

export const silence = (ms: number, rate = PHONE_RATE): Int16Array => new Int16Array(Math.round((rate * ms) / 1000));

const DTMF: Record<string, [number, number]> = {
  "1": [697, 1209], "2": [697, 1336], "3": [697, 1477], A: [697, 1633],
  "4": [770, 1209], "5": [770, 1336], "6": [770, 1477], B: [770, 1633],
  "7": [852, 1209], "8": [852, 1336], "9": [852, 1477], C: [852, 1633],
  "*": [941, 1209], "0": [941, 1336], "#": [941, 1477], D: [941, 1633],
};

/** The two frequencies of a DTMF key, or undefined for anything that isn't a key. */
export const dtmfFrequencies = (digit: string): [number, number] | undefined => DTMF[digit.toUpperCase()];

/** A key press as the phone network hears it: the key's two tones, then a pause. */
export function dtmf(digit: string, ms = 160, gapMs = 60, rate = PHONE_RATE): Int16Array {
  const pair = dtmfFrequencies(digit);
  if (!pair) return silence(ms + gapMs, rate);
  return concat([tone(pair, ms, { rate, amplitude: 0.5 }), silence(gapMs, rate)]);
}

/** North American ringback: 440 + 480 Hz, 2 s on, 4 s off, starting at `offsetMs` into the cycle. */
export function ringback(ms: number, offsetMs = 0, rate = PHONE_RATE): Int16Array {
  const out = new Int16Array(Math.round((rate * ms) / 1000));
  const cycle = 6 * rate;
  const on = 2 * rate;
  const start = Math.round((rate * offsetMs) / 1000);
  for (let i = 0; i < out.length; i++) {
    const t = start + i;
    if (t % cycle < on) out[i] = Math.round(((Math.sin((2 * Math.PI * 440 * t) / rate) + Math.sin((2 * Math.PI * 480 * t) / rate)) / 2) * 0.3 * 32767);
  }
  return out;
}

export function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export const toMulaw = (pcm: Int16Array): Buffer => Buffer.from(alawmulaw.mulaw.encode(pcm));
export const fromMulaw = (mulaw: Uint8Array): Int16Array => alawmulaw.mulaw.decode(mulaw);

/** Splits µ-law audio into 20 ms frames (the last one padded with µ-law silence, 0xff). */
export function frames(mulaw: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < mulaw.length; i += FRAME_SAMPLES) {
    const frame = Buffer.alloc(FRAME_SAMPLES, 0xff);
    mulaw.copy(frame, 0, i, Math.min(i + FRAME_SAMPLES, mulaw.length));
    out.push(frame);
  }
  return out;
}
