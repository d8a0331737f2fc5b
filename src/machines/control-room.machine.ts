import { assign, enqueueActions, setup, stopChild, type ActorRefFrom } from "xstate";
import type { E164, LinkId, ProviderKind, RoomId } from "../ids.js";
import type { Secret } from "../secret.js";
import type { ProviderCredentials } from "../storage/links.js";
import type { PortalId } from "../ids.js";
import { callMachine, type CallEvent, type CallInput } from "./call.machine.js";
import { conversationMachine } from "./conversation.machine.js";
import { linkMachine, type LinkEvent, type LinkInput, type LinkStateName, type LinkStateReport } from "./link.machine.js";
import type { Notice } from "./notices.js";

/**
 * A control room: the Matrix room whose members share one phone number. It supervises that
 * number's Link actor (and, later, one actor per conversation and per call): it routes commands
 * to the right child, only when that child exists, and survives any child failing.
 */

export interface ControlRoomInput {
  roomId: RoomId;
  paused: boolean;
  /** The room's stored link, when the bridge restarts. */
  link?: LinkInput;
}

export interface ControlRoomContext {
  roomId: RoomId;
  /** The bot is out of the room (kicked); nothing is served until it is back. */
  paused: boolean;
  linkId: LinkId | null;
  /** The link's last reported state; the supervisor's view of its child. */
  linkState: LinkStateName | null;
  linkNumber: E164 | null;
  /** Conversations with a live actor (idle ones stop and are spawned again on the next text). */
  conversations: Record<string, true>;
  /** Calls in progress; each ends and leaves on its own. */
  calls: Record<string, true>;
}

export type ControlRoomEvent =
  | {
      type: "command.link";
      linkId: LinkId;
      provider: ProviderKind;
      accountRef: string;
      number: E164;
      credentials: Secret<ProviderCredentials>;
    }
  | { type: "command.unlink" }
  /**
   * Something new for a conversation. `lane` says which of its lanes has work: "matrix" (a text
   * came in, a delivery outcome), "provider" (a member wrote), or both when unsure.
   */
  | { type: "conversation.work"; portalId: PortalId; lane?: "matrix" | "provider" }
  /** A call begins (rung in, or dialled out from Matrix). */
  | { type: "call.start"; call: CallInput }
  /** Something happened to a call in progress. */
  | { type: "call.event"; callId: string; event: CallEvent }
  | { type: "command.status" }
  /** The bot was kicked or left: keep the link, stop serving. */
  | { type: "bot.removed" }
  /** The bot is back in the room. */
  | { type: "bot.rejoined" }
  | LinkStateReport
  | { type: `xstate.error.actor.${string}`; error: unknown; actorId: string }
  | { type: `xstate.done.actor.${string}`; actorId: string };

/** Link states in which the room's number is taken: a new `link` must wait for `unlink`. */
const BUSY_STATES: readonly LinkStateName[] = ["linking", "linked", "degraded", "unlinking", "paused"];

const roomSetup = setup({
  types: {
    context: {} as ControlRoomContext,
    input: {} as ControlRoomInput,
    events: {} as ControlRoomEvent,
  },
  actors: { link: linkMachine, conversation: conversationMachine, call: callMachine },
  actions: {
    notify: (_args, _params: Notice) => {},
    /** Records whether the room is active or paused (synchronously). */
    persistStatus: (_args, _params: { paused: boolean }) => {},
    /** Logs a child's failure for operators. */
    childFailed: (_args, _params: { actorId: string; error: unknown }) => {},
    /** After a pause, wakes the conversations that have texts waiting. */
    resumeConversations: () => {},
  },
  guards: {
    hasLink: ({ context }) => context.linkId !== null,
    linkBusy: ({ context }) => context.linkState !== null && BUSY_STATES.includes(context.linkState),
    isOwnLink: ({ context, event }) => "actorId" in event && event.actorId === context.linkId,
    isConversation: ({ context, event }) => "actorId" in event && context.conversations[event.actorId] === true,
    isCall: ({ context, event }) => "actorId" in event && context.calls[event.actorId] === true,
  },
});

/** Sends to the room's link, if it has one; sendTo itself throws for a missing child. */
const toLink = (event: LinkEvent) =>
  roomSetup.enqueueActions(({ context, enqueue }) => {
    if (context.linkId) enqueue.sendTo(context.linkId, event);
  });

export const controlRoomMachine = roomSetup.createMachine({
  id: "controlRoom",
  context: ({ input, spawn }) => {
    if (input.link) spawn("link", { id: input.link.linkId, input: input.link });
    return {
      roomId: input.roomId,
      paused: input.paused,
      linkId: input.link?.linkId ?? null,
      linkState: null,
      linkNumber: input.link?.number ?? null,
      conversations: {},
      calls: {},
    };
  },
  initial: "starting",
  states: {
    starting: {
      always: [{ guard: ({ context }) => context.paused, target: "paused" }, { target: "active" }],
    },
    active: {
      on: {
        "command.link": [
          {
            guard: "linkBusy",
            actions: {
              type: "notify",
              params: ({ context }) => ({ kind: "link.busy", number: context.linkNumber!, state: context.linkState! }),
            },
          },
          {
            // A link left in bad-credentials is replaced by the new attempt.
            actions: enqueueActions(({ context, event, enqueue }) => {
              if (context.linkId) enqueue.stopChild(context.linkId);
              enqueue.assign({ linkId: event.linkId, linkState: "linking", linkNumber: event.number });
              enqueue.spawnChild("link", {
                id: event.linkId,
                input: {
                  linkId: event.linkId,
                  roomId: context.roomId,
                  provider: event.provider,
                  accountRef: event.accountRef,
                  number: event.number,
                  credentials: event.credentials,
                },
              });
              enqueue({ type: "notify", params: { kind: "link.started", provider: event.provider, number: event.number } });
            }),
          },
        ],
        "command.unlink": [
          { guard: "hasLink", actions: toLink({ type: "unlink" }) },
          { actions: { type: "notify", params: { kind: "link.none" } } },
        ],
        "command.status": [
          { guard: "hasLink", actions: toLink({ type: "status" }) },
          { actions: { type: "notify", params: { kind: "link.none" } } },
        ],
        "conversation.work": {
          actions: enqueueActions(({ context, event, enqueue }) => {
            if (context.conversations[event.portalId]) {
              enqueue.sendTo(event.portalId, { type: event.lane === "matrix" ? "show" : event.lane === "provider" ? "send" : "work" });
              return;
            }
            // A new actor looks for its work by itself when it starts.
            enqueue.spawnChild("conversation", { id: event.portalId, input: { portalId: event.portalId, controlRoomId: context.roomId } });
            enqueue.assign({ conversations: { ...context.conversations, [event.portalId]: true } });
          }),
        },
        "call.start": {
          actions: enqueueActions(({ context, event, enqueue }) => {
            if (context.calls[event.call.callId]) return;
            enqueue.spawnChild("call", { id: event.call.callId, input: event.call });
            enqueue.assign({ calls: { ...context.calls, [event.call.callId]: true } });
          }),
        },
        "bot.removed": "paused",
      },
    },
    paused: {
      entry: [
        assign({ paused: true }),
        { type: "persistStatus", params: { paused: true } },
        toLink({ type: "pause" }),
      ],
      exit: [
        assign({ paused: false }),
        { type: "persistStatus", params: { paused: false } },
        toLink({ type: "resume" }),
        "resumeConversations",
      ],
      on: {
        "bot.rejoined": { target: "active", actions: { type: "notify", params: { kind: "room.resumed" } } },
      },
    },
  },
  on: {
    "call.event": {
      actions: enqueueActions(({ context, event, enqueue }) => {
        if (context.calls[event.callId]) enqueue.sendTo(event.callId, event.event);
      }),
    },
    "link.state": {
      guard: ({ context, event }) => event.linkId === context.linkId,
      actions: assign(({ event }) => ({ linkState: event.state })),
    },
    "xstate.done.actor.*": [
      {
        guard: "isOwnLink",
        actions: [stopChild(({ event }) => event.actorId), assign({ linkId: null, linkState: null, linkNumber: null })],
      },
      {
        guard: "isConversation",
        actions: [stopChild(({ event }) => event.actorId), assign(({ context, event }) => ({ conversations: without(context.conversations, event.actorId) }))],
      },
      {
        guard: "isCall",
        actions: [stopChild(({ event }) => event.actorId), assign(({ context, event }) => ({ calls: without(context.calls, event.actorId) }))],
      },
    ],
    // A failing child must never take the room down: log it, tell the room, forget the child.
    "xstate.error.actor.*": [
      {
        guard: "isOwnLink",
        actions: [
          { type: "childFailed", params: ({ event }) => ({ actorId: event.actorId, error: event.error }) },
          { type: "notify", params: { kind: "internal-error", what: "the phone-number link" } },
          stopChild(({ event }) => event.actorId),
          assign({ linkId: null, linkState: null, linkNumber: null }),
        ],
      },
      {
        guard: "isCall",
        actions: [
          { type: "childFailed", params: ({ event }) => ({ actorId: event.actorId, error: event.error }) },
          stopChild(({ event }) => event.actorId),
          assign(({ context, event }) => ({ calls: without(context.calls, event.actorId) })),
        ],
      },
      {
        // The conversation's texts stay in the database; the next one spawns a fresh actor.
        guard: "isConversation",
        actions: [
          { type: "childFailed", params: ({ event }) => ({ actorId: event.actorId, error: event.error }) },
          stopChild(({ event }) => event.actorId),
          assign(({ context, event }) => ({ conversations: without(context.conversations, event.actorId) })),
        ],
      },
      { actions: { type: "childFailed", params: ({ event }) => ({ actorId: event.actorId, error: event.error }) } },
    ],
  },
});

export type ControlRoomActor = ActorRefFrom<typeof controlRoomMachine>;

function without(set: Record<string, true>, key: string): Record<string, true> {
  const copy = { ...set };
  delete copy[key];
  return copy;
}
