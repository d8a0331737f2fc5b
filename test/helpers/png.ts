import { randomBytes } from "node:crypto";
import { crc32, deflateSync } from "node:zlib";

/**
 * A real, decodable RGB PNG, so image dimensions can be read from it. Pixels are one flat grey
 * level (0 by default), or "noise" so it doesn't compress to nothing.
 */
export function png(width: number, height: number, fill: number | "noise" = 0): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit depth, truecolour, deflate, no filter, no interlace
  // Each row: filter type 0, then RGB bytes.
  const row = () => Buffer.concat([Buffer.from([0]), fill === "noise" ? randomBytes(width * 3) : Buffer.alloc(width * 3, fill)]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(Buffer.concat(Array.from({ length: height }, row)))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}
