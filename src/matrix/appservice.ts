import { AppService, Bridge, type AppServiceRegistration, type Intent } from "matrix-appservice-bridge";
import type { Config } from "../config/types.js";
import { eventId as toEventId, roomId as toRoomId, userId as toUserId, type EventId, type RoomId, type UserId } from "../ids.js";
import type { Logger } from "../log.js";
import { creatorsOf, parsePowerLevels, type MatrixGateway, type MatrixText, type PowerLevels } from "./gateway.js";
import { routeLibraryLogs } from "./library-logs.js";

/** A raw event as the homeserver pushes it in a transaction. */
export interface RawMatrixEvent {
  event_id: string;
  room_id: string;
  sender: string;
  type: string;
  state_key?: string;
  content: Record<string, unknown>;
  origin_server_ts?: number;
  unsigned?: Record<string, unknown>;
}

export interface AppserviceOptions {
  config: Config;
  registration: AppServiceRegistration;
  log: Logger;
  /**
   * Called synchronously for every event of a transaction before the homeserver gets its 200.
   * It must store the event; throwing makes the transaction fail, so the homeserver sends it again.
   */
  accept(event: RawMatrixEvent): void;
}

export interface RunningAppservice {
  gateway: MatrixGateway;
  bridge: Bridge;
  close(): Promise<void>;
}

/**
 * The Matrix side of the process: matrix-appservice-bridge's listener for homeserver transactions
 * and its intents for acting as the bot. Our listener on the appservice's "event" is attached
 * before the library's own, so every event is stored before the transaction is acknowledged.
 */
export async function startAppservice(options: AppserviceOptions): Promise<RunningAppservice> {
  const { config, registration, log } = options;
  routeLibraryLogs(log);
  const bridge = new Bridge({
    homeserverUrl: config.homeserver.url,
    domain: config.homeserver.domain,
    registration,
    disableStores: true,
    disableContext: true,
    suppressEcho: true,
    // The library would otherwise try to raise the bot's power level before sending.
    intentOptions: { bot: { dontCheckPowerLevel: true }, clients: { dontCheckPowerLevel: true } },
    controller: { onEvent: () => {} },
  });
  await bridge.initialise();

  const appService = new AppService({ homeserverToken: registration.getHomeserverToken()! });
  appService.on("event", (event: Record<string, unknown>) => options.accept(event as unknown as RawMatrixEvent));
  await bridge.listen(config.appservice.port, config.appservice.bindAddress, 10, appService);
  log.info({ bind: `${config.appservice.bindAddress}:${config.appservice.port}`, publicUrl: config.appservice.publicUrl }, "appservice listening");

  const gateway = new IntentGateway(bridge, config);
  void ensureBotProfile(bridge.getIntent(), config.appservice.botDisplayName, log);
  return { gateway, bridge, close: () => bridge.close() };
}

/** Sets the bot's display name once the homeserver answers; retried quietly while it doesn't. */
async function ensureBotProfile(intent: Intent, displayName: string, log: Logger, attempt = 1): Promise<void> {
  try {
    // Register the bot first: Synapse (1.163) fails a later registration of an appservice sender
    // that already has a profile row with an internal error instead of M_USER_IN_USE.
    await intent.botSdkIntent.ensureRegistered();
    // The appservice's sender has no profile row until one is set, so read errors mean "unset".
    const current = await intent.getProfileInfo(intent.userId, "displayname", false).catch(() => null);
    if (current?.displayname !== displayName) await intent.setDisplayName(displayName);
  } catch (err) {
    if (attempt >= 8) return log.warn({ err }, "could not set the bot's display name");
    await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 1_000 * 2 ** attempt)).unref());
    return ensureBotProfile(intent, displayName, log, attempt + 1);
  }
}

class IntentGateway implements MatrixGateway {
  readonly botUserId: UserId;
  private readonly ghostPrefix: string;
  private readonly domain: string;

  constructor(
    private readonly bridge: Bridge,
    config: Config,
  ) {
    this.botUserId = toUserId(bridge.botUserId);
    this.ghostPrefix = `@${config.appservice.ghostPrefix}`;
    this.domain = config.homeserver.domain;
  }

  private get bot(): Intent {
    return this.bridge.getIntent();
  }

  isBridgeUser(userId: string): boolean {
    return userId === this.botUserId || (userId.startsWith(this.ghostPrefix) && userId.endsWith(`:${this.domain}`));
  }

  async notice(roomId: RoomId, message: MatrixText): Promise<EventId> {
    const content: Record<string, unknown> = { msgtype: "m.notice", body: message.text };
    if (message.html) Object.assign(content, { format: "org.matrix.custom.html", formatted_body: message.html });
    const { event_id } = await this.bot.sendMessage(roomId, content);
    return toEventId(event_id);
  }

  async redact(roomId: RoomId, eventId: EventId, reason: string): Promise<void> {
    await this.bot.matrixClient.redactEvent(roomId, eventId, reason);
  }

  async join(roomId: RoomId): Promise<void> {
    await this.bot.join(roomId);
  }

  async leave(roomId: RoomId, reason?: string): Promise<void> {
    await this.bot.leave(roomId, reason);
  }

  async powerLevels(roomId: RoomId): Promise<PowerLevels> {
    // The whole state, because the create event's sender (not in its content) is a creator.
    const state = (await this.bot.matrixClient.getRoomState(roomId)) as { type: string; state_key: string; sender: string; content: Record<string, unknown> }[];
    const find = (type: string) => state.find((e) => e.type === type && e.state_key === "");
    return parsePowerLevels(find("m.room.power_levels")?.content, creatorsOf(find("m.room.create") ?? null));
  }

  async isEncrypted(roomId: RoomId): Promise<boolean> {
    const content = (await this.bot.getStateEvent(roomId, "m.room.encryption", "", true)) as Record<string, unknown> | null;
    return typeof content?.algorithm === "string";
  }

  async createControlRoom(invitee: UserId, name: string): Promise<RoomId> {
    const { room_id } = await this.bot.createRoom({
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
    });
    return toRoomId(room_id);
  }
}
