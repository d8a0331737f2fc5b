import { expect } from "vitest";
import { eventId, roomId as toRoomId, userId, type EventId, type RoomId, type UserId } from "../../src/ids.js";
import { parsePowerLevels, type MatrixGateway, type MatrixText, type PowerLevels } from "../../src/matrix/gateway.js";

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
  private nextEvent = 1;

  isBridgeUser(id: string): boolean {
    return id === this.botUserId || (id.startsWith("@_pstn_") && id.endsWith(":localhost"));
  }

  private check(method: keyof MatrixGateway) {
    if (this.failing.has(method)) throw Object.assign(new Error(`fake homeserver: ${method} is down`), { statusCode: 502 });
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
