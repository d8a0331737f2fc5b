import { share } from "../../src/media/audio/goertzel.js";
import type { ToneDetection } from "./api.js";

/**
 * Goertzel (src/media/audio/goertzel.ts) over 50 ms blocks: for each frequency, its mean share of
 * the energy over the blocks that aren't silent, and how many of those it dominated. Used in the
 * page (bundled) on WebAudio samples and in Node on decoded µ-law. Block-wise on purpose: one
 * phase jump (Chromium's fake microphone is not sample-exact where it loops the WAV, a lost
 * packet) spoils a whole-buffer Goertzel but only one block here.
 *
 * `scale` maps the samples to 16-bit full scale (32767 for WebAudio's -1..1 floats).
 */
export function analyse(samples: ArrayLike<number>, rate: number, frequencies: number[], scale = 1): ToneDetection {
  const pcm = Float64Array.from({ length: samples.length }, (_, i) => samples[i]! * scale);
  const block = Math.round(rate / 20);
  const shares: Record<string, number> = {};
  const hits: Record<string, number> = {};
  for (const f of frequencies) {
    shares[f] = 0;
    hits[f] = 0;
  }
  let blocks = 0;
  let loudBlocks = 0;
  let energy = 0;
  for (const v of pcm) energy += v * v;
  for (let start = 0; start + block <= pcm.length; start += block) {
    blocks++;
    const slice = pcm.subarray(start, start + block);
    // Same threshold as hasTone(): peaks under about -40 dBFS count as silence.
    if (!slice.some((v) => Math.abs(v) > 300)) continue;
    loudBlocks++;
    for (const f of frequencies) {
      const s = share(slice, f, rate);
      shares[f]! += s;
      if (s >= 0.5) hits[f]!++;
    }
  }
  for (const f of frequencies) {
    shares[f] = loudBlocks ? shares[f]! / loudBlocks : 0;
    hits[f] = loudBlocks ? hits[f]! / loudBlocks : 0;
  }
  const rms = pcm.length ? Math.sqrt(energy / pcm.length) / 32767 : 0;
  return { shares, hits, rms, blocks, loudBlocks, rate };
}
