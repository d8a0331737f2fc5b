import { contactOfNumber, displayName } from "../../contacts.js";
import { BridgeError } from "../../errors.js";
import { makePortalId, type ContactId, type RoomId, type UserId } from "../../ids.js";
import { formatNumber, parseDialedNumber } from "../../numbers.js";
import { isMessagingCapable } from "../../providers/types.js";
import type { LinkRecord } from "../../storage/links.js";
import type { Command, CommandDeps } from "./types.js";

function linkOf(deps: CommandDeps, roomId: RoomId): LinkRecord {
  const link = deps.storage.links.byRoom(roomId);
  if (!link) {
    throw new BridgeError("command-usage", "no link in this room", {
      userMessage: "No number is linked to this room yet. Link one with `link twilio <AccountSid> <AuthToken> <+number>`.",
    });
  }
  return link;
}

/**
 * A contact as typed in a command: a phone number (read as dialed from the linked number), a
 * short code, or the name of an alphanumeric sender the room has heard from.
 */
function contactFrom(deps: CommandDeps, roomId: RoomId, link: LinkRecord, input: string): ContactId {
  const known = deps.storage.portals.ofControlRoom(roomId).find((p) => p.contact === `an:${input}` || p.contact === `sc:${input}`);
  if (known) return known.contact;
  return contactOfNumber(parseDialedNumber(input, link.phoneNumber));
}

/** Invites someone to a contact's room unless they are in it; says whether they already were. */
async function inviteUnlessJoined(deps: CommandDeps, roomId: RoomId, ghost: UserId, userId: UserId): Promise<boolean> {
  const joined = (await deps.matrix.members(roomId, ghost)).get(userId) === "join";
  if (!joined) await deps.matrix.inviteAs(ghost, roomId, userId);
  return joined;
}

const dial: Command = {
  name: "dial",
  usage: "dial <number>",
  summary: "open (or get back into) the room for texting a number",
  needs: "user",
  async run(request, reply, deps) {
    const link = linkOf(deps, request.roomId);
    if (request.args.length === 0) throw new BridgeError("command-usage", "dial without a number", { userMessage: "Usage: `dial <number>`, e.g. `dial +1 555 010 0134`." });
    // Numbers may be typed with spaces; several are only possible with separators.
    const inputs = request.args.join(" ").split(/\s*[,;]\s*/).filter(Boolean);
    const client = deps.clients.forLink(link);
    if (inputs.length > 1 && !(isMessagingCapable(client) && client.messaging.groupMessaging)) {
      throw new BridgeError("command-usage", "group texting not supported", {
        userMessage: `Group texts aren't possible with ${link.provider === "twilio" ? "Twilio" : link.provider}: its Messages API can't start group MMS conversations. Dial one number at a time.`,
      });
    }
    const contact = contactFrom(deps, request.roomId, link, inputs[0]!);
    const portal = deps.storage.portals.ensure(request.roomId, contact, makePortalId, deps.clock.now());
    const existed = portal.roomId !== null;
    const roomId = await deps.portals.ensureRoom(portal.id);
    const joined = await inviteUnlessJoined(deps, roomId, deps.portals.ghostOf(portal), request.sender);
    const name = deps.portals.nameOf(request.roomId, contact);
    reply(
      joined
        ? `You're already in the room with ${name}.`
        : `${existed ? "Invited you back to" : "Opened"} the room with ${name}: accept the invite to text them from ${formatNumber(link.phoneNumber)}.`,
    );
  },
};

const call: Command = {
  name: "call",
  usage: "call <number>",
  summary: "get a room of just you and the number, where Element's call button calls it",
  needs: "user",
  async run(request, reply, deps) {
    const link = linkOf(deps, request.roomId);
    if (request.args.length === 0) throw new BridgeError("command-usage", "call without a number", { userMessage: "Usage: `call <number>`, e.g. `call +1 555 010 0134`." });
    const contact = contactFrom(deps, request.roomId, link, request.args.join(" "));
    const portal = deps.storage.portals.ensure(request.roomId, contact, makePortalId, deps.clock.now());
    const portalRoom = await deps.portals.ensureRoom(portal.id);
    const ghost = deps.portals.ghostOf(portal);
    // Element only offers a call in a room of two: alone in the control room, the contact's room is
    // that; a shared number gives each member a call room of their own.
    const alone = (await deps.portals.controlRoomMembers(request.roomId)).length === 1;
    const roomId = alone ? portalRoom : await deps.calls.callRoomOf(portal.id, request.sender);
    const joined = await inviteUnlessJoined(deps, roomId, ghost, request.sender);
    const name = deps.portals.nameOf(request.roomId, contact);
    reply(`${joined ? "Your" : "I've invited you to your"} room with ${name}: press its call button to call them from ${formatNumber(link.phoneNumber)}. Element's dial pad works too.`);
  },
};

const contacts: Command = {
  name: "contacts",
  usage: "contacts [n]",
  summary: "list this room's conversations; `contacts 2` invites you back into the second",
  needs: "user",
  async run(request, reply, deps) {
    const portals = deps.storage.portals.ofControlRoom(request.roomId);
    if (portals.length === 0) {
      reply("No conversations yet. Start one with `dial <number>`, or wait for a text.");
      return;
    }
    const [pick] = request.args;
    if (pick) {
      const index = Number(pick);
      const portal = Number.isInteger(index) ? portals[index - 1] : undefined;
      if (!portal) throw new BridgeError("command-usage", "no such contact", { userMessage: `Pick a number from 1 to ${portals.length}.` });
      const roomId = await deps.portals.ensureRoom(portal.id);
      await deps.matrix.inviteAs(deps.portals.ghostOf(portal), roomId, request.sender);
      reply(`Invited you to the room with ${deps.portals.nameOf(request.roomId, portal.contact)}.`);
      return;
    }
    const counts = deps.storage.messages.countByPortal(request.roomId);
    const lines = portals.map((portal, i) => {
      const contact = deps.storage.contacts.get(request.roomId, portal.contact);
      const name = contact.petName ? `${contact.petName} (${displayName(portal.contact)})` : displayName(portal.contact);
      return `${i + 1}. ${name}: ${counts.get(portal.id) ?? 0} texts${contact.blocked ? " (blocked)" : ""}`;
    });
    reply(["**Conversations** (`contacts <n>` to get back into one):", ...lines].join("\n"));
  },
};

const name: Command = {
  name: "name",
  usage: "name <number> [name]",
  summary: "give a number a pet name in this room's conversations; without a name, clear it",
  needs: "user",
  async run(request, reply, deps) {
    const link = linkOf(deps, request.roomId);
    const [target, ...words] = request.args;
    if (!target) throw new BridgeError("command-usage", "name without a number", { userMessage: "Usage: `name <number> <name>` (or `name <number>` to clear it)." });
    const contact = contactFrom(deps, request.roomId, link, target);
    const petName = words.join(" ").trim().slice(0, 100) || null;
    deps.storage.contacts.setPetName(request.roomId, contact, petName);
    const portal = deps.storage.portals.find(request.roomId, contact);
    if (portal) await deps.portals.applyName(portal);
    reply(petName ? `${displayName(contact)} is now "${petName}" in this room's conversations.` : `${displayName(contact)} has no pet name any more.`);
  },
};

const blocking = (block: boolean): Command => ({
  name: block ? "block" : "unblock",
  usage: `${block ? "block" : "unblock"} <number>`,
  summary: block ? "stop a number's texts (and calls) from reaching the rooms" : "let a blocked number through again",
  needs: "user",
  async run(request, reply, deps) {
    const link = linkOf(deps, request.roomId);
    const [target] = request.args;
    if (!target) throw new BridgeError("command-usage", "no number", { userMessage: `Usage: \`${block ? "block" : "unblock"} <number>\`.` });
    const contact = contactFrom(deps, request.roomId, link, request.args.join(" "));
    deps.storage.contacts.setBlocked(request.roomId, contact, block);
    reply(
      block
        ? `Blocked ${displayName(contact)}: its texts and calls won't reach the rooms (they are kept out, not answered). \`unblock\` lets them through again.`
        : `Unblocked ${displayName(contact)}.`,
    );
  },
});

const signature: Command = {
  name: "signature",
  usage: "signature on|off",
  summary: "end every text with the sender's name, so contacts can tell you apart",
  needs: "room-admin",
  async run(request, reply, deps) {
    const [value] = request.args;
    if (value !== "on" && value !== "off") throw new BridgeError("command-usage", "signature needs on or off", { userMessage: "Usage: `signature on` or `signature off`." });
    deps.storage.controlRooms.setSignature(request.roomId, value === "on");
    reply(value === "on" ? "Texts from this room now end with \"— <your name>\"." : "Texts no longer carry the sender's name.");
  },
};

export const contactCommands: readonly Command[] = [dial, call, contacts, name, blocking(true), blocking(false), signature];
