import type { EventId, RoomId, UserId } from "../../ids.js";
import type { MatrixDeps } from "../deps.js";

/** Commands see everything the Matrix side does. */
export type CommandDeps = MatrixDeps;

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
