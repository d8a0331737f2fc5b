import { BridgeError } from "./errors.js";
import { isE164, type ContactId, type E164 } from "./ids.js";
import { formatNumber } from "./numbers.js";
import type { Sender } from "./providers/events.js";

/**
 * Remote parties. Phone numbers are kept as E.164; short codes and alphanumeric sender ids get a
 * prefix so the three can never be confused, and each maps to exactly one ghost user.
 */

export function contactOf(sender: Sender): ContactId {
  switch (sender.kind) {
    case "number":
      return sender.number as string as ContactId;
    case "short-code":
      return `sc:${sender.code}` as ContactId;
    case "alphanumeric":
      return `an:${sender.name}` as ContactId;
    case "withheld":
      return WITHHELD;
  }
}

/** The one contact every call with a withheld number belongs to (its ghost is `…anonymous`). */
export const WITHHELD = "anonymous" as ContactId;

export const contactOfNumber = (number: E164): ContactId => number as string as ContactId;

export function senderOf(contact: ContactId): Sender {
  if (contact === WITHHELD) return { kind: "withheld" };
  if (isE164(contact)) return { kind: "number", number: contact };
  if (contact.startsWith("sc:")) return { kind: "short-code", code: contact.slice(3) };
  if (contact.startsWith("an:")) return { kind: "alphanumeric", name: contact.slice(3) };
  throw new BridgeError("internal", "stored contact id of an unknown form", { context: { contact } });
}

/** The number to text a contact at, or null when it can't be texted (an alphanumeric sender). */
export function addressOf(contact: ContactId): string | null {
  const sender = senderOf(contact);
  return sender.kind === "number" ? sender.number : sender.kind === "short-code" ? sender.code : null;
}

/** How a contact is shown: its pet name if it has one, else its formatted number or sender id. */
export function displayName(contact: ContactId, petName?: string | null): string {
  if (petName) return petName;
  const sender = senderOf(contact);
  switch (sender.kind) {
    case "number":
      return formatNumber(sender.number);
    case "short-code":
      return `Short code ${sender.code}`;
    case "alphanumeric":
      return sender.name;
    case "withheld":
      return "Withheld number";
  }
}
