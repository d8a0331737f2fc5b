/** 16-bit mono PCM WAV files: Chromium's fake microphone plays them; voicemail recordings are them. */
export function encodeWav(samples: Int16Array, rate: number): Buffer {
  const data = Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
  const header = Buffer.alloc(44);
  header.write("RIFF", 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write("WAVE", 8);
  header.write("fmt ", 12);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write("data", 36);
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

/** Reads a 16-bit PCM WAV (mono, or the first channel of stereo). */
export function decodeWav(file: Buffer): { samples: Int16Array; rate: number } {
  if (file.toString("ascii", 0, 4) !== "RIFF" || file.toString("ascii", 8, 12) !== "WAVE") throw new Error("not a WAV file");
  let offset = 12;
  let rate = 0;
  let channels = 1;
  while (offset + 8 <= file.length) {
    const id = file.toString("ascii", offset, offset + 4);
    const size = file.readUInt32LE(offset + 4);
    if (id === "fmt ") {
      if (file.readUInt16LE(offset + 8) !== 1 || file.readUInt16LE(offset + 22) !== 16) throw new Error("only 16-bit PCM WAV is supported");
      channels = file.readUInt16LE(offset + 10);
      rate = file.readUInt32LE(offset + 12);
    } else if (id === "data") {
      const frames = Math.floor(size / (2 * channels));
      const samples = new Int16Array(frames);
      for (let i = 0; i < frames; i++) samples[i] = file.readInt16LE(offset + 8 + i * 2 * channels);
      return { samples, rate };
    }
    offset += 8 + size + (size % 2);
  }
  throw new Error("WAV file without data");
}
