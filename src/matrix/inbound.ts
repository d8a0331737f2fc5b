import { errorCodeOf, userMessageOf } from "../errors.js";
import type { UserId } from "../ids.js";
import { describeMedia } from "../media/describe.js";
import type { MessageRecord } from "../storage/messages.js";

/** Inbound attachments larger than this are not brought into Matrix (a carrier's MMS is far smaller). */
export const MAX_INBOUND_MEDIA_BYTES = 20 * 1024 * 1024;

export interface InboundDeps {
  /** Downloads a provider media URL with the account's credentials; null when the link is gone. */
  fetchMedia: ((url: string, maxBytes: number) => Promise<{ data: Buffer; contentType: string }>) | null;
  upload(data: Buffer, contentType: string, filename: string, asUser: UserId): Promise<string>;
}

const TRANSIENT = new Set(["provider-unavailable", "matrix-unavailable"]);

/**
 * The Matrix events one inbound text becomes: its words, then each attachment as a proper media
 * event (m.image with dimensions, m.audio, ...). An attachment that can't be had is replaced by a
 * notice saying so; only a transient failure (provider or homeserver down) is thrown, to retry.
 */
export async function inboundContents(message: MessageRecord, ghost: UserId, deps: InboundDeps): Promise<Record<string, unknown>[]> {
  const contents: Record<string, unknown>[] = [];
  if (message.body) contents.push({ msgtype: "m.text", body: message.body });
  for (const item of message.media) {
    try {
      if (!deps.fetchMedia) throw new Error("no provider link to download the attachment with");
      const { data, contentType } = await deps.fetchMedia(item.url, MAX_INBOUND_MEDIA_BYTES);
      const described = describeMedia(data, item.contentType || contentType);
      const url = await deps.upload(data, described.info.mimetype, described.body, ghost);
      contents.push({ msgtype: described.msgtype, body: described.body, url, info: described.info });
    } catch (err) {
      if (TRANSIENT.has(errorCodeOf(err))) throw err;
      contents.push({ msgtype: "m.notice", body: `[An attachment (${item.contentType}) could not be brought over: ${userMessageOf(err)}]` });
    }
  }
  if (contents.length === 0) contents.push({ msgtype: "m.text", body: "(an empty text)" });
  return contents;
}
