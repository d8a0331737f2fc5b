import { assign, enqueueActions, fromCallback, fromPromise, setup, type ActorRefFrom } from "xstate";
import type { PortalId, RoomId, UserId } from "../ids.js";
import type { CallStatus } from "../providers/events.js";
import type { CallEndReason, CallState } from "../storage/calls.js";

/**
 * One phone call. Inbound: it rings every member of the control room at once (each in a room of
 * their own with the contact's ghost) while the caller hears ringback; the first to answer gets
 * the call; nobody in time means voicemail. Outbound: a member called the ghost from Matrix; the
 * phone is dialled and the Matrix call is answered when the phone answers. Pure: the media, the
 * Matrix signalling and the provider calls are effects given through `.provide()` by
 * `actors/call-effects.ts`. Deadlines are absolute times in context.
 *
 *  in:  ringing ─answer→ answered ─hangup→ ended        out: dialing ─phone answers→ connecting ─stream→ answered
 *          └─timeout/all rejected→ voicemail → ended              └─busy/no-answer/failed/cancel→ ended
 */

/** One Matrix side of the call: a member's client, in a room with the ghost. */
export interface Leg {
  matrixCallId: string;
  roomId: RoomId;
  userId: UserId;
}

export interface CallInput {
  callId: string;
  portalId: PortalId;
  controlRoomId: RoomId;
  direction: "in" | "out";
  createdAt: number;
  ringTimeoutMs: number;
  voicemail: boolean;
  /** Outbound: the member's call that started it. */
  caller?: Leg;
}

export interface CallContext extends Omit<CallInput, "caller"> {
  caller: Leg | null;
  /** When the ringing (or dialling) gives up, as an absolute time. */
  ringDeadline: number;
  answered: Leg | null;
  rung: number;
  rejected: number;
  endReason: CallEndReason | null;
}

export type CallEvent =
  /** The provider's media stream is up (inbound at once, outbound once the phone answered). */
  | { type: "stream.started" }
  | { type: "provider.status"; status: CallStatus }
  | { type: "provider.recording"; url: string; durationSeconds: number }
  /** How many members the ring reached. */
  | { type: "ring.started"; legs: number }
  | { type: "matrix.answer"; leg: Leg }
  | { type: "matrix.reject"; leg: Leg }
  | { type: "matrix.hangup"; leg: Leg }
  /** The bridge is stopping: end the call on both sides now. */
  | { type: "bridge.stopping" };

export interface CallRef {
  callId: string;
  portalId: PortalId;
  controlRoomId: RoomId;
}

const notProvided = (name: string) => () => {
  throw new Error(`call machine: ${name} must be given through .provide()`);
};

const ENDED_BY_PROVIDER: Partial<Record<CallStatus, CallEndReason>> = {
  completed: "completed",
  busy: "busy",
  "no-answer": "no-answer",
  failed: "failed",
  canceled: "canceled",
};

/** How long voicemail waits for the recording after the caller hung up. */
const RECORDING_GRACE_MS = 15_000;

export const callMachine = setup({
  types: {
    context: {} as CallContext,
    input: {} as CallInput,
    events: {} as CallEvent,
  },
  actors: {
    /** Rings every member (inbound) and plays ringback to the caller; stops the rest on exit. */
    ring: fromCallback<CallEvent, CallRef>(notProvided("ring")),
    /** Carries audio between the phone and the answered leg until stopped. */
    bridgeAudio: fromCallback<CallEvent, CallRef & { leg: Leg }>(notProvided("bridgeAudio")),
    /** Dials the phone (outbound); resolves once the provider took the call. */
    dial: fromPromise<void, CallRef & { caller: Leg }>(notProvided("dial")),
    /** Sends the caller to the voicemail greeting and recording. */
    startVoicemail: fromPromise<void, CallRef>(notProvided("startVoicemail")),
  },
  actions: {
    persist: (_args, _params: { state: CallState }) => {},
    /** The first member to answer gets the call: select their answer, stop the others ringing. */
    selectAnswer: (_args, _params: { leg: Leg }) => {},
    /** Outbound: the phone answered; answer the member's Matrix call. */
    answerCaller: (_args, _params: { leg: Leg }) => {},
    /** Ends the call everywhere it still lives, records how it ended, and tells the portal. */
    finish: (_args, _params: { reason: CallEndReason }) => {},
    postVoicemail: (_args, _params: { url: string; durationSeconds: number }) => {},
  },
  delays: {
    ringTimeout: ({ context }) => Math.max(0, context.ringDeadline - context.createdAt),
    recordingGrace: RECORDING_GRACE_MS,
  },
  guards: {
    providerEnded: ({ event }) => event.type === "provider.status" && ENDED_BY_PROVIDER[event.status] !== undefined,
    voicemailEnabled: ({ context }) => context.voicemail,
    everyoneRejected: ({ context }) => context.rung > 0 && context.rejected + 1 >= context.rung,
    isAnsweredLeg: ({ context, event }) => "leg" in event && context.answered?.matrixCallId === event.leg.matrixCallId,
    isCallerLeg: ({ context, event }) => "leg" in event && context.caller?.matrixCallId === event.leg.matrixCallId,
  },
}).createMachine({
  id: "call",
  context: ({ input }) => ({
    ...input,
    caller: input.caller ?? null,
    ringDeadline: input.createdAt + input.ringTimeoutMs,
    answered: null,
    rung: 0,
    rejected: 0,
    endReason: null,
  }),
  initial: "starting",
  states: {
    starting: {
      always: [{ guard: ({ context }) => context.direction === "out", target: "dialing" }, { target: "ringing" }],
    },
    ringing: {
      entry: { type: "persist", params: { state: "ringing" } },
      invoke: { src: "ring", input: ({ context }) => ref(context) },
      after: {
        ringTimeout: [{ guard: "voicemailEnabled", target: "voicemail" }, { target: "ended", actions: assign({ endReason: "missed" }) }],
      },
      on: {
        "ring.started": [
          // Nobody to ring (no member could be reached): straight to voicemail.
          { guard: ({ event, context }) => event.legs === 0 && context.voicemail, target: "voicemail" },
          { guard: ({ event }) => event.legs === 0, target: "ended", actions: assign({ endReason: "missed" }) },
          { actions: assign(({ event }) => ({ rung: event.legs })) },
        ],
        "matrix.answer": {
          target: "answered",
          actions: [assign(({ event }) => ({ answered: event.leg })), { type: "selectAnswer", params: ({ event }) => ({ leg: event.leg }) }],
        },
        "matrix.reject": [
          { guard: "everyoneRejected", target: "voicemail", actions: assign(({ context }) => ({ rejected: context.rejected + 1 })) },
          { actions: assign(({ context }) => ({ rejected: context.rejected + 1 })) },
        ],
        // The caller gave up while it rang: a missed call.
        "provider.status": { guard: "providerEnded", target: "ended", actions: assign({ endReason: "missed" }) },
      },
    },
    dialing: {
      entry: { type: "persist", params: { state: "ringing" } },
      invoke: {
        src: "dial",
        input: ({ context }) => ({ ...ref(context), caller: context.caller! }),
        onError: { target: "ended", actions: assign({ endReason: "failed" }) },
      },
      after: { ringTimeout: { target: "ended", actions: assign({ endReason: "no-answer" }) } },
      on: {
        "provider.status": [
          { guard: ({ event }) => event.status === "in-progress", target: "connecting" },
          { guard: "providerEnded", target: "ended", actions: assign(({ event }) => ({ endReason: ENDED_BY_PROVIDER[event.status] ?? "failed" })) },
        ],
        // The phone's stream can come before the "answered" callback: either means it answered.
        "stream.started": "connecting.ready",
        "matrix.hangup": { guard: "isCallerLeg", target: "ended", actions: assign({ endReason: "canceled" }) },
      },
    },
    // The phone answered; the call is answered in Matrix once its audio stream is up.
    connecting: {
      initial: "waiting",
      states: {
        waiting: { on: { "stream.started": "ready" } },
        ready: {
          always: {
            target: "#call.answered",
            actions: [assign(({ context }) => ({ answered: context.caller })), { type: "answerCaller", params: ({ context }) => ({ leg: context.caller! }) }],
          },
        },
      },
      on: {
        "provider.status": { guard: "providerEnded", target: "ended", actions: assign(({ event }) => ({ endReason: ENDED_BY_PROVIDER[event.status] ?? "failed" })) },
        "matrix.hangup": { guard: "isCallerLeg", target: "ended", actions: assign({ endReason: "canceled" }) },
      },
    },
    answered: {
      entry: { type: "persist", params: { state: "answered" } },
      invoke: { src: "bridgeAudio", input: ({ context }) => ({ ...ref(context), leg: context.answered! }) },
      on: {
        "matrix.hangup": { guard: "isAnsweredLeg", target: "ended", actions: assign({ endReason: "completed" }) },
        "provider.status": { guard: "providerEnded", target: "ended", actions: assign({ endReason: "completed" }) },
      },
    },
    voicemail: {
      entry: { type: "persist", params: { state: "voicemail" } },
      invoke: { src: "startVoicemail", input: ({ context }) => ref(context), onError: { target: "ended", actions: assign({ endReason: "missed" }) } },
      initial: "recording",
      states: {
        recording: {
          on: { "provider.status": { guard: "providerEnded", target: "closing" } },
        },
        // The caller hung up; the recording's callback may still be on its way.
        closing: {
          after: { recordingGrace: { target: "#call.ended", actions: assign({ endReason: "missed" }) } },
        },
      },
      on: {
        "provider.recording": {
          target: "ended",
          actions: [
            assign({ endReason: "voicemail" }),
            { type: "postVoicemail", params: ({ event }) => ({ url: event.url, durationSeconds: event.durationSeconds }) },
          ],
        },
      },
    },
    ended: {
      type: "final",
      entry: enqueueActions(({ context, enqueue }) => {
        enqueue({ type: "finish", params: { reason: context.endReason ?? "completed" } });
      }),
    },
  },
  // Whatever state it is in, a stopping bridge ends the call cleanly on both sides.
  on: {
    "bridge.stopping": { target: ".ended", actions: assign({ endReason: "restart" }) },
  },
});

export type CallActor = ActorRefFrom<typeof callMachine>;

function ref(context: CallContext): CallRef {
  return { callId: context.callId, portalId: context.portalId, controlRoomId: context.controlRoomId };
}
