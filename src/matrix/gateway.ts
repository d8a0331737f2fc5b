import type { EventId, RoomId, UserId } from "../ids.js";

/** A message for a Matrix room: plain text, and optionally the same as HTML. */
export interface MatrixText {
  text: string;
  html?: string;
}

export type Membership = "join" | "invite" | "leave" | "ban" | "knock";

/** A state event to put in a room when creating it. */
export interface InitialState {
  type: string;
  stateKey: string;
  content: Record<string, unknown>;
}

export interface PortalRoomOptions {
  invite: UserId[];
  name: string;
  topic: string;
  initialState: InitialState[];
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

  // Acting as another of the bridge's users (a phone-number ghost). Failures are BridgeErrors:
  // `matrix-unavailable` when the homeserver can't be reached (worth retrying), `matrix-rejected`
  // when it refused.

  /** Registers a ghost if it is new and sets its global display name. */
  ensureGhost(ghost: UserId, displayName: string): Promise<void>;
  /** Creates a portal room as `ghost`, inviting people; unencrypted, direct, private. */
  createPortalRoom(ghost: UserId, options: PortalRoomOptions): Promise<RoomId>;
  /**
   * Sends an event as `sender` with a transaction id of the caller's choosing: sending again with
   * the same id (after a crash) gives back the first event instead of a duplicate.
   */
  sendAs(sender: UserId, roomId: RoomId, txnId: string, content: Record<string, unknown>, type?: string): Promise<EventId>;
  /** Invites; inviting someone already joined or invited is not an error. */
  inviteAs(sender: UserId, roomId: RoomId, invitee: UserId): Promise<void>;
  kickAs(sender: UserId, roomId: RoomId, target: UserId, reason: string): Promise<void>;
  joinAs(user: UserId, roomId: RoomId): Promise<void>;
  leaveAs(user: UserId, roomId: RoomId): Promise<void>;
  setRoomNameAs(sender: UserId, roomId: RoomId, name: string): Promise<void>;
  sendStateAs(sender: UserId, roomId: RoomId, type: string, stateKey: string, content: Record<string, unknown>): Promise<void>;
  /** The display name `ghost` has in this room only (its member event), e.g. a pet name. */
  setRoomDisplayNameAs(ghost: UserId, roomId: RoomId, displayName: string): Promise<void>;
  readReceiptAs(user: UserId, roomId: RoomId, eventId: EventId): Promise<void>;
  /** Everyone's current membership of a room, read as `asUser` (the bot by default). */
  members(roomId: RoomId, asUser?: UserId): Promise<Map<string, Membership>>;
  /** A member's display name in a room, or null. */
  memberName(roomId: RoomId, userId: UserId, asUser?: UserId): Promise<string | null>;
  /** Uploads media as `asUser`; returns the mxc URI. */
  upload(data: Buffer, contentType: string, filename: string, asUser: UserId): Promise<string>;
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
