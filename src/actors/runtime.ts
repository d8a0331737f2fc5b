import { createActor, type AnyActorRef } from "xstate";
import type { Clock } from "../clock.js";
import type { RoomId, UserId } from "../ids.js";
import type { Logger } from "../log.js";
import { bridgeMachine, type BridgeActor } from "../machines/bridge.machine.js";
import { controlRoomMachine, type ControlRoomEvent, type ControlRoomInput } from "../machines/control-room.machine.js";
import { callMachine } from "../machines/call.machine.js";
import { conversationMachine } from "../machines/conversation.machine.js";
import { linkMachine, type LinkInput } from "../machines/link.machine.js";
import type { NoticeSink } from "../machines/notices.js";
import type { ProviderEvent } from "../providers/events.js";
import type { ProviderRegistry } from "../providers/registry.js";
import type { Storage } from "../storage/index.js";
import type { LinkRecord } from "../storage/links.js";
import type { Calls } from "./calls.js";
import type { ProviderClients } from "./clients.js";
import type { conversationEffects } from "./conversation-effects.js";
import { createIntake, type Deliver } from "./intake.js";
import { linkEffects } from "./link-effects.js";
import { reconcileLink } from "./reconcile.js";
import { describeActor, type ActorNode } from "./tree.js";

export interface RuntimeDeps {
  storage: Storage;
  providers: ProviderRegistry;
  clients: ProviderClients;
  notifier: NoticeSink;
  /** The conversation actors' effects (Matrix and provider work), from conversation-effects.ts. */
  conversations: ReturnType<typeof conversationEffects>;
  /** The call actors' effects, from calls.ts. */
  calls: Calls["effects"];
  /** Provider call events (status callbacks, recordings), for the calls' actors. */
  onCallEvent(event: Extract<ProviderEvent, { type: "call.status" | "call.recording" }>): void;
  /** A child actor of a control room failed; calls are ended cleanly. */
  onChildFailed?(roomId: RoomId, actorId: string): void;
  clock: Clock;
  log: Logger;
  publicBaseUrl: string;
}

/** The live actor system, as the rest of the bridge sees it. */
export interface BridgeRuntime {
  /** Makes a room a control room (stored, with a live actor); a known room is left as it is. */
  openRoom(roomId: RoomId, createdBy: UserId): void;
  isControlRoom(roomId: RoomId): boolean;
  send(roomId: RoomId, event: ControlRoomEvent): void;
  /** Provider traffic in: stored synchronously, then handed to the actors (see intake.ts). */
  deliver: Deliver;
  describe(): ActorNode;
  stop(): void;
}

const ROOM_RESTART_DELAY_MS = 1_000;

/**
 * Builds the actor tree from the database and gives every machine its effects. Control rooms and
 * links come back as they were stored; conversations are spawned when they have work. A room
 * actor that fails is restored from the database a moment later, so one bad room never takes the
 * others, or the process, down.
 */
export function startRuntime(deps: RuntimeDeps): BridgeRuntime {
  const { storage, clock, log } = deps;
  let actor: BridgeActor;
  const send = (roomId: RoomId, event: ControlRoomEvent) => actor.send({ type: "room.event", roomId, event });
  const deliver = createIntake({ storage, send, onCallEvent: deps.onCallEvent, clock, log: log.child({ component: "intake" }) });

  const link = linkMachine.provide(
    linkEffects({
      providers: deps.providers,
      links: storage.links,
      notifier: deps.notifier,
      clock,
      log,
      publicBaseUrl: deps.publicBaseUrl,
      reconcile: (linkId) => reconcileLink({ storage, clients: deps.clients, deliver, clock, log }, linkId),
    }),
  );
  const controlRoom = controlRoomMachine.provide({
    actors: { link, conversation: conversationMachine.provide(deps.conversations), call: callMachine.provide(deps.calls) },
    actions: {
      notify: ({ context }, notice) => deps.notifier.notice(context.roomId, notice),
      persistStatus: ({ context }, { paused }) => storage.controlRooms.setStatus(context.roomId, paused ? "paused" : "active"),
      childFailed: ({ context }, { actorId, error }) => {
        log.error({ err: error, roomId: context.roomId, actorId }, "a control room's child actor failed");
        deps.onChildFailed?.(context.roomId, actorId);
      },
      resumeConversations: ({ context }) => {
        const roomId = context.roomId;
        // After this transition: the room is active again by then and takes the work.
        queueMicrotask(() => {
          for (const portalId of storage.messages.portalsWithWork(roomId)) send(roomId, { type: "conversation.work", portalId });
        });
      },
    },
  });

  const machine = bridgeMachine.provide({
    actors: { controlRoom },
    actions: {
      unroutable: (_, { roomId, eventType }) => log.warn({ roomId, eventType }, "event for a room without a control-room actor"),
      roomFailed: (_, { roomId, error }) => {
        log.error({ err: error, roomId }, "control room actor failed; restoring it from the database");
        clock.setTimeout(() => {
          const room = loadRoom(roomId);
          if (room) actor.send({ type: "room.open", room });
        }, ROOM_RESTART_DELAY_MS);
      },
    },
  });

  function linkInput(record: LinkRecord): LinkInput {
    return {
      linkId: record.id,
      roomId: record.roomId,
      provider: record.provider,
      accountRef: record.accountRef,
      number: record.phoneNumber,
      credentials: record.credentials,
      restore: {
        state: record.state,
        stateCode: record.stateCode,
        providerNumberId: record.providerNumberId,
        previousSettings: record.previousSettings,
      },
    };
  }

  function loadRoom(roomId: RoomId): ControlRoomInput | undefined {
    const room = storage.controlRooms.get(roomId);
    if (!room) return undefined;
    const stored = storage.links.byRoom(roomId);
    return { roomId, paused: room.status === "paused", ...(stored ? { link: linkInput(stored) } : {}) };
  }

  const rooms = storage.controlRooms.list().flatMap((room) => loadRoom(room.roomId) ?? []);
  actor = createActor(machine, {
    id: "bridge",
    systemId: "bridge",
    input: { rooms },
    clock,
    logger: (...args: unknown[]) => log.debug({ args }, "xstate"),
  });
  // Without an error observer, an error escaping the root would be rethrown and end the process.
  actor.subscribe({ error: (err) => log.fatal({ err }, "the bridge's root actor failed") });
  actor.start();
  log.info({ rooms: rooms.length, links: rooms.filter((r) => r.link).length }, "actor tree restored");
  // Texts left waiting by the last run (posting or sending) are picked up again.
  for (const room of rooms) {
    if (room.paused) continue;
    for (const portalId of storage.messages.portalsWithWork(room.roomId)) send(room.roomId, { type: "conversation.work", portalId });
  }

  return {
    openRoom(roomId, createdBy) {
      if (!storage.controlRooms.get(roomId)) {
        storage.controlRooms.upsert({ roomId, createdBy, createdAt: clock.now(), status: "active" });
      }
      const room = loadRoom(roomId);
      if (room) actor.send({ type: "room.open", room });
    },
    isControlRoom: (roomId) => storage.controlRooms.get(roomId) !== undefined,
    send,
    deliver,
    describe: () => describeActor(actor as AnyActorRef),
    stop: () => actor.stop(),
  };
}
