import { assign, enqueueActions, setup, stopChild, type ActorRefFrom } from "xstate";
import type { RoomId } from "../ids.js";
import { controlRoomMachine, type ControlRoomEvent, type ControlRoomInput } from "./control-room.machine.js";

/**
 * The root of the actor tree. It supervises one ControlRoom actor per control room, routes
 * events to them by room id (only to rooms that exist), and when a room actor fails it asks the
 * runtime to bring that room back from the database.
 */

export interface BridgeInput {
  rooms: ControlRoomInput[];
}

export interface BridgeContext {
  /** Control rooms with a live actor; the actor's id is the room id. */
  rooms: Record<string, true>;
}

export type BridgeEvent =
  /** A new control room (the bot was invited), or one restored after its actor failed. */
  | { type: "room.open"; room: ControlRoomInput }
  | { type: "room.event"; roomId: RoomId; event: ControlRoomEvent }
  | { type: `xstate.error.actor.${string}`; error: unknown; actorId: string };

export const bridgeMachine = setup({
  types: {
    context: {} as BridgeContext,
    input: {} as BridgeInput,
    events: {} as BridgeEvent,
  },
  actors: { controlRoom: controlRoomMachine },
  actions: {
    /** An event for a room without an actor; the runtime logs it. */
    unroutable: (_args, _params: { roomId: RoomId; eventType: string }) => {},
    /** A room actor failed; the runtime logs it and re-opens the room from the database. */
    roomFailed: (_args, _params: { roomId: RoomId; error: unknown }) => {},
  },
  guards: {
    roomExists: ({ context }, params: { roomId: RoomId }) => context.rooms[params.roomId] === true,
  },
}).createMachine({
  id: "bridge",
  context: ({ input, spawn }) => {
    const rooms: Record<string, true> = {};
    for (const room of input.rooms) {
      spawn("controlRoom", { id: room.roomId, input: room });
      rooms[room.roomId] = true;
    }
    return { rooms };
  },
  on: {
    "room.open": [
      { guard: { type: "roomExists", params: ({ event }) => ({ roomId: event.room.roomId }) } },
      {
        actions: enqueueActions(({ context, event, enqueue }) => {
          enqueue.spawnChild("controlRoom", { id: event.room.roomId, input: event.room });
          enqueue.assign({ rooms: { ...context.rooms, [event.room.roomId]: true } });
        }),
      },
    ],
    "room.event": [
      {
        guard: { type: "roomExists", params: ({ event }) => ({ roomId: event.roomId }) },
        actions: enqueueActions(({ event, enqueue }) => enqueue.sendTo(event.roomId, event.event)),
      },
      {
        actions: {
          type: "unroutable",
          params: ({ event }) => ({ roomId: event.roomId, eventType: event.event.type }),
        },
      },
    ],
    "xstate.error.actor.*": {
      actions: [
        { type: "roomFailed", params: ({ event }) => ({ roomId: event.actorId as RoomId, error: event.error }) },
        stopChild(({ event }) => event.actorId),
        assign(({ context, event }) => {
          const rooms = { ...context.rooms };
          delete rooms[event.actorId];
          return { rooms };
        }),
      ],
    },
  },
});

export type BridgeActor = ActorRefFrom<typeof bridgeMachine>;
