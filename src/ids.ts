import { randomBytes } from "node:crypto";

/**
 * Branded identifiers. Every id the bridge passes around is made here, by one constructor per
 * kind, so a Matrix room id can never be handed where a link id is expected and malformed input
 * is refused at the edge that received it.
 */
declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** A Matrix room id: `!opaque:server`, or just `!opaque` in room versions from 12 on. */
export type RoomId = Brand<string, "RoomId">;
/** A Matrix user id, `@localpart:server`. */
export type UserId = Brand<string, "UserId">;
/** A Matrix event id, `$opaque`. */
export type EventId = Brand<string, "EventId">;
/** A phone number in E.164 form, `+` and 2 to 15 digits. */
export type E164 = Brand<string, "E164">;
/** The bridge's own id for one linked phone number; it appears in webhook URLs. */
export type LinkId = Brand<string, "LinkId">;
/** The bridge's own id for one conversation (a control room and one contact). */
export type PortalId = Brand<string, "PortalId">;
/**
 * A remote party as a control room knows it: an E.164 number, `sc:<digits>` for a short code,
 * or `an:<name>` for an alphanumeric sender id (see contacts.ts).
 */
export type ContactId = Brand<string, "ContactId">;
/** The provider kind a link belongs to. */
export type ProviderKind = "twilio";

export class InvalidIdError extends Error {
  readonly code = "invalid-id";
  constructor(kind: string, value: string) {
    super(`not a valid ${kind}: ${JSON.stringify(value.slice(0, 80))}`);
  }
}

const ROOM_ID = /^![^\s]+$/;
const USER_ID = /^@[^:\s]+:\S+$/;
const EVENT_ID = /^\$\S+$/;
const E164_RE = /^\+[1-9]\d{1,14}$/;
const LINK_ID = /^lnk[0-9a-z]{16}$/;
const PORTAL_ID = /^cv[0-9a-z]{16}$/;

function check<T>(re: RegExp, kind: string, value: string): T {
  if (!re.test(value)) throw new InvalidIdError(kind, value);
  return value as T;
}

export const roomId = (value: string): RoomId => check<RoomId>(ROOM_ID, "room id", value);
export const userId = (value: string): UserId => check<UserId>(USER_ID, "user id", value);
export const eventId = (value: string): EventId => check<EventId>(EVENT_ID, "event id", value);
export const e164 = (value: string): E164 => check<E164>(E164_RE, "E.164 phone number", value);
export const linkId = (value: string): LinkId => check<LinkId>(LINK_ID, "link id", value);
export const portalId = (value: string): PortalId => check<PortalId>(PORTAL_ID, "portal id", value);

export const isE164 = (value: string): value is E164 => E164_RE.test(value);
export const isLinkId = (value: string): value is LinkId => LINK_ID.test(value);

function randomId(prefix: string): string {
  const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";
  let out = prefix;
  for (const b of randomBytes(16)) out += alphabet[b % 36];
  return out;
}

/** A fresh, unguessable link id: webhook URLs carry it, so it must not be enumerable. */
export const makeLinkId = (): LinkId => randomId("lnk") as LinkId;
export const makePortalId = (): PortalId => randomId("cv") as PortalId;

/** The server part of a user id (`@a:example.org` → `example.org`). */
export function serverOf(id: UserId): string {
  return id.slice(id.indexOf(":") + 1);
}
