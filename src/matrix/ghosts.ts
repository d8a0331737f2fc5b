import { senderOf, WITHHELD } from "../contacts.js";
import { isE164, userId, type ContactId, type UserId } from "../ids.js";

/**
 * One ghost user per remote party: `@<prefix><digits>` for a phone number (no "+"),
 * `@<prefix>sc_<digits>` for a short code and `@<prefix>an_<name>` for an alphanumeric sender id,
 * its characters escaped the way Matrix ids escape (`=2e` for "."), lowercased letters kept apart
 * from uppercase ones with "_" (the spec's "historical" mapping: "A" → "_a").
 */
export class Ghosts {
  constructor(
    private readonly prefix: string,
    private readonly domain: string,
  ) {}

  userIdOf(contact: ContactId): UserId {
    const sender = senderOf(contact);
    const local =
      sender.kind === "number"
        ? sender.number.slice(1)
        : sender.kind === "short-code"
          ? `sc_${sender.code}`
          : sender.kind === "withheld"
            ? "anonymous"
            : `an_${escapeLocalpart(sender.name)}`;
    return userId(`@${this.prefix}${local}:${this.domain}`);
  }

  /** The contact a ghost stands for, or null if the id is not one of our ghosts. */
  contactOf(id: string): ContactId | null {
    const head = `@${this.prefix}`;
    const tail = `:${this.domain}`;
    if (!id.startsWith(head) || !id.endsWith(tail)) return null;
    const local = id.slice(head.length, id.length - tail.length);
    if (/^[1-9]\d{1,14}$/.test(local) && isE164(`+${local}`)) return `+${local}` as ContactId;
    if (/^sc_\d{3,8}$/.test(local)) return `sc:${local.slice(3)}` as ContactId;
    if (local === "anonymous") return WITHHELD;
    if (local.startsWith("an_")) {
      const name = unescapeLocalpart(local.slice(3));
      return name ? (`an:${name}` as ContactId) : null;
    }
    return null;
  }

  isGhost(id: string): boolean {
    return this.contactOf(id) !== null;
  }
}

function escapeLocalpart(name: string): string {
  let out = "";
  for (const ch of name) {
    if (/[a-z0-9]/.test(ch)) out += ch;
    else if (/[A-Z]/.test(ch)) out += `_${ch.toLowerCase()}`;
    else out += `=${ch.charCodeAt(0).toString(16).padStart(2, "0")}`;
  }
  return out;
}

function unescapeLocalpart(local: string): string | null {
  let out = "";
  for (let i = 0; i < local.length; i++) {
    const ch = local[i]!;
    if (ch === "_") {
      const next = local[++i];
      if (!next || !/[a-z]/.test(next)) return null;
      out += next.toUpperCase();
    } else if (ch === "=") {
      const hex = local.slice(i + 1, i + 3);
      if (!/^[0-9a-f]{2}$/.test(hex)) return null;
      out += String.fromCharCode(parseInt(hex, 16));
      i += 2;
    } else if (/[a-z0-9]/.test(ch)) out += ch;
    else return null;
  }
  return out;
}
