import { eventId, roomId as toRoomId, userId as toUserId, type RoomId, type UserId } from "../ids.js";
import type { RawMatrixEvent } from "./appservice.js";
import { runCommand } from "./commands/index.js";
import type { MatrixDeps } from "./deps.js";
import { onDmAnswer, onGhostInvited } from "./dm.js";
import type { Membership } from "./gateway.js";
import { onPortalEvent } from "./portal-events.js";
import { CALL_EVENT_TYPES } from "./voip.js";
import { markup } from "./text.js";

const WELCOME = [
  "👋 Hi! This room is now a **control room** of the phone bridge. Everyone in it shares one phone number.",
  "Type `help` to see the commands; start with `link twilio <AccountSid> <AuthToken> <+number>`.",
  "Please make me a **moderator** here (power level 50): the `link` message carries your provider's auth token, and with moderator rights I can remove it from the room's history.",
].join("\n");

/**
 * Decides what each homeserver event means for the bridge: the bot invited (a new control room,
 * a refusal, or an encrypted room it can't use) or kicked (pause); a ghost invited into a DM; a
 * member joining or leaving a control room (followed into its portals); a command in a control
 * room; a message in a portal room (a text to send). Everything else is ignored.
 */
export function createEventHandler(deps: MatrixDeps) {
  const { matrix, runtime, permissions, notifier, storage, ghosts, log } = deps;

  async function onBotInvited(roomId: RoomId, inviter: UserId, event: RawMatrixEvent): Promise<void> {
    if (!permissions.allows(inviter, "user")) {
      await matrix.join(roomId);
      try {
        await matrix.notice(
          roomId,
          markup(`Sorry, ${inviter} is not allowed to use this bridge, so I'm leaving. The bridge's administrator can allow you in the \`permissions\` section of its config.`),
        );
      } finally {
        await matrix.leave(roomId, "not permitted to use the bridge");
      }
      log.info({ roomId, inviter }, "refused an invite from a user without permission");
      return;
    }
    await matrix.join(roomId);
    if (runtime.isControlRoom(roomId)) {
      runtime.send(roomId, { type: "bot.rejoined" });
      return;
    }
    if (invitedToEncryptedRoom(event) || (await matrix.isEncrypted(roomId))) {
      await offerUnencryptedRoom(roomId, inviter);
      return;
    }
    runtime.openRoom(roomId, inviter);
    notifier.send(roomId, markup(WELCOME));
    log.info({ roomId, inviter }, "new control room");
  }

  async function offerUnencryptedRoom(roomId: RoomId, inviter: UserId): Promise<void> {
    const controlRoom = await matrix.createControlRoom(inviter, "Phone bridge");
    runtime.openRoom(controlRoom, inviter);
    notifier.send(controlRoom, markup(WELCOME));
    await matrix.notice(
      roomId,
      markup(
        "This room is end-to-end encrypted, and the phone bridge can't read encrypted rooms yet. I've created an unencrypted control room and invited you to it; I'm leaving this one.",
      ),
    );
    await matrix.leave(roomId, "encrypted rooms are not supported");
    log.info({ roomId, controlRoom, inviter }, "invited into an encrypted room; offered an unencrypted control room");
  }

  async function onMessage(roomId: RoomId, sender: UserId, event: RawMatrixEvent): Promise<void> {
    const content = event.content;
    // Notices are how bots talk; answering them invites loops between bots.
    if (content.msgtype !== "m.text" || typeof content.body !== "string") return;
    if (!permissions.allows(sender, "user")) {
      notifier.send(roomId, markup(`Sorry ${sender}, you're not allowed to use this bridge. Ask its administrator.`));
      return;
    }
    await runCommand(
      content.body,
      { roomId, sender, eventId: eventId(event.event_id) },
      (text) => notifier.send(roomId, markup(text)),
      deps,
    );
  }

  async function onMembership(roomId: RoomId, sender: UserId, event: RawMatrixEvent): Promise<void> {
    const target = event.state_key ?? "";
    const membership = event.content.membership as Membership;
    if (target === matrix.botUserId) {
      if (membership === "invite") return onBotInvited(roomId, sender, event);
      if ((membership === "leave" || membership === "ban") && sender !== matrix.botUserId && runtime.isControlRoom(roomId)) {
        log.info({ roomId, by: sender, membership }, "bot removed from a control room; pausing it");
        runtime.send(roomId, { type: "bot.removed" });
      }
      return;
    }
    const contact = ghosts.contactOf(target);
    if (contact) {
      if (membership === "invite" && !matrix.isBridgeUser(sender) && !storage.portals.byRoom(roomId)) {
        return onGhostInvited(deps, roomId, sender, toUserId(target), contact);
      }
      return;
    }
    if (!matrix.isBridgeUser(target) && runtime.isControlRoom(roomId) && membership !== "invite") {
      await deps.portals.followMembership(roomId, toUserId(target), membership);
      return;
    }
    const portal = storage.portals.byRoom(roomId);
    if (portal && !matrix.isBridgeUser(target)) deps.portals.membershipChanged(portal.id);
  }

  return async function handle(event: RawMatrixEvent): Promise<void> {
    const roomId = toRoomId(event.room_id);
    const sender = toUserId(event.sender);
    if (event.type === "m.room.member" && typeof event.state_key === "string") return onMembership(roomId, sender, event);
    if (matrix.isBridgeUser(sender)) return;
    if (CALL_EVENT_TYPES.has(event.type)) {
      if (permissions.allows(sender, "user")) await deps.calls.matrixEvent(roomId, sender, event.type, event.content);
      return;
    }
    if (runtime.isControlRoom(roomId)) {
      if (event.type === "m.room.message") return onMessage(roomId, sender, event);
      return;
    }
    const portal = storage.portals.byRoom(roomId);
    if (portal?.roomId) return onPortalEvent(deps, { ...portal, roomId: portal.roomId }, event);
    if (event.type === "m.room.message" && typeof event.content.body === "string") {
      await onDmAnswer(deps, roomId, sender, event.content.body);
    }
  };
}

/** The invite's stripped state already says whether the room is encrypted, before joining. */
function invitedToEncryptedRoom(event: RawMatrixEvent): boolean {
  const state = (event.unsigned?.invite_room_state ?? []) as { type?: string }[];
  return Array.isArray(state) && state.some((s) => s.type === "m.room.encryption");
}
