import { AppService, Bridge, type AppServiceRegistration, type Intent } from "matrix-appservice-bridge";
import type { Config } from "../config/types.js";
import type { Logger } from "../log.js";
import type { MatrixGateway } from "./gateway.js";
import { IntentGateway } from "./intent-gateway.js";
import { routeLibraryLogs } from "./library-logs.js";
import { MatrixMedia } from "./media.js";
import { PSTN_PROTOCOLS } from "./registration.js";
import { Secret } from "../secret.js";

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
  /**
   * The homeserver asks whether a user in our namespace exists (someone invited a ghost that was
   * never used): a display name to create it with, or null for "no such user".
   */
  userQuery(userId: string): { name: string } | null;
  /** Element's dial pad (MSC2845): the ghost for a number as typed, or none. */
  lookupPhone(input: string): Promise<string | null>;
}

export interface RunningAppservice {
  gateway: MatrixGateway;
  media: MatrixMedia;
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
    controller: {
      onEvent: () => {},
      onUserQuery: (user) => options.userQuery(user.getId()) ?? null,
      thirdPartyLookup: {
        protocols: PSTN_PROTOCOLS,
        getProtocol: () => ({
          user_fields: ["m.id.phone"],
          location_fields: [],
          icon: "",
          field_types: { "m.id.phone": { regexp: "[+0-9()\\s.-]+", placeholder: "+1 555 010 0134" } },
          instances: [{ desc: "Phone", network_id: "pstn", fields: {} }],
        }),
        getUser: async (protocol, fields) => {
          const typed = fields["m.id.phone"];
          const input = Array.isArray(typed) ? typed[0] : typed;
          if (!input) return [];
          const userid = await options.lookupPhone(input);
          // The number is echoed as typed: Element shows it, and MSC2845 says not to canonicalise.
          return userid ? [{ userid, protocol, fields: { "m.id.phone": input } }] : [];
        },
        getLocation: () => [],
      },
    },
  });
  await bridge.initialise();

  const appService = new AppService({ homeserverToken: registration.getHomeserverToken()! });
  appService.on("event", (event: Record<string, unknown>) => options.accept(event as unknown as RawMatrixEvent));
  // The library doesn't answer the homeserver's ping (spec v1.7); without it Synapse's ping fails.
  appService.expressApp.post("/_matrix/app/v1/ping", (req, res) => {
    if ((appService as unknown as { isInvalidToken(q: unknown, s: unknown): boolean }).isInvalidToken(req, res)) return;
    res.json({});
  });
  await bridge.listen(config.appservice.port, config.appservice.bindAddress, 10, appService);
  log.info({ bind: `${config.appservice.bindAddress}:${config.appservice.port}`, publicUrl: config.appservice.publicUrl }, "appservice listening");

  const media = new MatrixMedia({ homeserverUrl: config.homeserver.url, asToken: new Secret(registration.getAppServiceToken()!) });
  const gateway = new IntentGateway(bridge, config, media);
  void ensureBotProfile(bridge.getIntent(), config.appservice.botDisplayName, log);
  const pinging = pingUntilHeard(bridge.getIntent(), config.appservice.id, log);
  return {
    gateway,
    media,
    bridge,
    close: async () => {
      pinging.stop();
      await bridge.close();
    },
  };
}

/**
 * Asks the homeserver to ping the bridge (MSC2659), until it succeeds. A successful ping makes
 * Synapse resend at once the transactions it queued while the bridge was down, instead of waiting
 * out its backoff, which can grow to minutes after a few restarts.
 */
function pingUntilHeard(intent: Intent, appserviceId: string, log: Logger): { stop(): void } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const attempt = async (n: number): Promise<void> => {
    if (stopped) return;
    try {
      await intent.botSdkIntent.underlyingClient.doRequest(
        "POST",
        `/_matrix/client/v1/appservice/${encodeURIComponent(appserviceId)}/ping`,
        null,
        { transaction_id: `pstn-start-${Date.now()}` },
      );
      log.info("homeserver reached the appservice (ping)");
    } catch (err) {
      if (n === 1) log.warn({ err }, "the homeserver could not ping the appservice yet; retrying");
      timer = setTimeout(() => void attempt(n + 1), Math.min(30_000, 1_000 * n));
      timer.unref();
    }
  };
  void attempt(1);
  return {
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
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
