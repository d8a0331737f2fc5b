import type { Clock } from "../clock.js";
import { contactOf } from "../contacts.js";
import { makePortalId, type RoomId } from "../ids.js";
import type { Logger } from "../log.js";
import type { ControlRoomEvent } from "../machines/control-room.machine.js";
import type { ProviderEvent, SmsReceived } from "../providers/events.js";
import type { Storage } from "../storage/index.js";
import { isFinalStatus } from "../storage/messages.js";

export interface IntakeDeps {
  storage: Storage;
  /** Wakes a control room's actors; called after the event is stored. */
  send(roomId: RoomId, event: ControlRoomEvent): void;
  /** Call status callbacks and recordings go to the calls' actors. */
  onCallEvent(event: Extract<ProviderEvent, { type: "call.status" | "call.recording" }>): void;
  clock: Clock;
  log: Logger;
}

/**
 * Where provider traffic enters the bridge. Runs synchronously inside the webhook request: the
 * text is in the database before the provider gets its 200, a provider id seen before is dropped
 * (a replayed webhook shows once), and only then is the conversation woken.
 */
export function createIntake(deps: IntakeDeps) {
  const { storage, clock, log } = deps;

  const receive = storage.db.transaction((event: SmsReceived, roomId: RoomId) => {
    const contact = contactOf(event.from);
    const blocked = storage.contacts.get(roomId, contact).blocked;
    const portal = storage.portals.ensure(roomId, contact, makePortalId, clock.now());
    const media = event.media.map((m) => ({ url: m.url, contentType: m.contentType }));
    const id = storage.messages.insertInbound(portal.id, event.providerMessageId, event.body, media, blocked ? "blocked" : "received", clock.now());
    return { id, portalId: portal.id, blocked };
  });

  return function deliver(event: ProviderEvent): void {
    const link = storage.links.get(event.linkId);
    if (!link) return;
    switch (event.type) {
      case "sms.received": {
        const { id, portalId, blocked } = receive(event, link.roomId);
        if (id === null) {
          log.info({ linkId: event.linkId }, "dropped a text seen before");
          return;
        }
        if (blocked) {
          log.info({ linkId: event.linkId, portalId }, "kept a text from a blocked contact out of the rooms");
          return;
        }
        deps.send(link.roomId, { type: "conversation.work", portalId, lane: "matrix" });
        return;
      }
      case "message.status": {
        const changed = storage.messages.applyStatus(event.providerMessageId, event.status, event.errorCode, clock.now());
        if (changed && isFinalStatus(changed.status)) deps.send(link.roomId, { type: "conversation.work", portalId: changed.portalId, lane: "matrix" });
        return;
      }
      case "call.incoming":
        // Incoming calls are answered by the voice webhook itself (calls.ts), not through here.
        return;
      case "call.status":
      case "call.recording":
        deps.onCallEvent(event);
        return;
    }
  };
}

export type Deliver = ReturnType<typeof createIntake>;
