import { systemClock } from "../../src/clock.js";
import { createCore, type Core, type CoreOptions } from "../../src/core.js";
import { silentLogger, type Logger } from "../../src/log.js";
import type { RawMatrixEvent } from "../../src/matrix/appservice.js";
import { MatrixInbox } from "../../src/matrix/inbox.js";
import { ProviderRegistry } from "../../src/providers/registry.js";
import { createTwilioConnector } from "../../src/providers/twilio/connector.js";
import type { Secret } from "../../src/secret.js";
import { openStorage, type Storage } from "../../src/storage/index.js";
import { callsConfig } from "./calls-config.js";
import type { FakeMatrix } from "./fake-matrix.js";

export interface RunningCore {
  storage: Storage;
  core: Core;
  inbox: MatrixInbox;
  /** Stops the actors and closes the database, as a process exit would (the inbox is left to die with it). */
  stop(): void;
}

/**
 * The bridge's core as the integration tests run it: real storage at `dbPath`, actors, commands
 * and Twilio client (against the simulator at `simulatorUrl`), with a fake homeserver.
 */
export function startCore(options: {
  dbPath: string;
  key: Secret<string>;
  simulatorUrl: string;
  matrix: FakeMatrix;
  permissions: CoreOptions["permissions"];
  publicBaseUrl: string;
  log?: Logger;
}): RunningCore {
  const storage = openStorage(options.dbPath, options.key);
  const core = createCore({
    storage,
    calls: callsConfig(),
    providers: new ProviderRegistry([createTwilioConnector({ apiBaseUrl: options.simulatorUrl })]),
    matrix: options.matrix,
    permissions: options.permissions,
    ghostPrefix: "_pstn_",
    domain: "localhost",
    publicBaseUrl: options.publicBaseUrl,
    credentialKey: options.key,
    clock: systemClock,
    log: options.log ?? silentLogger,
  });
  const inbox = new MatrixInbox(storage.matrixEvents, core.handle, systemClock, silentLogger);
  inbox.start();
  return {
    storage,
    core,
    inbox,
    stop() {
      core.runtime.stop();
      storage.close();
    },
  };
}

/** Makes Matrix events as a homeserver would push them, each with a fresh event id. */
export function matrixEvents(defaults: { room_id: string; sender: string }): (fields: Partial<RawMatrixEvent>) => RawMatrixEvent {
  let counter = 0;
  return (fields) => ({ event_id: `$ev${++counter}`, ...defaults, type: "m.room.message", content: {}, ...fields });
}
