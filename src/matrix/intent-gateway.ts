import type { Bridge, Intent } from "matrix-appservice-bridge";
import type { Config } from "../config/types.js";
import { BridgeError, isBridgeError } from "../errors.js";
import { eventId as toEventId, roomId as toRoomId, userId as toUserId, type EventId, type RoomId, type UserId } from "../ids.js";
import {
  creatorsOf,
  parsePowerLevels,
  type MatrixGateway,
  type MatrixText,
  type Membership,
  type PortalRoomOptions,
  type PowerLevels,
} from "./gateway.js";
import type { MatrixMedia } from "./media.js";

const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "EPIPE", "EHOSTUNREACH", "UND_ERR_SOCKET"]);

interface SdkFailure {
  statusCode?: number;
  errcode?: string;
  code?: string;
  message?: string;
  body?: { errcode?: string; error?: string };
}

/** Classifies what the bot-sdk threw: the homeserver was out of reach, or it said no. */
export function toMatrixError(err: unknown, action: string): BridgeError {
  if (isBridgeError(err)) return err;
  const failure = (typeof err === "object" && err !== null ? err : {}) as SdkFailure;
  const status = failure.statusCode;
  const errcode = failure.errcode ?? failure.body?.errcode;
  const context = { action, status, errcode };
  const unreachable =
    status === undefined
      ? typeof failure.code === "string" && (NETWORK_CODES.has(failure.code) || failure.code.startsWith("UND_ERR"))
      : status === 429 || status >= 500;
  if (unreachable || (status === undefined && !errcode)) {
    return new BridgeError("matrix-unavailable", `homeserver unreachable while trying to ${action}`, {
      userMessage: "The homeserver can't be reached right now; the bridge will keep trying.",
      context,
      cause: err,
    });
  }
  return new BridgeError("matrix-rejected", `homeserver refused to ${action}: ${errcode ?? status}`, {
    userMessage: `The homeserver refused to ${action} (${errcode ?? `HTTP ${status}`}).`,
    context,
    cause: err,
  });
}

async function call<T>(action: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toMatrixError(err, action);
  }
}

const enc = encodeURIComponent;

/** The homeserver as the bridge's users see it, through matrix-appservice-bridge's intents. */
export class IntentGateway implements MatrixGateway {
  readonly botUserId: UserId;
  private readonly ghostPrefix: string;
  private readonly domain: string;

  constructor(
    private readonly bridge: Bridge,
    config: Config,
    private readonly media: MatrixMedia,
  ) {
    this.botUserId = toUserId(bridge.botUserId);
    this.ghostPrefix = `@${config.appservice.ghostPrefix}`;
    this.domain = config.homeserver.domain;
  }

  private get bot(): Intent {
    return this.bridge.getIntent();
  }

  private as(user: UserId): Intent {
    return user === this.botUserId ? this.bot : this.bridge.getIntent(user);
  }

  isBridgeUser(userId: string): boolean {
    return userId === this.botUserId || (userId.startsWith(this.ghostPrefix) && userId.endsWith(`:${this.domain}`));
  }

  async notice(roomId: RoomId, message: MatrixText): Promise<EventId> {
    const content: Record<string, unknown> = { msgtype: "m.notice", body: message.text };
    if (message.html) Object.assign(content, { format: "org.matrix.custom.html", formatted_body: message.html });
    const { event_id } = await call("send a notice", () => this.bot.sendMessage(roomId, content));
    return toEventId(event_id);
  }

  async redact(roomId: RoomId, eventId: EventId, reason: string): Promise<void> {
    await call("redact a message", () => this.bot.matrixClient.redactEvent(roomId, eventId, reason));
  }

  async join(roomId: RoomId): Promise<void> {
    await call("join a room", () => this.bot.join(roomId));
  }

  async leave(roomId: RoomId, reason?: string): Promise<void> {
    await call("leave a room", () => this.bot.leave(roomId, reason));
  }

  async powerLevels(roomId: RoomId): Promise<PowerLevels> {
    // The whole state, because the create event's sender (not in its content) is a creator.
    const state = (await call("read the room's state", () => this.bot.matrixClient.getRoomState(roomId))) as {
      type: string;
      state_key: string;
      sender: string;
      content: Record<string, unknown>;
    }[];
    const find = (type: string) => state.find((e) => e.type === type && e.state_key === "");
    return parsePowerLevels(find("m.room.power_levels")?.content, creatorsOf(find("m.room.create") ?? null));
  }

  async isEncrypted(roomId: RoomId): Promise<boolean> {
    const content = (await call("read the room's encryption", () => this.bot.getStateEvent(roomId, "m.room.encryption", "", true))) as
      | Record<string, unknown>
      | null;
    return typeof content?.algorithm === "string";
  }

  async createControlRoom(invitee: UserId, name: string): Promise<RoomId> {
    const { room_id } = await call("create a control room", () =>
      this.bot.createRoom({
        createAsClient: true,
        options: {
          preset: "private_chat",
          visibility: "private",
          name,
          topic: "Control room of the phone bridge: type `help`",
          invite: [invitee],
          is_direct: true,
          // From room version 12 the creator's power is implicit and must not be listed.
          power_level_content_override: { users: { [invitee]: 100 } },
        },
      }),
    );
    return toRoomId(room_id);
  }

  async ensureGhost(ghost: UserId, displayName: string): Promise<void> {
    const intent = this.as(ghost);
    await call("register a ghost", () => intent.ensureRegistered());
    const current = await intent.getProfileInfo(ghost, "displayname", false).catch(() => null);
    if (current?.displayname !== displayName) await call("name a ghost", () => intent.setDisplayName(displayName));
  }

  async createPortalRoom(ghost: UserId, options: PortalRoomOptions): Promise<RoomId> {
    const { room_id } = await call("create a portal room", () =>
      this.as(ghost).createRoom({
        createAsClient: true,
        options: {
          preset: "private_chat",
          visibility: "private",
          is_direct: true,
          name: options.name,
          topic: options.topic,
          invite: options.invite,
          initial_state: options.initialState.map((s) => ({ type: s.type, state_key: s.stateKey, content: s.content })),
        },
      }),
    );
    return toRoomId(room_id);
  }

  async sendAs(sender: UserId, roomId: RoomId, txnId: string, content: Record<string, unknown>, type = "m.room.message"): Promise<EventId> {
    const client = this.as(sender).botSdkIntent.underlyingClient;
    const { event_id } = (await call("send a message", () =>
      client.doRequest("PUT", `/_matrix/client/v3/rooms/${enc(roomId)}/send/${enc(type)}/${enc(txnId)}`, null, content),
    )) as { event_id: string };
    return toEventId(event_id);
  }

  async inviteAs(sender: UserId, roomId: RoomId, invitee: UserId): Promise<void> {
    try {
      await this.as(sender).botSdkIntent.underlyingClient.inviteUser(invitee, roomId);
    } catch (err) {
      const mapped = toMatrixError(err, "invite someone");
      // Synapse refuses to invite a member who is already joined or invited; that is fine here.
      if (mapped.code === "matrix-rejected" && /already in the room|is already invited/i.test(String((err as SdkFailure).body?.error ?? ""))) return;
      throw mapped;
    }
  }

  async kickAs(sender: UserId, roomId: RoomId, target: UserId, reason: string): Promise<void> {
    await call("remove someone from a room", () => this.as(sender).botSdkIntent.underlyingClient.kickUser(target, roomId, reason));
  }

  async joinAs(user: UserId, roomId: RoomId): Promise<void> {
    await call("join a room", () => this.as(user).join(roomId));
  }

  async leaveAs(user: UserId, roomId: RoomId): Promise<void> {
    await call("leave a room", () => this.as(user).leave(roomId));
  }

  async setRoomNameAs(sender: UserId, roomId: RoomId, name: string): Promise<void> {
    await call("rename a room", () => this.as(sender).botSdkIntent.underlyingClient.sendStateEvent(roomId, "m.room.name", "", { name }));
  }

  async sendStateAs(sender: UserId, roomId: RoomId, type: string, stateKey: string, content: Record<string, unknown>): Promise<void> {
    await call("set room state", () => this.as(sender).botSdkIntent.underlyingClient.sendStateEvent(roomId, type, stateKey, content));
  }

  async setRoomDisplayNameAs(ghost: UserId, roomId: RoomId, displayName: string): Promise<void> {
    const client = this.as(ghost).botSdkIntent.underlyingClient;
    const current = (await call("read a member", () => client.getRoomStateEvent(roomId, "m.room.member", ghost))) as Record<string, unknown>;
    await call("set a display name in a room", () =>
      client.sendStateEvent(roomId, "m.room.member", ghost, { ...current, membership: "join", displayname: displayName }),
    );
  }

  async readReceiptAs(user: UserId, roomId: RoomId, eventId: EventId): Promise<void> {
    await call("send a read receipt", () => this.as(user).botSdkIntent.underlyingClient.sendReadReceipt(roomId, eventId));
  }

  async members(roomId: RoomId, asUser: UserId = this.botUserId): Promise<Map<string, Membership>> {
    const { chunk } = (await call("list a room's members", () =>
      this.as(asUser).botSdkIntent.underlyingClient.doRequest("GET", `/_matrix/client/v3/rooms/${enc(roomId)}/members`),
    )) as { chunk: { state_key: string; content: { membership: Membership } }[] };
    return new Map(chunk.map((e) => [e.state_key, e.content.membership]));
  }

  async memberName(roomId: RoomId, userId: UserId, asUser: UserId = this.botUserId): Promise<string | null> {
    try {
      const content = (await this.as(asUser).botSdkIntent.underlyingClient.getRoomStateEvent(roomId, "m.room.member", userId)) as {
        displayname?: unknown;
      };
      return typeof content.displayname === "string" && content.displayname ? content.displayname : null;
    } catch (err) {
      const mapped = toMatrixError(err, "read a member's name");
      if (mapped.code === "matrix-rejected") return null;
      throw mapped;
    }
  }

  async upload(data: Buffer, contentType: string, filename: string, asUser: UserId): Promise<string> {
    return this.media.upload(data, { contentType, filename, asUser });
  }
}
