import { imageSize } from "image-size";

export type MediaMsgtype = "m.image" | "m.video" | "m.audio" | "m.file";

export interface MediaDescription {
  msgtype: MediaMsgtype;
  /** A file name: the sender's, cleaned up, or one made from the MIME type (`image.jpg`). */
  body: string;
  info: { mimetype: string; size: number; w?: number; h?: number };
}

/** Extensions for what phones actually send over MMS, and what people attach in Matrix. */
const EXTENSIONS: Record<string, string> = {
  "image/jpeg": "jpg",
  "image/png": "png",
  "image/gif": "gif",
  "image/webp": "webp",
  "image/heic": "heic",
  "image/heif": "heif",
  "video/mp4": "mp4",
  "video/3gpp": "3gp",
  "video/quicktime": "mov",
  "audio/mpeg": "mp3",
  "audio/mp4": "m4a",
  "audio/amr": "amr",
  "audio/ogg": "ogg",
  "audio/wav": "wav",
  "audio/x-wav": "wav",
  "audio/3gpp": "3gp",
  "application/pdf": "pdf",
  "text/vcard": "vcf",
  "text/x-vcard": "vcf",
  "text/plain": "txt",
};

const MAX_FILENAME_LENGTH = 120;
// An EXIF orientation from 5 to 8 means the picture is shown turned by 90°, so its displayed
// width is the stored height; clients size their placeholder from w/h.
const TURNED_ORIENTATIONS = new Set([5, 6, 7, 8]);

/**
 * How a file should appear in Matrix: msgtype, file name and `info`. Images get their size from
 * their bytes. A file labelled `image/*` whose bytes no image parser understands is sent as
 * `m.file`: clients would draw a broken picture for it, while a file can still be downloaded.
 * The label is otherwise trusted; the bytes are not sniffed for other types.
 */
export function describeMedia(data: Buffer, contentType: string, filename?: string): MediaDescription {
  const mimetype = essence(contentType);
  const info: MediaDescription["info"] = { mimetype, size: data.length };
  let msgtype: MediaMsgtype = "m.file";
  if (mimetype.startsWith("image/")) {
    const size = dimensions(data);
    if (size) {
      msgtype = "m.image";
      info.w = size.w;
      info.h = size.h;
    }
  } else if (mimetype.startsWith("video/")) {
    msgtype = "m.video";
  } else if (mimetype.startsWith("audio/")) {
    msgtype = "m.audio";
  }
  return { msgtype, body: cleanFilename(filename) ?? defaultFilename(msgtype, mimetype), info };
}

/** `Image/JPEG; charset=x` → `image/jpeg`; anything unparseable is plain bytes. */
function essence(contentType: string): string {
  const value = (contentType.split(";")[0] ?? "").trim().toLowerCase();
  return /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(value) ? value : "application/octet-stream";
}

function dimensions(data: Buffer): { w: number; h: number } | undefined {
  try {
    const size = imageSize(data);
    if (!(size.width > 0 && size.height > 0)) return undefined;
    return TURNED_ORIENTATIONS.has(size.orientation ?? 1) ? { w: size.height, h: size.width } : { w: size.width, h: size.height };
  } catch {
    // image-size throws a TypeError for bytes it can't read; that is an answer, not a failure.
    return undefined;
  }
}

/**
 * Keeps the last path segment, without control or format characters (a right-to-left override
 * makes `photo\u202Egpj.exe` read as `photoexe.jpg`); `undefined` if nothing is left.
 */
function cleanFilename(filename: string | undefined): string | undefined {
  if (!filename) return undefined;
  const base = filename.split(/[/\\]/).pop() ?? "";
  const clean = base.replace(/[\p{Cc}\p{Cf}]/gu, "").trim();
  if (!clean || clean === "." || clean === "..") return undefined;
  return clean.length > MAX_FILENAME_LENGTH ? clean.slice(clean.length - MAX_FILENAME_LENGTH) : clean;
}

function defaultFilename(msgtype: MediaMsgtype, mimetype: string): string {
  const stem = msgtype.slice(2);
  // A short, plain subtype (`zip`, `bmp`) is a fine extension when the table has none.
  const subtype = mimetype.slice(mimetype.indexOf("/") + 1);
  const extension = EXTENSIONS[mimetype] ?? (/^[a-z0-9]{1,5}$/.test(subtype) ? subtype : undefined);
  return extension ? `${stem}.${extension}` : stem;
}
