import { mediaUrl } from "../actors/conversation-effects.js";
import { isMessagingCapable, type MessagingLimits } from "../providers/types.js";
import type { PortalRecord } from "../storage/portals.js";
import type { EventId, RoomId, UserId } from "../ids.js";
import type { RawMatrixEvent } from "./appservice.js";
import type { MatrixDeps } from "./deps.js";
import { toOutbound } from "./outbound.js";

/** Links to media too large for MMS stay valid this long. */
const MEDIA_LINK_TTL_MS = 7 * 24 * 60 * 60_000;
/** Limits assumed when no provider is linked (the text will fail with a notice anyway). */
const FALLBACK_LIMITS: MessagingLimits = { maxBodyChars: 1600, maxMediaBytes: 5 * 1024 * 1024, maxMediaItems: 10, groupMessaging: false };

/**
 * What members do in a portal room: messages become outbound texts (stored before anything is
 * sent, once per Matrix event, so a replayed transaction sends nothing twice); edits and
 * deletions can't reach a phone, which the room is told once.
 */
export async function onPortalEvent(deps: MatrixDeps, portal: PortalRecord & { roomId: RoomId }, event: RawMatrixEvent): Promise<void> {
  const sender = event.sender as UserId;
  if (!deps.permissions.allows(sender, "user")) return;
  const ghost = deps.portals.ghostOf(portal);
  const note = (txnId: string, body: string, replyTo?: string) =>
    deps.matrix.sendAs(ghost, portal.roomId, txnId, {
      msgtype: "m.notice",
      body,
      ...(replyTo ? { "m.relates_to": { "m.in_reply_to": { event_id: replyTo } } } : {}),
    });

  const relation = event.content["m.relates_to"] as { rel_type?: unknown } | undefined;
  if (event.type === "m.room.redaction" || (event.type === "m.room.message" && relation?.rel_type === "m.replace")) {
    if (deps.storage.portals.claimEditNotice(portal.id)) {
      await note(`pstn.edits.${event.event_id}`, "ℹ️ Texts can't be edited or unsent: edits and deletions here stay in Matrix, and the contact keeps what was sent first.");
    }
    return;
  }
  if (event.type !== "m.room.message") return;

  const link = deps.storage.links.byRoom(portal.controlRoomId);
  const client = link ? deps.clients.forLink(link) : null;
  const limits = client && isMessagingCapable(client) ? client.messaging : FALLBACK_LIMITS;
  const signature = deps.storage.controlRooms.get(portal.controlRoomId)?.signature ?? false;
  const needsName = signature || event.content.msgtype === "m.emote";
  // A name lookup that fails must not cost the text: fall back to the user id's localpart.
  const looked = needsName ? await deps.matrix.memberName(portal.roomId, sender, ghost).catch(() => null) : null;
  const senderName = looked ?? sender.slice(1, sender.indexOf(":"));

  const outbound = toOutbound(event.content, {
    senderName,
    limits,
    signature,
    linkTo: (media) => mediaUrl(deps, media, MEDIA_LINK_TTL_MS),
  });
  if (outbound.kind === "ignore") return;
  if (outbound.kind === "refuse") {
    await note(`pstn.refused.${event.event_id}`, `⚠️ Not sent: ${outbound.reason}`, event.event_id);
    return;
  }
  const ids = deps.storage.messages.insertOutbound(portal.id, event.event_id, sender, outbound.parts, deps.clock.now());
  if (ids.length === 0) return;
  deps.runtime.send(portal.controlRoomId, { type: "conversation.work", portalId: portal.id, lane: "provider" });
  for (const [i, text] of outbound.notices.entries()) await note(`pstn.note.${event.event_id}.${i}`, `ℹ️ ${text}`, event.event_id as EventId);
}
