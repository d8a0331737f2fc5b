import { hkdfSync } from "node:crypto";
import { ProviderClients } from "./actors/clients.js";
import { conversationEffects } from "./actors/conversation-effects.js";
import { startRuntime, type BridgeRuntime } from "./actors/runtime.js";
import type { Clock } from "./clock.js";
import type { Config, PermissionLevel } from "./config/types.js";
import { createCalls, type Calls } from "./actors/calls.js";
import type { Logger } from "./log.js";
import { MediaUrlSigner } from "./media/signed-urls.js";
import type { MatrixGateway } from "./matrix/gateway.js";
import { Ghosts } from "./matrix/ghosts.js";
import { createEventHandler } from "./matrix/handler.js";
import { Notifier } from "./matrix/notifier.js";
import { Permissions } from "./matrix/permissions.js";
import { PortalRooms } from "./matrix/portals.js";
import type { ProviderRegistry } from "./providers/registry.js";
import type { Secret } from "./secret.js";
import type { Storage } from "./storage/index.js";

export interface CoreOptions {
  storage: Storage;
  calls: Config["calls"];
  providers: ProviderRegistry;
  matrix: MatrixGateway;
  permissions: Record<string, PermissionLevel>;
  ghostPrefix: string;
  domain: string;
  publicBaseUrl: string;
  /** The credential key; the key that signs media URLs is derived from it. */
  credentialKey: Secret<string>;
  clock: Clock;
  log: Logger;
}

/** The bridge without its listeners: actors, Matrix handling and their shared parts, wired once. */
export interface Core {
  runtime: BridgeRuntime;
  handle: ReturnType<typeof createEventHandler>;
  notifier: Notifier;
  portals: PortalRooms;
  ghosts: Ghosts;
  signer: MediaUrlSigner;
  calls: Calls;
  clients: ProviderClients;
}

export function createCore(options: CoreOptions): Core {
  const { storage, matrix, clock, log } = options;
  const notifier = new Notifier(matrix, clock, log.child({ component: "notifier" }));
  const clients = new ProviderClients(options.providers);
  const ghosts = new Ghosts(options.ghostPrefix, options.domain);
  const portals = new PortalRooms(matrix, storage, ghosts, log.child({ component: "portals" }));
  const mediaKey = Buffer.from(hkdfSync("sha256", options.credentialKey.reveal(), "matrix-pstn-bridge", "media-urls", 32));
  const signer = new MediaUrlSigner(mediaKey, clock);
  let runtime: BridgeRuntime | undefined;
  const calls = createCalls({
    storage,
    matrix,
    portals,
    clients,
    config: options.calls,
    publicBaseUrl: options.publicBaseUrl,
    clock,
    log,
    send: (roomId, event) => runtime?.send(roomId, event),
  });
  runtime = startRuntime({
    storage,
    providers: options.providers,
    clients,
    notifier,
    conversations: conversationEffects({
      storage,
      matrix,
      portals,
      clients,
      signer,
      clock,
      log: log.child({ component: "conversations" }),
      publicBaseUrl: options.publicBaseUrl,
    }),
    calls: calls.effects,
    onCallEvent: (event) => calls.providerEvent(event),
    onChildFailed: (_roomId, actorId) => {
      if (actorId.startsWith("call")) void calls.abort(actorId);
    },
    clock,
    log: log.child({ component: "actors" }),
    publicBaseUrl: options.publicBaseUrl,
  });
  void calls.endLeftovers().catch((err: unknown) => log.error({ err }, "could not end the calls a previous run left open"));
  const handle = createEventHandler({
    matrix,
    runtime,
    storage,
    providers: options.providers,
    clients,
    permissions: new Permissions(options.permissions),
    notifier,
    portals,
    ghosts,
    signer,
    calls,
    clock,
    publicBaseUrl: options.publicBaseUrl,
    log: log.child({ component: "matrix" }),
  });
  return { runtime, handle, notifier, portals, ghosts, signer, calls, clients };
}
