import { assign, enqueueActions, sendParent, setup, fromPromise, type ActorRefFrom } from "xstate";
import { errorCodeOf, userMessageOf, type ErrorCode } from "../errors.js";
import type { E164, LinkId, ProviderKind, RoomId } from "../ids.js";
import type { AccountInfo, AttachResult, Balance, ProviderNumber } from "../providers/types.js";
import type { Secret } from "../secret.js";
import type { ProviderCredentials, StoredLinkState } from "../storage/links.js";
import type { LinkStateName, Notice } from "./notices.js";

/**
 * One linked phone number: checks the credentials, points the number's webhooks at the bridge,
 * keeps an eye on the account, and puts the webhooks back on unlink. Pure: every effect (provider
 * calls, persistence, notices) is given through `.provide()` by `actors/link-effects.ts`.
 *
 * unlinked ← unlinking ← linked ⇄ degraded        paused (bot kicked out of the control room)
 *                          ↑          ↓
 *                       linking → bad-credentials
 */

export type { LinkStateName } from "./notices.js";

export interface LinkInput {
  linkId: LinkId;
  roomId: RoomId;
  provider: ProviderKind;
  accountRef: string;
  number: E164;
  credentials: Secret<ProviderCredentials>;
  /** Present when the link comes back from the database after a restart. */
  restore?: {
    state: StoredLinkState;
    stateCode: string | null;
    providerNumberId: string | null;
    previousSettings: Record<string, string | null> | null;
  };
}

export interface LinkContext {
  linkId: LinkId;
  roomId: RoomId;
  provider: ProviderKind;
  accountRef: string;
  number: E164;
  credentials: Secret<ProviderCredentials>;
  providerNumberId: string | null;
  /** The number's webhook settings before the bridge touched them; null until first attached. */
  previousSettings: Record<string, string | null> | null;
  lastError: { code: ErrorCode; reason: string } | null;
  /** Consecutive failed attempts, for backoff. */
  failures: number;
  /** A `status` command is waiting for the probe in flight. */
  statusRequested: boolean;
  /** Where `resume` returns to after a pause. */
  resumeTo: "linked" | "bad-credentials";
  /** The stored state a restarted link resumes in; null for a fresh `link`. */
  restoreState: StoredLinkState | null;
}

export type LinkEvent =
  | { type: "status" }
  | { type: "unlink" }
  | { type: "pause" }
  | { type: "resume" };

/** What the link tells its control room whenever it changes state. */
export interface LinkStateReport {
  type: "link.state";
  linkId: LinkId;
  state: LinkStateName;
}

export interface ConnectInput {
  provider: ProviderKind;
  accountRef: string;
  credentials: Secret<ProviderCredentials>;
  number: E164;
  linkId: LinkId;
  /** Settings remembered from an earlier attach: never overwrite them with the bridge's own URLs. */
  knownPrevious: Record<string, string | null> | null;
}
export interface ConnectOutput {
  account: AccountInfo;
  number: ProviderNumber;
  attach: AttachResult;
}
export interface ProbeInput {
  provider: ProviderKind;
  accountRef: string;
  credentials: Secret<ProviderCredentials>;
  number: E164;
  linkId: LinkId;
  /** The settings from before the link, kept if the probe has to point the webhooks back. */
  knownPrevious: Record<string, string | null> | null;
}
export interface ProbeOutput {
  balance: Balance | null;
  /** The number's webhooks no longer pointed at the bridge and were pointed back. */
  repaired: boolean;
}
export interface DisconnectInput extends ProbeInput {
  providerNumberId: string | null;
  previousSettings: Record<string, string | null> | null;
}

const notImplemented = (name: string) => () => {
  throw new Error(`link machine: ${name} must be given through .provide()`);
};

const BASE_RETRY_MS = 5_000;
const MAX_RETRY_MS = 5 * 60_000;
/** Unlink gives up restoring the provider's settings after this many failed tries, and says so. */
export const MAX_UNLINK_ATTEMPTS = 3;

export const retryDelayMs = (failures: number): number =>
  Math.min(MAX_RETRY_MS, BASE_RETRY_MS * 2 ** Math.max(0, failures - 1));

const failureOf = (error: unknown) => ({ code: errorCodeOf(error), reason: userMessageOf(error) });
const isRetryable = (error: unknown) => errorCodeOf(error) === "provider-unavailable";

export const linkMachine = setup({
  types: {
    context: {} as LinkContext,
    input: {} as LinkInput,
    events: {} as LinkEvent,
  },
  actors: {
    connect: fromPromise<ConnectOutput, ConnectInput>(notImplemented("connect")),
    probe: fromPromise<ProbeOutput, ProbeInput>(notImplemented("probe")),
    disconnect: fromPromise<void, DisconnectInput>(notImplemented("disconnect")),
    /** Brings in texts the provider has that no webhook delivered; resolves with how many. */
    reconcile: fromPromise<number, { linkId: LinkId }>(notImplemented("reconcile")),
  },
  actions: {
    /** Writes the link and its state to the database (synchronously). */
    persist: (_args, _params: { state: StoredLinkState }) => {},
    /** Deletes the link from the database. */
    forget: () => {},
    /** Tells the control room's members something. */
    notify: (_args, _params: Notice) => {},
    /** Logs a failed catch-up; the next one tries again. */
    reconcileFailed: (_args, _params: { error: unknown }) => {},
    report: sendParent(({ context }, params: { state: LinkStateName }) => ({
      type: "link.state",
      linkId: context.linkId,
      state: params.state,
    }) satisfies LinkStateReport),
  },
  delays: {
    retryDelay: ({ context }) => retryDelayMs(context.failures),
    healthInterval: 15 * 60_000,
    reconcileInterval: 5 * 60_000,
  },
  guards: {
    restoringAs: ({ context }, params: { state: StoredLinkState }) => context.restoreState === params.state,
    retryable: ({ event }) => isRetryable((event as { error?: unknown }).error),
    statusRequested: ({ context }) => context.statusRequested,
    unlinkAttemptsLeft: ({ context }) => context.failures < MAX_UNLINK_ATTEMPTS,
  },
}).createMachine({
  id: "link",
  context: ({ input }) => ({
    linkId: input.linkId,
    roomId: input.roomId,
    provider: input.provider,
    accountRef: input.accountRef,
    number: input.number,
    credentials: input.credentials,
    providerNumberId: input.restore?.providerNumberId ?? null,
    previousSettings: input.restore?.previousSettings ?? null,
    lastError: input.restore?.stateCode ? { code: input.restore.stateCode as ErrorCode, reason: "" } : null,
    failures: 0,
    statusRequested: false,
    resumeTo: input.restore?.state === "bad-credentials" ? "bad-credentials" : "linked",
    restoreState: input.restore?.state ?? null,
  }),
  initial: "restoring",
  states: {
    // Where a link starts: fresh from `link`, or back from the database after a restart.
    restoring: {
      always: [
        // A restored link checks itself at once: the provider may have changed while we were down.
        { guard: { type: "restoringAs", params: { state: "linked" } }, target: "linked.health.probing" },
        { guard: { type: "restoringAs", params: { state: "degraded" } }, target: "degraded" },
        { guard: { type: "restoringAs", params: { state: "bad-credentials" } }, target: "bad-credentials" },
        { guard: { type: "restoringAs", params: { state: "paused" } }, target: "paused" },
        { guard: { type: "restoringAs", params: { state: "unlinking" } }, target: "unlinking" },
        { target: "linking" },
      ],
    },
    linking: {
      entry: [
        { type: "persist", params: { state: "linking" } },
        { type: "report", params: { state: "linking" } },
      ],
      invoke: {
        src: "connect",
        input: ({ context }) => connectInput(context),
        onDone: {
          target: "linked",
          actions: [
            assign(({ event }) => ({
              providerNumberId: event.output.number.id,
              previousSettings: event.output.attach.previous,
              failures: 0,
              lastError: null,
            })),
            {
              type: "notify",
              params: ({ context, event }) => ({
                kind: "link.linked",
                provider: context.provider,
                number: context.number,
                accountName: event.output.account.name,
                warnings: [...event.output.account.warnings, ...event.output.attach.warnings],
              }),
            },
          ],
        },
        onError: [
          {
            guard: "retryable",
            target: "degraded",
            actions: [
              assign(({ context, event }) => ({ failures: context.failures + 1, lastError: failureOf(event.error) })),
              { type: "notify", params: ({ context, event }) => degradedNotice(context, event.error, context.failures) },
            ],
          },
          {
            target: "bad-credentials",
            actions: [
              assign(({ event }) => ({ lastError: failureOf(event.error) })),
              { type: "notify", params: ({ context, event }) => failedNotice(context, event.error) },
            ],
          },
        ],
      },
      on: {
        status: { actions: { type: "notify", params: ({ context }) => statusNotice(context, "linking", null) } },
        unlink: "unlinking",
      },
    },
    linked: {
      entry: [
        { type: "persist", params: { state: "linked" } },
        { type: "report", params: { state: "linked" } },
        assign({ resumeTo: "linked" }),
      ],
      type: "parallel",
      states: {
        health: {
          initial: "idle",
          states: {
            idle: {
              after: { healthInterval: "probing" },
              on: { status: { target: "probing", actions: assign({ statusRequested: true }) } },
            },
            // One probe serves both the periodic health check and `status` (it reads the balance).
            probing: {
              invoke: {
                src: "probe",
                input: ({ context }) => probeInput(context),
                onDone: {
                  target: "idle",
                  actions: enqueueActions(({ context, event, enqueue }) => {
                    if (event.output.repaired) {
                      enqueue({ type: "notify", params: { kind: "link.repaired", provider: context.provider, number: context.number } });
                    }
                    if (context.statusRequested) enqueue({ type: "notify", params: statusNotice(context, "linked", event.output.balance) });
                    enqueue.assign({ statusRequested: false, failures: 0 });
                  }),
                },
                onError: [
                  {
                    guard: "retryable",
                    target: "#link.degraded",
                    actions: [
                      assign(({ event }) => ({ failures: 1, lastError: failureOf(event.error) })),
                      { type: "notify", params: ({ context, event }) => degradedNotice(context, event.error, 1) },
                    ],
                  },
                  {
                    target: "#link.bad-credentials",
                    actions: [
                      assign(({ event }) => ({ lastError: failureOf(event.error) })),
                      { type: "notify", params: ({ context, event }) => failedNotice(context, event.error) },
                    ],
                  },
                ],
              },
              on: { status: { actions: assign({ statusRequested: true }) } },
            },
          },
        },
        // Catches up with texts webhooks missed: at once (after a restart, say), then every few minutes.
        sync: {
          initial: "reconciling",
          states: {
            reconciling: {
              invoke: {
                src: "reconcile",
                input: ({ context }) => ({ linkId: context.linkId }),
                onDone: "waiting",
                onError: { target: "waiting", actions: { type: "reconcileFailed", params: ({ event }) => ({ error: event.error }) } },
              },
            },
            waiting: { after: { reconcileInterval: "reconciling" } },
          },
        },
      },
      on: {
        unlink: "unlinking",
        pause: "paused",
      },
    },
    degraded: {
      entry: [
        { type: "persist", params: { state: "degraded" } },
        { type: "report", params: { state: "degraded" } },
        assign({ resumeTo: "linked" }),
      ],
      initial: "waiting",
      states: {
        waiting: { after: { retryDelay: "retrying" } },
        // Re-attaching is idempotent and also repairs webhooks someone changed at the provider.
        retrying: {
          invoke: {
            src: "connect",
            input: ({ context }) => connectInput(context),
            onDone: {
              target: "#link.linked",
              actions: [
                assign(({ event }) => ({
                  providerNumberId: event.output.number.id,
                  previousSettings: event.output.attach.previous,
                  failures: 0,
                  lastError: null,
                })),
                { type: "notify", params: ({ context }) => ({ kind: "link.recovered", provider: context.provider, number: context.number }) },
              ],
            },
            onError: [
              {
                guard: "retryable",
                target: "waiting",
                actions: assign(({ context, event }) => ({ failures: context.failures + 1, lastError: failureOf(event.error) })),
              },
              {
                target: "#link.bad-credentials",
                actions: [
                  assign(({ event }) => ({ lastError: failureOf(event.error) })),
                  { type: "notify", params: ({ context, event }) => failedNotice(context, event.error) },
                ],
              },
            ],
          },
        },
      },
      on: {
        status: { actions: { type: "notify", params: ({ context }) => statusNotice(context, "degraded", null) } },
        unlink: "unlinking",
        pause: "paused",
      },
    },
    "bad-credentials": {
      entry: [
        { type: "persist", params: { state: "bad-credentials" } },
        { type: "report", params: { state: "bad-credentials" } },
        assign({ resumeTo: "bad-credentials" }),
      ],
      on: {
        status: { actions: { type: "notify", params: ({ context }) => statusNotice(context, "bad-credentials", null) } },
        unlink: "unlinking",
        pause: "paused",
      },
    },
    // The bot was kicked: keep everything, do nothing, until it is back in the room.
    paused: {
      entry: [
        { type: "persist", params: { state: "paused" } },
        { type: "report", params: { state: "paused" } },
      ],
      on: {
        resume: [
          { guard: ({ context }) => context.resumeTo === "bad-credentials", target: "bad-credentials" },
          { target: "linked.health.probing" },
        ],
        unlink: "unlinking",
      },
    },
    unlinking: {
      entry: [
        { type: "persist", params: { state: "unlinking" } },
        { type: "report", params: { state: "unlinking" } },
        assign({ failures: 0 }),
      ],
      initial: "restoring",
      states: {
        restoring: {
          invoke: {
            src: "disconnect",
            input: ({ context }) => ({ ...probeInput(context), providerNumberId: context.providerNumberId, previousSettings: context.previousSettings }),
            onDone: {
              target: "#link.unlinked",
              actions: {
                type: "notify",
                params: ({ context }) => ({ kind: "link.unlinked", number: context.number, restored: true, reason: null, previous: null }),
              },
            },
            onError: [
              {
                guard: ({ context, event }) => isRetryable(event.error) && context.failures + 1 < MAX_UNLINK_ATTEMPTS,
                target: "waiting",
                actions: [
                  assign(({ context }) => ({ failures: context.failures + 1 })),
                  {
                    type: "notify",
                    params: ({ context, event }) => ({
                      kind: "link.unlink-retrying",
                      reason: userMessageOf(event.error),
                      retryInMs: retryDelayMs(context.failures),
                    }),
                  },
                ],
              },
              {
                // The provider can't be reached or won't take the credentials: stop bridging
                // anyway, and tell the user what to put back by hand.
                target: "#link.unlinked",
                actions: {
                  type: "notify",
                  params: ({ context, event }) => ({
                    kind: "link.unlinked",
                    number: context.number,
                    restored: false,
                    reason: userMessageOf(event.error),
                    previous: context.previousSettings,
                  }),
                },
              },
            ],
          },
        },
        waiting: { after: { retryDelay: "restoring" } },
      },
      on: { status: { actions: { type: "notify", params: ({ context }) => statusNotice(context, "unlinking", null) } } },
    },
    unlinked: {
      type: "final",
      entry: ["forget", { type: "report", params: { state: "unlinked" } }],
    },
  },
});

export type LinkActor = ActorRefFrom<typeof linkMachine>;

function connectInput(context: LinkContext): ConnectInput {
  return {
    provider: context.provider,
    accountRef: context.accountRef,
    credentials: context.credentials,
    number: context.number,
    linkId: context.linkId,
    knownPrevious: context.previousSettings,
  };
}

function probeInput(context: LinkContext): ProbeInput {
  return {
    provider: context.provider,
    accountRef: context.accountRef,
    credentials: context.credentials,
    number: context.number,
    linkId: context.linkId,
    knownPrevious: context.previousSettings,
  };
}

function failedNotice(context: LinkContext, error: unknown): Notice {
  return { kind: "link.failed", provider: context.provider, number: context.number, code: errorCodeOf(error), reason: userMessageOf(error) };
}

function degradedNotice(context: LinkContext, error: unknown, failures: number): Notice {
  return { kind: "link.degraded", provider: context.provider, reason: userMessageOf(error), retryInMs: retryDelayMs(failures) };
}

function statusNotice(context: LinkContext, state: LinkStateName, balance: Balance | null): Notice {
  return {
    kind: "link.status",
    state,
    provider: context.provider,
    number: context.number,
    accountRef: context.accountRef,
    balance,
    reason: state === "linked" ? null : (context.lastError?.reason || null),
  };
}
