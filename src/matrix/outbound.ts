import type { MessagingLimits } from "../providers/types.js";
import type { OutboundPart, StoredMedia } from "../storage/messages.js";

/**
 * What a Matrix message becomes as texts. Pure: the caller gives the sender's name, the limits of
 * the provider, and how to link to media that can't go as MMS.
 */
export interface OutboundOptions {
  senderName: string;
  limits: MessagingLimits;
  /** Appends "— name" so contacts can tell the members of a shared number apart. */
  signature: boolean;
  /** A public link to Matrix media, for files too large to send as MMS. */
  linkTo(media: StoredMedia): string;
}

export type Outbound =
  | { kind: "send"; parts: OutboundPart[]; notices: string[] }
  | { kind: "refuse"; reason: string }
  | { kind: "ignore" };

const TEXT_TYPES = new Set(["m.text", "m.notice", "m.emote"]);
const MEDIA_TYPES = new Set(["m.image", "m.video", "m.audio", "m.file"]);

export function toOutbound(content: Record<string, unknown>, options: OutboundOptions): Outbound {
  const msgtype = typeof content.msgtype === "string" ? content.msgtype : "";
  const body = typeof content.body === "string" ? content.body : "";
  const notices: string[] = [];

  let text: string;
  let media: StoredMedia[] = [];
  if (TEXT_TYPES.has(msgtype)) {
    text = stripReplyFallback(body, content);
    if (msgtype === "m.emote") text = `* ${options.senderName} ${text}`;
  } else if (MEDIA_TYPES.has(msgtype)) {
    if (content.file) return { kind: "refuse", reason: "Encrypted attachments can't be sent as texts." };
    if (typeof content.url !== "string") return { kind: "refuse", reason: "That attachment has no content to send." };
    const info = (typeof content.info === "object" && content.info !== null ? content.info : {}) as { mimetype?: unknown; size?: unknown };
    const filename = typeof content.filename === "string" ? content.filename : body || "file";
    const item: StoredMedia = {
      url: content.url,
      contentType: typeof info.mimetype === "string" ? info.mimetype : "application/octet-stream",
      filename,
      ...(typeof info.size === "number" ? { size: info.size } : {}),
    };
    // With a separate `filename`, the body is a caption (MSC2530); otherwise it is the file name.
    text = typeof content.filename === "string" && body && body !== content.filename ? body : "";
    if ((item.size ?? 0) > options.limits.maxMediaBytes) {
      const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
      text = [text, `📎 ${filename} (${mb(item.size!)}): ${options.linkTo(item)}`].filter(Boolean).join("\n");
      notices.push(`${filename} is ${mb(item.size!)}, more than a picture message can carry (${mb(options.limits.maxMediaBytes)}); it went as a link.`);
    } else {
      media = [item];
    }
  } else if (msgtype === "m.location" && typeof content.geo_uri === "string") {
    const [lat, lon] = content.geo_uri.replace(/^geo:/, "").split(/[,;]/);
    text = `📍 ${body ? `${body}: ` : ""}https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}`;
  } else {
    return { kind: "ignore" };
  }

  if (options.signature && text) text = `${text}\n— ${options.senderName}`;
  else if (options.signature && media.length) text = `— ${options.senderName}`;
  if (!text.trim() && media.length === 0) return { kind: "ignore" };

  const chunks = split(text, options.limits.maxBodyChars);
  if (chunks.length > 1) notices.push(`That message was longer than one text can be, so it went as ${chunks.length} texts.`);
  const parts: OutboundPart[] = chunks.map((chunk, i) => ({ body: chunk, media: i === 0 ? media : [] }));
  if (parts.length === 0) parts.push({ body: "", media });
  return { kind: "send", parts, notices };
}

/** Replies carry a quote of the original at the top of `body` (the reply fallback); a text doesn't need it. */
export function stripReplyFallback(body: string, content: Record<string, unknown>): string {
  const relation = content["m.relates_to"] as { "m.in_reply_to"?: unknown } | undefined;
  if (!relation?.["m.in_reply_to"]) return body;
  const lines = body.split("\n");
  let i = 0;
  while (i < lines.length && lines[i]!.startsWith(">")) i++;
  if (i > 0 && lines[i] === "") i++;
  return lines.slice(i).join("\n");
}

/** Splits a text at word boundaries into pieces of at most `max` characters (code points). */
export function split(text: string, max: number): string[] {
  const chars = [...text];
  if (chars.length <= max) return text ? [text] : [];
  const pieces: string[] = [];
  let start = 0;
  while (start < chars.length) {
    let end = Math.min(start + max, chars.length);
    if (end < chars.length) {
      const space = chars.lastIndexOf(" ", end);
      const newline = chars.lastIndexOf("\n", end);
      const cut = Math.max(space, newline);
      if (cut > start + max / 2) end = cut;
    }
    pieces.push(chars.slice(start, end).join("").trim());
    start = end;
    while (chars[start] === " " || chars[start] === "\n") start++;
  }
  return pieces.filter(Boolean);
}
