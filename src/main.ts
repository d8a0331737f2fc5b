import { systemClock, type Clock } from "./clock.js";
import type { Config } from "./config/types.js";
import { dialPadNumber } from "./calls/dial-pad.js";
import { contactOfNumber, displayName } from "./contacts.js";
import { createCore } from "./core.js";
import { buildAdminApp } from "./http/admin-app.js";
import { mediaRoutes } from "./http/media-route.js";
import { buildWebhookApp } from "./http/webhook-app.js";
import { createLogger, type Logger } from "./log.js";
import { startAppservice, type RawMatrixEvent } from "./matrix/appservice.js";
import { Ghosts } from "./matrix/ghosts.js";
import { MatrixInbox } from "./matrix/inbox.js";
import { loadRegistration } from "./matrix/registration.js";
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
/** Outbound attachments the media route serves (MMS carriers take far less). */
const MAX_SERVED_MEDIA_BYTES = 100 * 1024 * 1024;

/**
 * Starts the whole bridge: storage, the actor tree restored from it, the appservice listener, the
 * webhook listener and the admin listener. Resolves once everything listens.
 */
export async function runBridge(config: Config, registrationPath: string, clock: Clock = systemClock): Promise<RunningBridge> {
  const log = createLogger(config.logging);
  const credentialKey = resolveCredentialKey(config.database.credentialKey);
  const storage = openStorage(config.database.path, credentialKey);
  const closers: (() => Promise<void> | void)[] = [() => storage.close()];
  try {
    const providers = ProviderRegistry.fromConfig(config);
    const registration = loadRegistration(config, registrationPath);
    const ghosts = new Ghosts(config.appservice.ghostPrefix, config.homeserver.domain);
    let handle: (event: RawMatrixEvent) => Promise<void> = async () => {};
    // The bridge's own messages echo back to it; only its memberships (an invite, a kick) matter.
    const ownEcho = (event: RawMatrixEvent) =>
      event.type !== "m.room.member" && (event.sender === `@${config.appservice.botLocalpart}:${config.homeserver.domain}` || ghosts.isGhost(event.sender));
    const inbox = new MatrixInbox(storage.matrixEvents, (event) => handle(event), clock, log.child({ component: "inbox" }), ownEcho);

    const appservice = await startAppservice({
      config,
      registration,
      log,
      accept: (event) => inbox.accept(event),
      userQuery: (userId) => {
        const contact = ghosts.contactOf(userId);
        return contact ? { name: displayName(contact) } : null;
      },
      lookupPhone: async (input) => {
        const number = dialPadNumber(input, storage.links.list().map((l) => l.phoneNumber));
        if (!number) return null;
        const ghost = ghosts.userIdOf(contactOfNumber(number));
        // Element invites the user right away: the ghost must exist by then.
        await appservice.gateway.ensureGhost(ghost, displayName(contactOfNumber(number)));
        return ghost;
      },
    });
    closers.unshift(() => appservice.close());
    const core = createCore({
      storage,
      calls: config.calls,
      providers,
      matrix: appservice.gateway,
      permissions: config.permissions,
      ghostPrefix: config.appservice.ghostPrefix,
      domain: config.homeserver.domain,
      publicBaseUrl: config.webhooks.publicBaseUrl,
      credentialKey,
      clock,
      log,
    });
    closers.unshift(() => core.runtime.stop());
    // Live calls are hung up on both sides before the actors stop.
    closers.unshift(() => core.calls.shutdown());
    handle = core.handle;
    inbox.start();

    const webhooks = await buildWebhookApp({
      providers,
      publicBaseUrl: config.webhooks.publicBaseUrl,
      accountOf: (linkId) => storage.links.get(linkId),
      deliver: core.runtime.deliver,
      incomingCall: core.calls.incomingCall,
      outboundAnswered: core.calls.outboundAnswered,
      afterStream: core.calls.afterStream,
      mediaStream: core.calls.mediaStream,
      log: log.child({ component: "webhooks" }),
    });
    await webhooks.register(mediaRoutes, {
      prefix: "/media",
      signer: core.signer,
      media: appservice.media,
      maxBytes: MAX_SERVED_MEDIA_BYTES,
      clock,
      log: log.child({ component: "media" }),
    });
    await webhooks.listen({ host: config.webhooks.bindAddress, port: config.webhooks.port });
    closers.unshift(() => webhooks.close());
    const admin = await buildAdminApp({ token: config.admin.token, describeActors: () => core.runtime.describe(), log });
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
