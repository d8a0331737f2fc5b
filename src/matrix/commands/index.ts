import { contactOfNumber } from "../../contacts.js";
import { BridgeError, userMessageOf, isBridgeError } from "../../errors.js";
import { e164 } from "../../ids.js";
import { adminLevel, powerOf } from "../gateway.js";
import { contactCommands } from "./contacts.js";
import { linkCommand, statusCommand, unlinkCommand } from "./link.js";
import type { Command, CommandDeps, CommandRequest } from "./types.js";

const helpCommand: Command = {
  name: "help",
  usage: "help",
  summary: "show this list",
  needs: "user",
  async run(_request, reply, deps) {
    const lines = ["**Commands** (type them in this room):"];
    for (const command of COMMANDS) {
      lines.push(`• \`${command.usage}\`: ${command.summary}${command.needs === "room-admin" ? " (room admins)" : ""}`);
    }
    const providers = deps.providers.list();
    if (providers.length) lines.push("", "**Linking:** " + providers.map((p) => p.linkUsage).join(", "));
    lines.push(
      "",
      `Everyone in this room shares the linked number. Each contact gets a room of its own: texts you write there go to the contact, theirs appear there. You can also start a DM with a number's ghost (e.g. ${deps.ghosts.userIdOf(contactOfNumber(e164("+15550100134")))}) instead of \`dial\`.`,
      "End-to-end encrypted rooms are not supported yet.",
    );
    reply(lines.join("\n"));
  },
};

export const COMMANDS: readonly Command[] = [helpCommand, linkCommand, unlinkCommand, statusCommand, ...contactCommands];

/** Splits a message into a command name and arguments; an optional leading `!pstn` is allowed. */
export function parseCommand(body: string): { name: string; args: string[] } | null {
  const words = body.trim().split(/\s+/).filter(Boolean);
  if (words[0]?.toLowerCase() === "!pstn") words.shift();
  const [name, ...args] = words;
  return name ? { name: name.toLowerCase(), args } : null;
}

/** Runs one command from a control room, answering every outcome (success, refusal, error) in the room. */
export async function runCommand(
  body: string,
  request: Omit<CommandRequest, "args">,
  reply: (text: string) => void,
  deps: CommandDeps,
): Promise<void> {
  const parsed = parseCommand(body);
  if (!parsed) return;
  const command = COMMANDS.find((c) => c.name === parsed.name);
  if (!command) {
    reply(`Unknown command \`${parsed.name.slice(0, 40)}\`. Type \`help\` to see what I understand.`);
    return;
  }
  const full: CommandRequest = { ...request, args: parsed.args };
  try {
    if (command.needs === "room-admin") await requireRoomAdmin(command.name, full, deps);
    await command.run(full, reply, deps);
  } catch (err) {
    if (!isBridgeError(err)) deps.log.error({ err, command: command.name, roomId: request.roomId }, "command failed");
    else if (err.code !== "command-usage") deps.log.info({ code: err.code, command: command.name, ...err.context }, "command refused");
    reply(userMessageOf(err));
  }
}

async function requireRoomAdmin(name: string, request: CommandRequest, deps: CommandDeps): Promise<void> {
  if (deps.permissions.levelOf(request.sender) === "admin") return;
  const levels = await deps.matrix.powerLevels(request.roomId);
  if (powerOf(levels, request.sender) >= adminLevel(levels)) return;
  throw new BridgeError("permission-denied", "room admin power needed", {
    userMessage: `Only this room's admins (power level ${adminLevel(levels)}) can use \`${name}\`.`,
  });
}
