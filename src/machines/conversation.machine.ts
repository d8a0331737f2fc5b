import { assign, enqueueActions, setup, fromPromise, stateIn, type ActorRefFrom } from "xstate";
import { errorCodeOf } from "../errors.js";
import type { PortalId, RoomId } from "../ids.js";

/**
 * One conversation: a control room and one contact. It keeps that contact's texts in order in
 * both directions, one step at a time per direction, and fails alone: a contact whose sends hang
 * holds up nobody else. The work itself lives in the database (texts waiting to be shown in
 * Matrix, texts waiting to be sent), so the actor can stop when idle and be spawned again later.
 *
 * Two lanes run side by side:
 * - matrix: show what came from the provider (inbound texts, delivery outcomes) in the portal;
 * - provider: send what members wrote, in order.
 * Each lane goes idle → working, and on a transient failure (homeserver or provider down) backs
 * off and tries again; `work` while working means "look again when done".
 */

export interface ConversationInput {
  portalId: PortalId;
  controlRoomId: RoomId;
}

export interface ConversationContext {
  portalId: PortalId;
  controlRoomId: RoomId;
  matrixFailures: number;
  providerFailures: number;
  matrixAgain: boolean;
  providerAgain: boolean;
}

/**
 * `work`: something new for either lane. `show`: only the matrix lane has something new (a text
 * came in, a delivery outcome). `send`: only the provider lane (a member wrote).
 */
export type ConversationEvent = { type: "work" } | { type: "show" } | { type: "send" };

export interface LaneInput {
  portalId: PortalId;
  controlRoomId: RoomId;
}

/** What sending did: whether the matrix lane now has outcomes (failures) to show. */
export interface SendOutput {
  outcomes: boolean;
}

const notProvided = (name: string) => () => {
  throw new Error(`conversation machine: ${name} must be given through .provide()`);
};

const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 60_000;
export const conversationRetryMs = (failures: number): number =>
  Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, failures - 1));

/** Failures worth retrying: the far side is down, not wrong. */
const TRANSIENT = new Set(["provider-unavailable", "matrix-unavailable"]);
const transient = (error: unknown) => TRANSIENT.has(errorCodeOf(error));

export const conversationMachine = setup({
  types: {
    context: {} as ConversationContext,
    input: {} as ConversationInput,
    events: {} as ConversationEvent,
  },
  actors: {
    showInMatrix: fromPromise<void, LaneInput>(notProvided("showInMatrix")),
    sendToProvider: fromPromise<SendOutput, LaneInput>(notProvided("sendToProvider")),
  },
  actions: {
    /** Logs a failure that retrying won't fix; the texts stay where they are until the next `work`. */
    laneFailed: (_args, _params: { lane: "matrix" | "provider"; error: unknown }) => {},
    afterSending: enqueueActions(({ enqueue, event }) => {
      enqueue.assign({ providerFailures: 0 });
      // Texts the provider refused have an outcome to show in the portal.
      if ((event as { output?: SendOutput }).output?.outcomes) enqueue.raise({ type: "show" });
    }),
  },
  delays: {
    matrixRetry: ({ context }) => conversationRetryMs(context.matrixFailures),
    providerRetry: ({ context }) => conversationRetryMs(context.providerFailures),
    idleTimeout: 10 * 60_000,
  },
  guards: {
    transient: ({ event }) => transient((event as { error?: unknown }).error),
    bothIdle: stateIn({ active: { matrix: "idle", provider: "idle" } }),
  },
}).createMachine({
  id: "conversation",
  context: ({ input }) => ({
    portalId: input.portalId,
    controlRoomId: input.controlRoomId,
    matrixFailures: 0,
    providerFailures: 0,
    matrixAgain: false,
    providerAgain: false,
  }),
  initial: "active",
  states: {
    active: {
      type: "parallel",
      states: {
        matrix: {
          // A new actor looks for work straight away: it may be spawned for texts already stored.
          initial: "working",
          states: {
            idle: { on: { work: "working", show: "working" } },
            working: {
              entry: assign({ matrixAgain: false }),
              invoke: {
                src: "showInMatrix",
                input: ({ context }) => ({ portalId: context.portalId, controlRoomId: context.controlRoomId }),
                onDone: [
                  { guard: ({ context }) => context.matrixAgain, target: "working", reenter: true, actions: assign({ matrixFailures: 0 }) },
                  { target: "idle", actions: assign({ matrixFailures: 0 }) },
                ],
                onError: [
                  { guard: "transient", target: "backoff", actions: assign(({ context }) => ({ matrixFailures: context.matrixFailures + 1 })) },
                  { target: "idle", actions: { type: "laneFailed", params: ({ event }) => ({ lane: "matrix" as const, error: event.error }) } },
                ],
              },
              on: {
                work: { actions: assign({ matrixAgain: true }) },
                show: { actions: assign({ matrixAgain: true }) },
              },
            },
            backoff: { after: { matrixRetry: "working" } },
          },
        },
        provider: {
          initial: "working",
          states: {
            idle: { on: { work: "working", send: "working" } },
            working: {
              entry: assign({ providerAgain: false }),
              invoke: {
                src: "sendToProvider",
                input: ({ context }) => ({ portalId: context.portalId, controlRoomId: context.controlRoomId }),
                onDone: [
                  { guard: ({ context }) => context.providerAgain, target: "working", reenter: true, actions: "afterSending" },
                  { target: "idle", actions: "afterSending" },
                ],
                onError: [
                  { guard: "transient", target: "backoff", actions: assign(({ context }) => ({ providerFailures: context.providerFailures + 1 })) },
                  { target: "idle", actions: { type: "laneFailed", params: ({ event }) => ({ lane: "provider" as const, error: event.error }) } },
                ],
              },
              on: {
                work: { actions: assign({ providerAgain: true }) },
                send: { actions: assign({ providerAgain: true }) },
              },
            },
            backoff: { after: { providerRetry: "working" } },
          },
        },
        // Stops the actor after a quiet spell; its state is all in the database.
        lifetime: {
          initial: "alive",
          states: {
            alive: {
              after: { idleTimeout: "expiring" },
              on: { work: { target: "alive", reenter: true }, show: { target: "alive", reenter: true }, send: { target: "alive", reenter: true } },
            },
            expiring: {
              always: { guard: "bothIdle", target: "#conversation.stopped" },
              on: { work: "alive", show: "alive", send: "alive" },
            },
          },
        },
      },
    },
    stopped: { type: "final" },
  },
});

export type ConversationActor = ActorRefFrom<typeof conversationMachine>;
