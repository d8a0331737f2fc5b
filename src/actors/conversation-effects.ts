import { fromPromise } from "xstate";
import type { Clock } from "../clock.js";
import { addressOf, displayName } from "../contacts.js";
import { errorCodeOf, userMessageOf } from "../errors.js";
import type { EventId, PortalId, RoomId } from "../ids.js";
import type { Logger } from "../log.js";
import type { LaneInput, SendOutput } from "../machines/conversation.machine.js";
import type { MediaUrlSigner } from "../media/signed-urls.js";
import type { MatrixGateway } from "../matrix/gateway.js";
import { inboundContents } from "../matrix/inbound.js";
import type { PortalRooms } from "../matrix/portals.js";
import { isMessagingCapable, webhookUrls, type MessagingCapable, type ProviderClient } from "../providers/types.js";
import type { Storage } from "../storage/index.js";
import type { LinkRecord } from "../storage/links.js";
import type { MessageRecord, StoredMedia } from "../storage/messages.js";
import type { ProviderClients } from "./clients.js";

export interface ConversationEffectDeps {
  storage: Storage;
  matrix: MatrixGateway;
  portals: PortalRooms;
  clients: ProviderClients;
  signer: MediaUrlSigner;
  clock: Clock;
  log: Logger;
  publicBaseUrl: string;
}

/** How long the provider may take to fetch an outbound attachment from the bridge. */
const MEDIA_URL_TTL_MS = 60 * 60_000;
/** How far around a text's send time its copy is looked for in the provider's list. */
const DOUBT_WINDOW_MS = 10 * 60_000;

/** A public URL for Matrix media, signed and expiring, ending in the file name (some carriers want one). */
export function mediaUrl(deps: Pick<ConversationEffectDeps, "signer" | "publicBaseUrl">, media: StoredMedia, ttlMs: number): string {
  const token = deps.signer.sign({ mxc: media.url, contentType: media.contentType, ...(media.filename ? { filename: media.filename } : {}) }, ttlMs);
  const name = encodeURIComponent((media.filename ?? "file").replace(/[/\\]/g, "_"));
  return `${deps.publicBaseUrl}/media/${token}/${name}`;
}

/** The real work of a conversation actor's two lanes. */
export function conversationEffects(deps: ConversationEffectDeps) {
  return {
    actors: {
      showInMatrix: fromPromise<void, LaneInput>(({ input }) => showInMatrix(deps, input.portalId)),
      sendToProvider: fromPromise<SendOutput, LaneInput>(({ input }) => sendToProvider(deps, input.portalId)),
    },
    actions: {
      laneFailed: ({ context }: { context: { portalId: PortalId } }, params: { lane: string; error: unknown }) =>
        deps.log.error({ err: params.error, portalId: context.portalId, lane: params.lane }, "a conversation lane failed"),
    },
  };
}

function messagingOf(deps: ConversationEffectDeps, link: LinkRecord | undefined): (ProviderClient & MessagingCapable) | null {
  if (!link) return null;
  const client = deps.clients.forLink(link);
  return isMessagingCapable(client) ? client : null;
}

/** Posts inbound texts in order, then shows delivery outcomes of outbound ones. */
async function showInMatrix(deps: ConversationEffectDeps, portalId: PortalId): Promise<void> {
  const { storage, matrix, portals } = deps;
  const portal = storage.portals.get(portalId);
  if (!portal) return;
  const unposted = storage.messages.unposted(portalId);
  const outcomes = storage.messages.outcomesToShow(portalId);
  if (unposted.length === 0 && outcomes.length === 0) return;

  const roomId = await portals.ensureRoom(portalId);
  const ghost = portals.ghostOf(portal);
  if (unposted.length > 0) await portals.inviteMissing(portal, roomId);
  const link = storage.links.byRoom(portal.controlRoomId);
  const client = messagingOf(deps, link);

  for (const message of unposted) {
    const contents = await inboundContents(message, ghost, {
      fetchMedia: client ? (url, max) => client.fetchMedia(url, max) : null,
      upload: (data, type, name, as) => matrix.upload(data, type, name, as),
    });
    let first: EventId | null = null;
    // Transaction ids derived from the message: a repeat after a crash returns the same events.
    for (const [i, content] of contents.entries()) {
      const id = await matrix.sendAs(ghost, roomId, `pstn.in.${message.id}.${i}`, content);
      first ??= id;
    }
    storage.messages.markPosted(message.id, first!, deps.clock.now());
  }

  // A read receipt covers everything before it: one, on the newest delivered text, is enough.
  const delivered = outcomes.filter((m) => m.status === "delivered" || m.status === "read");
  const newest = delivered.at(-1);
  if (newest?.matrixEventId) await deps.matrix.readReceiptAs(ghost, roomId, newest.matrixEventId as EventId);
  for (const message of delivered) storage.messages.markShown(message.id, message.status!);
  for (const message of outcomes.filter((m) => !delivered.includes(m))) {
    await showFailure(deps, message, roomId, ghost, client, displayName(portal.contact));
    storage.messages.markShown(message.id, message.status!);
  }
}

async function showFailure(
  deps: ConversationEffectDeps,
  message: MessageRecord,
  roomId: RoomId,
  ghost: ReturnType<PortalRooms["ghostOf"]>,
  client: MessagingCapable | null,
  contactName: string,
): Promise<void> {
  if (!message.matrixEventId) return;
  const event = message.matrixEventId as EventId;
  const reason = message.failure ?? client?.explainError(message.errorCode) ?? `error ${message.errorCode ?? "unknown"}`;
  await deps.matrix.sendAs(ghost, roomId, `pstn.outcome.${message.id}.${message.status}`, {
    msgtype: "m.notice",
    body: `⚠️ Not delivered to ${contactName}: ${reason}`,
    "m.relates_to": { "m.in_reply_to": { event_id: event } },
  });
}

/** Sends what members wrote, in order; a text the provider refuses is marked failed and skipped. */
async function sendToProvider(deps: ConversationEffectDeps, portalId: PortalId): Promise<SendOutput> {
  const { storage, clock } = deps;
  const portal = storage.portals.get(portalId);
  if (!portal) return { outcomes: false };
  const unsent = storage.messages.unsent(portalId);
  if (unsent.length === 0) return { outcomes: false };

  const link = storage.links.byRoom(portal.controlRoomId);
  const address = addressOf(portal.contact);
  const client = messagingOf(deps, link);
  const refusal = !link
    ? "no number is linked to the control room any more"
    : !address
      ? "this sender can't receive replies (it is a name, not a number)"
      : !client
        ? "the linked provider can't send texts"
        : null;
  if (refusal || !link || !address || !client) {
    for (const message of unsent) storage.messages.markFailed(message.id, null, refusal ?? "not sendable", clock.now());
    return { outcomes: true };
  }

  let outcomes = false;
  for (const message of unsent) {
    // A text left "sending" by a crash may have reached the provider: look before sending again.
    if (message.state === "sending") {
      const copy = await findSentCopy(deps, client, link, address, message);
      if (copy) {
        storage.messages.markSent(message.id, copy, "queued", clock.now());
        deps.log.info({ portalId, messageId: message.id }, "a text in doubt had been sent; not sending it again");
        continue;
      }
    }
    storage.messages.markSending(message.id, clock.now());
    try {
      const sent = await client.sendMessage({
        from: link.phoneNumber,
        to: address,
        body: message.body,
        mediaUrls: message.media.map((m) => mediaUrl(deps, m, MEDIA_URL_TTL_MS)),
        statusCallback: webhookUrls(deps.publicBaseUrl, link.provider, link.id).messageStatus,
      });
      storage.messages.markSent(message.id, sent.providerMessageId, sent.status, clock.now());
    } catch (err) {
      if (errorCodeOf(err) === "provider-unavailable") throw err;
      const code = (err as { context?: { providerCode?: unknown } }).context?.providerCode;
      storage.messages.markFailed(message.id, typeof code === "number" ? code : null, userMessageOf(err).replace(/^Not sent: /, ""), clock.now());
      deps.log.warn({ portalId, messageId: message.id, code: errorCodeOf(err), providerCode: code }, "text refused by the provider");
      outcomes = true;
    }
  }
  return { outcomes };
}

/**
 * The provider's id for a text that may have been sent before a crash: the earliest message in the
 * provider's list with the same sender, recipient and body, sent around that time, that no other
 * text of this conversation has claimed.
 */
async function findSentCopy(
  deps: ConversationEffectDeps,
  client: MessagingCapable,
  link: LinkRecord,
  address: string,
  message: MessageRecord,
): Promise<string | null> {
  const listed = await client.listMessages({ from: link.phoneNumber, to: address, since: message.createdAt - DOUBT_WINDOW_MS });
  const taken = deps.storage.messages.knownProviderIds(message.portalId);
  const candidates = listed
    .filter((m) => m.direction === "outbound" && m.body === message.body && !taken.has(m.providerMessageId))
    .filter((m) => m.createdAt >= message.createdAt - DOUBT_WINDOW_MS && m.createdAt <= message.updatedAt + DOUBT_WINDOW_MS)
    .sort((a, b) => a.createdAt - b.createdAt);
  return candidates[0]?.providerMessageId ?? null;
}
