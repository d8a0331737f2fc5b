import type { EventId, RoomId, UserId } from "../ids.js";

/** A message for a Matrix room: plain text, and optionally the same as HTML. */
export interface MatrixText {
  text: string;
  html?: string;
}

export interface PowerLevels {
  /** Room creators; from room version 12 on they outrank every power level. */
  creators: string[];
  users: Record<string, number>;
  usersDefault: number;
  events: Record<string, number>;
  stateDefault: number;
  redact: number;
}

/**
 * What the bridge needs from the homeserver, as the bot. Implemented over matrix-appservice-bridge
 * in `appservice.ts`; tests give a fake. Every method may reject when the homeserver is
 * unreachable or refuses; callers decide whether that matters.
 */
export interface MatrixGateway {
  readonly botUserId: UserId;
  /** Is this user id one of ours (the bot or a phone-number ghost)? */
  isBridgeUser(userId: string): boolean;
  notice(roomId: RoomId, message: MatrixText): Promise<EventId>;
  redact(roomId: RoomId, eventId: EventId, reason: string): Promise<void>;
  join(roomId: RoomId): Promise<void>;
  leave(roomId: RoomId, reason?: string): Promise<void>;
  powerLevels(roomId: RoomId): Promise<PowerLevels>;
  isEncrypted(roomId: RoomId): Promise<boolean>;
  /** Creates an unencrypted room for `invitee`, who gets admin power alongside the bot. */
  createControlRoom(invitee: UserId, name: string): Promise<RoomId>;
}

export function powerOf(levels: PowerLevels, userId: string): number {
  if (levels.creators.includes(userId)) return Infinity;
  return levels.users[userId] ?? levels.usersDefault;
}

/** The power a room requires to change its power levels: what the room itself calls an admin. */
export function adminLevel(levels: PowerLevels): number {
  return levels.events["m.room.power_levels"] ?? levels.stateDefault;
}

/** A room's create event, as far as power is concerned. */
export interface CreateEvent {
  sender: string;
  content: Record<string, unknown>;
}

/**
 * The users a room's create event makes all-powerful: from room version 12 on (MSC4289), the
 * creator and any `additional_creators`, who must not appear in the power-levels `users` map.
 */
export function creatorsOf(create: CreateEvent | null): string[] {
  if (!create) return [];
  const version = Number(create.content.room_version ?? "1");
  if (!Number.isFinite(version) || version < 12) return [];
  const additional = Array.isArray(create.content.additional_creators) ? create.content.additional_creators : [];
  return [create.sender, ...additional.filter((u): u is string => typeof u === "string")];
}

/** Reads an `m.room.power_levels` content with the spec's defaults for missing keys. */
export function parsePowerLevels(content: Record<string, unknown> | null | undefined, creators: string[] = []): PowerLevels {
  const num = (value: unknown, fallback: number) => (typeof value === "number" && Number.isFinite(value) ? value : fallback);
  const map = (value: unknown) =>
    Object.fromEntries(
      Object.entries(typeof value === "object" && value !== null ? value : {}).filter(([, v]) => typeof v === "number"),
    ) as Record<string, number>;
  // Without a power_levels event the room creator has 100 and everyone may do everything.
  if (!content) return { creators, users: {}, usersDefault: 0, events: {}, stateDefault: 0, redact: 0 };
  return {
    creators,
    users: map(content.users),
    usersDefault: num(content.users_default, 0),
    events: map(content.events),
    stateDefault: num(content.state_default, 50),
    redact: num(content.redact, 50),
  };
}
