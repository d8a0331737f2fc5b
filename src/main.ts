import { startRuntime } from "./actors/runtime.js";
import { systemClock, type Clock } from "./clock.js";
import type { Config } from "./config/types.js";
import { buildAdminApp } from "./http/admin-app.js";
import { buildWebhookApp } from "./http/webhook-app.js";
import { createLogger, type Logger } from "./log.js";
import { startAppservice, type RawMatrixEvent } from "./matrix/appservice.js";
import { createEventHandler } from "./matrix/handler.js";
import { MatrixInbox } from "./matrix/inbox.js";
import { Notifier } from "./matrix/notifier.js";
import { Permissions } from "./matrix/permissions.js";
import { loadRegistration } from "./matrix/registration.js";
import { markup } from "./matrix/text.js";
import { formatNumber } from "./numbers.js";
import type { ProviderEvent } from "./providers/events.js";
import { ProviderRegistry } from "./providers/registry.js";
import { resolveCredentialKey } from "./storage/credentials.js";
import { openStorage } from "./storage/index.js";

export interface RunningBridge {
  log: Logger;
  close(): Promise<void>;
}

const DAY_MS = 24 * 60 * 60_000;
/** How long handled Matrix event ids are kept to recognise replayed transactions. */
const EVENT_ID_RETENTION_MS = 7 * DAY_MS;

/**
 * Starts the whole bridge: storage, the actor tree restored from it, the appservice listener, the
 * webhook listener and the admin listener. Resolves once everything listens.
 */
export async function runBridge(config: Config, registrationPath: string, clock: Clock = systemClock): Promise<RunningBridge> {
  const log = createLogger(config.logging);
  const storage = openStorage(config.database.path, resolveCredentialKey(config.database.credentialKey));
  const closers: (() => Promise<void> | void)[] = [() => storage.close()];
  try {
    const providers = ProviderRegistry.fromConfig(config);
    const registration = loadRegistration(config, registrationPath);
    let handle: (event: RawMatrixEvent) => Promise<void> = async () => {};
    const inbox = new MatrixInbox(storage.matrixEvents, (event) => handle(event), clock, log.child({ component: "inbox" }));

    const appservice = await startAppservice({ config, registration, log, accept: (event) => inbox.accept(event) });
    closers.unshift(() => appservice.close());
    const notifier = new Notifier(appservice.gateway, clock, log.child({ component: "notifier" }));
    const runtime = startRuntime({ storage, providers, notifier, clock, log: log.child({ component: "actors" }), publicBaseUrl: config.webhooks.publicBaseUrl });
    closers.unshift(() => runtime.stop());
    const permissions = new Permissions(config.permissions);
    handle = createEventHandler({ matrix: appservice.gateway, runtime, storage, providers, permissions, notifier, log: log.child({ component: "matrix" }) });
    inbox.start();

    const deliver = (event: ProviderEvent) => {
      const link = storage.links.get(event.linkId);
      if (!link) return;
      if (event.type === "sms.received") {
        const from = event.from.kind === "number" ? formatNumber(event.from.number) : event.from.kind === "short-code" ? event.from.code : event.from.name;
        const media = event.media.length ? ` (+${event.media.length} attachment${event.media.length > 1 ? "s" : ""})` : "";
        notifier.send(link.roomId, markup(`📩 Text from ${from}: ${event.body}${media}`), "inbound text");
      } else if (event.type === "call.incoming") {
        const from = event.from ? formatNumber(event.from) : "a withheld number";
        notifier.send(link.roomId, markup(`📞 Missed call from ${from}: calls are not bridged yet; the caller was asked to text instead.`), "missed call");
      }
      log.debug({ linkId: event.linkId, type: event.type }, "provider event");
    };
    const webhooks = await buildWebhookApp({
      providers,
      publicBaseUrl: config.webhooks.publicBaseUrl,
      accountOf: (linkId) => storage.links.get(linkId),
      deliver,
      log: log.child({ component: "webhooks" }),
    });
    await webhooks.listen({ host: config.webhooks.bindAddress, port: config.webhooks.port });
    closers.unshift(() => webhooks.close());
    const admin = await buildAdminApp({ token: config.admin.token, describeActors: () => runtime.describe(), log });
    await admin.listen({ host: config.admin.bindAddress, port: config.admin.port });
    closers.unshift(() => admin.close());

    const prune = setInterval(() => storage.matrixEvents.prune(clock.now() - EVENT_ID_RETENTION_MS), DAY_MS);
    prune.unref();
    closers.unshift(() => clearInterval(prune));
    log.info(
      { webhooks: `${config.webhooks.bindAddress}:${config.webhooks.port}`, admin: `${config.admin.bindAddress}:${config.admin.port}` },
      "bridge started",
    );
    return {
      log,
      close: async () => {
        for (const close of closers.splice(0)) await close();
      },
    };
  } catch (err) {
    for (const close of closers) await close();
    throw err;
  }
}
