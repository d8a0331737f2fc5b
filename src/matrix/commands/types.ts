import type { BridgeRuntime } from "../../actors/runtime.js";
import type { EventId, RoomId, UserId } from "../../ids.js";
import type { Logger } from "../../log.js";
import type { ProviderRegistry } from "../../providers/registry.js";
import type { Storage } from "../../storage/index.js";
import type { MatrixGateway } from "../gateway.js";
import type { Permissions } from "../permissions.js";

export interface CommandDeps {
  matrix: MatrixGateway;
  runtime: BridgeRuntime;
  storage: Storage;
  providers: ProviderRegistry;
  permissions: Permissions;
  log: Logger;
}

/** One command typed in a control room. */
export interface CommandRequest {
  roomId: RoomId;
  sender: UserId;
  eventId: EventId;
  args: string[];
}

export interface Command {
  name: string;
  /** Shown by `help`: the arguments. */
  usage: string;
  summary: string;
  /** Who may run it besides bridge admins: anyone permitted, or only the room's admins. */
  needs: "user" | "room-admin";
  /** Runs the command; replies go through `reply`. Throw a BridgeError with a userMessage to refuse. */
  run(request: CommandRequest, reply: (text: string) => void, deps: CommandDeps): Promise<void>;
}
