import { fromPromise } from "xstate";
import { BridgeError, type ErrorCode } from "../../src/errors.js";
import { e164, linkId, roomId, type LinkId } from "../../src/ids.js";
import type { ConnectInput, ConnectOutput, DisconnectInput, LinkInput, ProbeInput, ProbeOutput } from "../../src/machines/link.machine.js";
import type { Notice } from "../../src/machines/notices.js";
import { Secret } from "../../src/secret.js";
import type { StoredLinkState } from "../../src/storage/links.js";

/** An outcome: the value to resolve with, or `{ fail: code }` to reject with a BridgeError. */
type Outcome<T> = T | { fail: ErrorCode };

/**
 * Scriptable stand-ins for the link machine's effects. Each queue holds the outcomes of the next
 * calls (a value, or an error code to fail with); calls past the end wait forever, which is how a
 * test holds a link in a state. Every call and notice is recorded for assertions.
 */
export function linkFakes() {
  const calls: { connect: ConnectInput[]; probe: ProbeInput[]; disconnect: DisconnectInput[] } = {
    connect: [],
    probe: [],
    disconnect: [],
  };
  const script = {
    connect: [] as Outcome<ConnectOutput>[],
    probe: [] as Outcome<ProbeOutput>[],
    disconnect: [] as Outcome<void>[],
  };
  const notices: Notice[] = [];
  const persisted: StoredLinkState[] = [];
  const reported: string[] = [];
  let forgotten = 0;
  let reconciled = 0;

  function run<T>(queue: Outcome<T>[]): Promise<T> {
    if (queue.length === 0) return new Promise<T>(() => {});
    const next = queue.shift()!;
    if (typeof next === "object" && next !== null && "fail" in next) {
      return Promise.reject(new BridgeError(next.fail, `fake ${next.fail}`, { userMessage: `fake: ${next.fail}` }));
    }
    return Promise.resolve(next as T);
  }

  const implementations = {
    actors: {
      connect: fromPromise<ConnectOutput, ConnectInput>(async ({ input }) => {
        calls.connect.push(input);
        return run(script.connect);
      }),
      probe: fromPromise<ProbeOutput, ProbeInput>(async ({ input }) => {
        calls.probe.push(input);
        return run(script.probe);
      }),
      reconcile: fromPromise<number, { linkId: LinkId }>(async () => {
        reconciled++;
        return 0;
      }),
      disconnect: fromPromise<void, DisconnectInput>(async ({ input }) => {
        calls.disconnect.push(input);
        return run(script.disconnect);
      }),
    },
    actions: {
      persist: (_: unknown, params: { state: StoredLinkState }) => void persisted.push(params.state),
      forget: () => void forgotten++,
      notify: (_: unknown, notice: Notice) => void notices.push(notice),
      // A root link in a unit test has no parent to report to.
      report: (_: unknown, params: { state: string }) => void reported.push(params.state),
    },
  };

  return {
    calls,
    script,
    notices,
    persisted,
    reported,
    implementations,
    get forgotten() {
      return forgotten;
    },
    get reconciled() {
      return reconciled;
    },
    kinds: () => notices.map((n) => n.kind),
  };
}

export const fail = (code: ErrorCode) => ({ fail: code });

export const connected = (previous: Record<string, string | null> = { sms_url: "https://old.example/sms" }): ConnectOutput => ({
  account: { accountRef: "AC00000000000000000000000000000001", name: "Test account", warnings: [] },
  number: { id: "PN00000000000000000000000000000001", number: e164("+15550001111"), settings: previous },
  attach: { previous, warnings: [] },
});

export function linkInput(overrides: Partial<LinkInput> = {}): LinkInput {
  return {
    linkId: linkId("lnk0000000000000001"),
    roomId: roomId("!control:localhost"),
    provider: "twilio",
    accountRef: "AC00000000000000000000000000000001",
    number: e164("+15550001111"),
    credentials: new Secret({ authToken: "t0ps3cret-t0ps3cret" }),
    ...overrides,
  };
}

/** Lets pending promise callbacks (fromPromise actors) settle. */
export const settle = () => new Promise((resolve) => setImmediate(resolve));
