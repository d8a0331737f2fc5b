import { describe, expect, it } from "vitest";
import { hasTone, share } from "../../src/media/audio/goertzel.js";
import { concat, dtmf, frames, fromMulaw, ringback, silence, tone, toMulaw } from "../../src/media/audio/tones.js";
import { decodeWav, encodeWav } from "../../src/media/audio/wav.js";

describe("audio", () => {
  it("detects the tone that is there and not others, through µ-law", () => {
    const heard = fromMulaw(toMulaw(tone([600], 500)));
    expect(hasTone(heard, 600, 8000)).toBe(true);
    expect(hasTone(heard, 1000, 8000)).toBe(false);
    expect(share(heard, 600, 8000)).toBeGreaterThan(0.8);
  });

  it("finds both tones of a DTMF key and nothing in silence", () => {
    const key = dtmf("5");
    expect(hasTone(key, 770, 8000, 0.3)).toBe(true);
    expect(hasTone(key, 1336, 8000, 0.3)).toBe(true);
    expect(hasTone(key, 697, 8000, 0.3)).toBe(false);
    expect(hasTone(silence(200), 770, 8000)).toBe(false);
  });

  it("ringback is 2 s of 440+480 Hz then 4 s of silence", () => {
    const six = ringback(6000);
    expect(hasTone(six.subarray(0, 16000), 440, 8000, 0.3)).toBe(true);
    expect(six.subarray(16000).every((v) => v === 0)).toBe(true);
  });

  it("frames µ-law audio into 160-byte pieces", () => {
    const parts = frames(toMulaw(concat([tone([440], 50)])));
    expect(parts.map((p) => p.length)).toEqual([160, 160, 160]);
  });

  it("writes and reads WAV", () => {
    const samples = tone([440], 100, { rate: 48000 });
    const back = decodeWav(encodeWav(samples, 48000));
    expect(back.rate).toBe(48000);
    expect(Array.from(back.samples)).toEqual(Array.from(samples));
  });
});
