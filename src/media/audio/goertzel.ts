/**
 * The Goertzel algorithm: how strongly one frequency is present in a block of samples, far
 * cheaper than an FFT when only a few frequencies matter (is the test tone there? which DTMF key?).
 */
export function power(samples: ArrayLike<number>, frequency: number, rate: number): number {
  const n = samples.length;
  if (n === 0) return 0;
  // The exact frequency, not the nearest FFT bin: DTMF tones fall between bins of short blocks.
  const w = (2 * Math.PI * frequency) / rate;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const s0 = samples[i]! + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const magnitude = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  // Normalised so a full-scale sine at `frequency` gives about 1 whatever the block length.
  return magnitude / ((n * n) / 4) / (32768 * 32768);
}

/** Share of the block's energy at `frequency` (0..1): robust to the signal's loudness. */
export function share(samples: ArrayLike<number>, frequency: number, rate: number): number {
  let energy = 0;
  for (let i = 0; i < samples.length; i++) energy += samples[i]! * samples[i]!;
  if (energy === 0) return 0;
  const mean = energy / samples.length / (32768 * 32768);
  return Math.min(1, power(samples, frequency, rate) / (2 * mean));
}

/**
 * Whether a tone is the dominant content of the audio: it carries at least `threshold` of the
 * energy in most of the 50 ms blocks that aren't silent.
 */
export function hasTone(samples: ArrayLike<number>, frequency: number, rate: number, threshold = 0.5): boolean {
  const block = Math.round(rate / 20);
  let blocks = 0;
  let hits = 0;
  for (let start = 0; start + block <= samples.length; start += block) {
    const slice = Array.prototype.slice.call(samples, start, start + block) as number[];
    const loud = slice.some((v) => Math.abs(v) > 300);
    if (!loud) continue;
    blocks++;
    if (share(slice, frequency, rate) >= threshold) hits++;
  }
  return blocks > 0 && hits / blocks >= 0.6;
}
