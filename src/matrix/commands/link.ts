import { BridgeError } from "../../errors.js";
import { makeLinkId } from "../../ids.js";
import { formatNumber, parseInternationalNumber } from "../../numbers.js";
import { powerOf } from "../gateway.js";
import type { Command, CommandDeps, CommandRequest } from "./types.js";

/**
 * `link` carries a provider secret in the room's history. The bot removes that message when it
 * has the power to; otherwise it tells the user to delete it. This runs before anything else, so
 * even a malformed `link` with a token in it is cleaned up.
 */
async function removeSecretMessage(request: CommandRequest, reply: (text: string) => void, deps: CommandDeps): Promise<void> {
  const { matrix, log } = deps;
  let needed = 50;
  try {
    const levels = await matrix.powerLevels(request.roomId);
    needed = levels.redact;
    if (powerOf(levels, matrix.botUserId) >= levels.redact) {
      await matrix.redact(request.roomId, request.eventId, "contained provider credentials");
      reply("I removed your message from the room's history because it contained your auth token.");
      return;
    }
  } catch (err) {
    log.warn({ err, roomId: request.roomId }, "could not redact a message with credentials");
  }
  reply(
    `⚠️ Please delete your \`link\` message yourself: it contains your auth token, and I can't remove it because I'm not a moderator here. Give me power level ${needed} (moderator) in this room and I'll remove such messages for you.`,
  );
}

export const linkCommand: Command = {
  name: "link",
  usage: "link <provider> <credentials…> <+number>",
  summary: "link a phone number to this room (one number per room)",
  needs: "room-admin",
  async run(request, reply, deps) {
    const [kind, ...rest] = request.args;
    if (rest.length > 0) await removeSecretMessage(request, reply, deps);
    const connector = kind ? deps.providers.find(kind.toLowerCase()) : undefined;
    if (!connector) {
      const usages = deps.providers.list().map((p) => p.linkUsage).join(", ");
      throw new BridgeError("command-usage", "link without a known provider", {
        userMessage: kind
          ? `I don't know the provider \`${kind}\`. Available: ${usages}.`
          : `Usage: ${usages}.`,
      });
    }
    const parsed = connector.parseLinkArgs(rest);
    const number = parseInternationalNumber(parsed.number);
    const holder = deps.storage.links.roomOfNumber(connector.kind, number);
    if (holder && holder !== request.roomId) {
      throw new BridgeError("provider-number-taken", "number already linked to another control room", {
        userMessage: `${formatNumber(number)} is already linked to another control room. A number's webhooks can point at one room only: unlink it there first.`,
        context: { otherRoom: holder },
      });
    }
    deps.runtime.send(request.roomId, {
      type: "command.link",
      linkId: makeLinkId(),
      provider: connector.kind,
      accountRef: parsed.accountRef,
      number,
      credentials: parsed.credentials,
    });
  },
};

export const unlinkCommand: Command = {
  name: "unlink",
  usage: "unlink",
  summary: "give the number back: restore its previous webhooks and stop bridging it",
  needs: "room-admin",
  async run(request, _reply, deps) {
    deps.runtime.send(request.roomId, { type: "command.unlink" });
  },
};

export const statusCommand: Command = {
  name: "status",
  usage: "status",
  summary: "show the linked number, its state and the account balance",
  needs: "user",
  async run(request, _reply, deps) {
    deps.runtime.send(request.roomId, { type: "command.status" });
  },
};
