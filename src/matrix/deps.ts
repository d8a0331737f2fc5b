import type { Calls } from "../actors/calls.js";
import type { ProviderClients } from "../actors/clients.js";
import type { BridgeRuntime } from "../actors/runtime.js";
import type { Clock } from "../clock.js";
import type { Logger } from "../log.js";
import type { MediaUrlSigner } from "../media/signed-urls.js";
import type { ProviderRegistry } from "../providers/registry.js";
import type { Storage } from "../storage/index.js";
import type { MatrixGateway } from "./gateway.js";
import type { Ghosts } from "./ghosts.js";
import type { Notifier } from "./notifier.js";
import type { Permissions } from "./permissions.js";
import type { PortalRooms } from "./portals.js";

/** What the Matrix-side handlers (events, commands, DMs, portal messages) work with. */
export interface MatrixDeps {
  matrix: MatrixGateway;
  runtime: BridgeRuntime;
  storage: Storage;
  providers: ProviderRegistry;
  clients: ProviderClients;
  permissions: Permissions;
  notifier: Notifier;
  portals: PortalRooms;
  ghosts: Ghosts;
  signer: MediaUrlSigner;
  calls: Calls;
  clock: Clock;
  publicBaseUrl: string;
  log: Logger;
}
