import { displayName } from "../contacts.js";
import { makePortalId, type ContactId, type RoomId, type UserId } from "../ids.js";
import { formatNumber } from "../numbers.js";
import type { MatrixDeps } from "./deps.js";

/**
 * Someone invited a phone-number ghost into a room: a DM they started with a contact, from
 * Element's "start chat" or dial pad. The DM becomes that contact's portal in the user's control
 * room; with several control rooms the ghost asks which number to use and remembers the answer.
 */
export async function onGhostInvited(deps: MatrixDeps, roomId: RoomId, inviter: UserId, ghost: UserId, contact: ContactId): Promise<void> {
  const { matrix, storage, clock } = deps;
  const say = (txn: string, body: string) => matrix.sendAs(ghost, roomId, `pstn.dm.${txn}.${clock.now()}`, { msgtype: "m.notice", body });
  await matrix.joinAs(ghost, roomId);
  if (!deps.permissions.allows(inviter, "user")) {
    await say("refused", `Sorry, ${inviter} is not allowed to use this bridge.`);
    await matrix.leaveAs(ghost, roomId);
    return;
  }
  const rooms = await linkedRoomsOf(deps, inviter);
  if (rooms.length === 0) {
    await say(
      "nolink",
      "To text or call this number from Matrix you need a control room with a linked number: invite the bridge bot to a room and `link` a number there first.",
    );
    await matrix.leaveAs(ghost, roomId);
    return;
  }
  const remembered = storage.dmChoices.defaultOf(inviter);
  const chosen = rooms.length === 1 ? rooms[0]! : rooms.find((r) => r === remembered);
  if (chosen) {
    await adopt(deps, roomId, chosen, contact, inviter, ghost);
    return;
  }
  storage.dmChoices.ask({ roomId, userId: inviter, contact, options: rooms }, clock.now());
  const lines = rooms.map((room, i) => `${i + 1}. ${formatNumber(storage.links.byRoom(room)!.phoneNumber)}`);
  await say("ask", `Which of your numbers should texts to ${displayName(contact)} come from? Reply with its number:\n${lines.join("\n")}`);
}

/** The inviter's answer to "which number?" (a digit), typed in the DM. */
export async function onDmAnswer(deps: MatrixDeps, roomId: RoomId, sender: UserId, body: string): Promise<boolean> {
  const pending = deps.storage.dmChoices.pending(roomId);
  if (!pending || pending.userId !== sender) return false;
  const ghost = deps.ghosts.userIdOf(pending.contact);
  const choice = Number(body.trim());
  const chosen = Number.isInteger(choice) ? pending.options[choice - 1] : undefined;
  if (!chosen) {
    await deps.matrix.sendAs(ghost, roomId, `pstn.dm.again.${deps.clock.now()}`, {
      msgtype: "m.notice",
      body: `Please reply with a number from 1 to ${pending.options.length}.`,
    });
    return true;
  }
  deps.storage.dmChoices.answered(roomId, sender, chosen);
  await adopt(deps, roomId, chosen, pending.contact, sender, ghost);
  return true;
}

async function adopt(deps: MatrixDeps, roomId: RoomId, controlRoomId: RoomId, contact: ContactId, user: UserId, ghost: UserId): Promise<void> {
  const { storage, matrix, portals, clock } = deps;
  const portal = storage.portals.ensure(controlRoomId, contact, makePortalId, clock.now());
  const number = formatNumber(storage.links.byRoom(controlRoomId)!.phoneNumber);
  if (portal.roomId && portal.roomId !== roomId) {
    // One room per contact keeps the history together: point the user at the existing one.
    await matrix.inviteAs(ghost, portal.roomId, user);
    await matrix.sendAs(ghost, roomId, `pstn.dm.existing.${clock.now()}`, {
      msgtype: "m.notice",
      body: `There is already a room for ${displayName(contact)} with ${number}; I've invited you to it.`,
    });
    await matrix.leaveAs(ghost, roomId);
    return;
  }
  await portals.adoptRoom(portal, roomId);
  await matrix.sendAs(ghost, roomId, `pstn.dm.ready.${clock.now()}`, {
    msgtype: "m.notice",
    body: `Texts you send here go to ${displayName(contact)} from ${number}.`,
  });
  // Texts that arrived before the room existed are shown now.
  deps.runtime.send(controlRoomId, { type: "conversation.work", portalId: portal.id });
}

/** Control rooms the user is in whose number is linked. */
async function linkedRoomsOf(deps: MatrixDeps, user: UserId): Promise<RoomId[]> {
  const rooms: RoomId[] = [];
  for (const link of deps.storage.links.list()) {
    if (link.state !== "linked" && link.state !== "degraded") continue;
    const membership = (await deps.matrix.members(link.roomId)).get(user);
    if (membership === "join") rooms.push(link.roomId);
  }
  return rooms;
}
