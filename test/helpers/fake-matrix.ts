import { expect } from "vitest";
import { BridgeError } from "../../src/errors.js";
import { eventId, roomId as toRoomId, userId, type EventId, type RoomId, type UserId } from "../../src/ids.js";
import { parsePowerLevels, type MatrixGateway, type MatrixText, type Membership, type PortalRoomOptions, type PowerLevels } from "../../src/matrix/gateway.js";

export interface FakeEvent {
  eventId: EventId;
  sender: UserId;
  type: string;
  content: Record<string, unknown>;
}

/** A room as the fake homeserver keeps it. */
export interface FakeRoom {
  creator: UserId;
  options?: PortalRoomOptions;
  name?: string;
  members: Map<string, Membership>;
  roomNames: Map<string, string>;
  events: FakeEvent[];
  txns: Map<string, EventId>;
  receipts: { user: UserId; eventId: EventId }[];
  state: Map<string, Record<string, unknown>>;
}

/**
 * An in-memory homeserver as the bot sees it: records what the bridge did (notices, redactions,
 * joins) and lets a test set room power levels and encryption. `expect…` helpers keep tests short.
 */
export class FakeMatrix implements MatrixGateway {
  readonly botUserId: UserId = userId("@_pstn_:localhost");
  readonly notices: { roomId: RoomId; text: string }[] = [];
  readonly redactions: { roomId: RoomId; eventId: EventId }[] = [];
  readonly joined = new Set<string>();
  readonly left: string[] = [];
  readonly created: { roomId: RoomId; invitee: UserId }[] = [];
  powers = new Map<string, PowerLevels>();
  encrypted = new Set<string>();
  /** Make the next calls of a method fail, to act out a homeserver outage. */
  failing = new Set<keyof MatrixGateway>();
  /** Every call fails as if the homeserver were down. */
  down = false;
  readonly rooms = new Map<string, FakeRoom>();
  readonly ghosts = new Map<string, string>();
  readonly uploads: { mxc: string; data: Buffer; contentType: string; asUser: UserId }[] = [];
  private nextEvent = 1;

  isBridgeUser(id: string): boolean {
    return id === this.botUserId || (id.startsWith("@_pstn_") && id.endsWith(":localhost"));
  }

  private check(method: keyof MatrixGateway) {
    if (this.down || this.failing.has(method)) {
      throw new BridgeError("matrix-unavailable", `fake homeserver: ${method} is down`);
    }
  }

  /** A room the test or the bridge made; control rooms are made on first use. */
  room(roomId: string): FakeRoom {
    let room = this.rooms.get(roomId);
    if (!room) {
      room = { creator: this.botUserId, members: new Map(), roomNames: new Map(), events: [], txns: new Map(), receipts: [], state: new Map() };
      this.rooms.set(roomId, room);
    }
    return room;
  }

  async notice(roomId: RoomId, message: MatrixText): Promise<EventId> {
    this.check("notice");
    this.notices.push({ roomId, text: message.text });
    return eventId(`$notice${this.nextEvent++}`);
  }
  async redact(roomId: RoomId, id: EventId): Promise<void> {
    this.check("redact");
    this.redactions.push({ roomId, eventId: id });
  }
  async join(roomId: RoomId): Promise<void> {
    this.check("join");
    this.joined.add(roomId);
  }
  async leave(roomId: RoomId): Promise<void> {
    this.check("leave");
    this.joined.delete(roomId);
    this.left.push(roomId);
  }
  async powerLevels(roomId: RoomId): Promise<PowerLevels> {
    this.check("powerLevels");
    return this.powers.get(roomId) ?? parsePowerLevels({ users: {} });
  }
  async isEncrypted(roomId: RoomId): Promise<boolean> {
    return this.encrypted.has(roomId);
  }
  async createControlRoom(invitee: UserId): Promise<RoomId> {
    const id = toRoomId(`!created${this.created.length + 1}:localhost`);
    this.created.push({ roomId: id, invitee });
    return id;
  }

  async ensureGhost(ghost: UserId, displayName: string): Promise<void> {
    this.check("ensureGhost");
    this.ghosts.set(ghost, displayName);
  }
  async createPortalRoom(ghost: UserId, options: PortalRoomOptions): Promise<RoomId> {
    this.check("createPortalRoom");
    const id = toRoomId(`!portal${this.rooms.size + 1}:localhost`);
    const room = this.room(id);
    room.creator = ghost;
    room.options = options;
    room.name = options.name;
    room.members.set(ghost, "join");
    for (const user of options.invite) room.members.set(user, "invite");
    for (const s of options.initialState) room.state.set(`${s.type}|${s.stateKey}`, s.content);
    return id;
  }
  async sendAs(sender: UserId, roomId: RoomId, txnId: string, content: Record<string, unknown>, type = "m.room.message"): Promise<EventId> {
    this.check("sendAs");
    const room = this.room(roomId);
    const key = `${sender}|${txnId}`;
    const seen = room.txns.get(key);
    if (seen) return seen;
    const id = eventId(`$ev${this.nextEvent++}`);
    room.events.push({ eventId: id, sender, type, content });
    room.txns.set(key, id);
    return id;
  }
  async inviteAs(_sender: UserId, roomId: RoomId, invitee: UserId): Promise<void> {
    this.check("inviteAs");
    const room = this.room(roomId);
    if (room.members.get(invitee) !== "join") room.members.set(invitee, "invite");
  }
  async kickAs(_sender: UserId, roomId: RoomId, target: UserId): Promise<void> {
    this.check("kickAs");
    this.room(roomId).members.set(target, "leave");
  }
  async joinAs(user: UserId, roomId: RoomId): Promise<void> {
    this.check("joinAs");
    this.room(roomId).members.set(user, "join");
  }
  async leaveAs(user: UserId, roomId: RoomId): Promise<void> {
    this.check("leaveAs");
    this.room(roomId).members.set(user, "leave");
  }
  async setRoomNameAs(_sender: UserId, roomId: RoomId, name: string): Promise<void> {
    this.check("setRoomNameAs");
    this.room(roomId).name = name;
  }
  async sendStateAs(_sender: UserId, roomId: RoomId, type: string, stateKey: string, content: Record<string, unknown>): Promise<void> {
    this.check("sendStateAs");
    this.room(roomId).state.set(`${type}|${stateKey}`, content);
  }
  async setRoomDisplayNameAs(ghost: UserId, roomId: RoomId, displayName: string): Promise<void> {
    this.check("setRoomDisplayNameAs");
    this.room(roomId).roomNames.set(ghost, displayName);
  }
  async readReceiptAs(user: UserId, roomId: RoomId, id: EventId): Promise<void> {
    this.check("readReceiptAs");
    this.room(roomId).receipts.push({ user, eventId: id });
  }
  async members(roomId: RoomId): Promise<Map<string, Membership>> {
    this.check("members");
    return new Map(this.room(roomId).members);
  }
  async memberName(roomId: RoomId, user: UserId): Promise<string | null> {
    this.check("memberName");
    return this.room(roomId).roomNames.get(user) ?? null;
  }
  async upload(data: Buffer, contentType: string, _filename: string, asUser: UserId): Promise<string> {
    this.check("upload");
    const mxc = `mxc://localhost/upload${this.uploads.length + 1}`;
    this.uploads.push({ mxc, data, contentType, asUser });
    return mxc;
  }

  /** Media the bridge uploaded (or a test put there), as the homeserver would serve it. */
  async download(mxc: string): Promise<{ data: Buffer; contentType: string; size: number }> {
    const upload = this.uploads.find((u) => u.mxc === mxc);
    if (!upload) throw new BridgeError("media-not-found", "no such media");
    return { data: upload.data, contentType: upload.contentType, size: upload.data.length };
  }

  /** Messages posted in a room by anyone but the test, oldest first. */
  posted(roomId: string): FakeEvent[] {
    return this.room(roomId).events;
  }

  /** The one portal room the bridge made, for tests with a single contact. */
  onlyPortal(): string {
    const portals = [...this.rooms.entries()].filter(([, r]) => r.options).map(([id]) => id);
    expect(portals, "exactly one portal room").toHaveLength(1);
    return portals[0]!;
  }

  setPower(roomId: string, users: Record<string, number>, extra: Record<string, unknown> = {}): void {
    this.powers.set(roomId, parsePowerLevels({ users, ...extra }));
  }

  noticesIn(roomId: string): string[] {
    return this.notices.filter((n) => n.roomId === roomId).map((n) => n.text);
  }

  expectNotice(roomId: string, match: RegExp): void {
    expect(this.noticesIn(roomId), `a notice matching ${match} in ${roomId}`).toEqual(expect.arrayContaining([expect.stringMatching(match)]));
  }

  expectNoNotice(roomId: string): void {
    expect(this.noticesIn(roomId)).toEqual([]);
  }
}

/** Waits until a condition holds, for effects that land on later ticks. */
export async function eventually(check: () => void, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
