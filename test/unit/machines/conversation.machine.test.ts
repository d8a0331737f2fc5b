import { describe, expect, it } from "vitest";
import { createActor, fromPromise, SimulatedClock } from "xstate";
import { BridgeError } from "../../../src/errors.js";
import { portalId, roomId } from "../../../src/ids.js";
import { conversationMachine, conversationRetryMs, type LaneInput, type SendOutput } from "../../../src/machines/conversation.machine.js";
import { settle } from "../../helpers/link-fakes.js";

/** A lane whose calls the test resolves or rejects by hand, to act out slow or failing work. */
function lane<T>() {
  const calls: { resolve: (value: T) => void; reject: (err: unknown) => void }[] = [];
  const logic = fromPromise<T, LaneInput>(() => new Promise<T>((resolve, reject) => calls.push({ resolve, reject })));
  return { calls, logic };
}

function start() {
  const matrix = lane<void>();
  const provider = lane<SendOutput>();
  const failures: string[] = [];
  const clock = new SimulatedClock();
  const actor = createActor(
    conversationMachine.provide({
      actors: { showInMatrix: matrix.logic, sendToProvider: provider.logic },
      actions: { laneFailed: (_, p) => void failures.push(p.lane) },
    }),
    { input: { portalId: portalId("cv0000000000000001"), controlRoomId: roomId("!control:localhost") }, clock },
  );
  const errors: unknown[] = [];
  actor.subscribe({ error: (e) => errors.push(e) });
  actor.start();
  return { actor, matrix, provider, clock, failures, errors };
}

const unavailable = (code: "matrix-unavailable" | "provider-unavailable") => new BridgeError(code, "down");

describe("conversation machine", () => {
  it("looks for work in both lanes as soon as it starts", () => {
    const { actor, matrix, provider } = start();
    expect(actor.getSnapshot().matches({ active: { matrix: "working", provider: "working" } })).toBe(true);
    expect(matrix.calls).toHaveLength(1);
    expect(provider.calls).toHaveLength(1);
  });

  it("one lane at a time: work during a run means one more run afterwards, not a parallel one", async () => {
    const { actor, provider } = start();
    actor.send({ type: "work" });
    actor.send({ type: "work" });
    expect(provider.calls).toHaveLength(1);
    provider.calls[0]!.resolve({ outcomes: false });
    await settle();
    expect(provider.calls).toHaveLength(2);
    provider.calls[1]!.resolve({ outcomes: false });
    await settle();
    expect(provider.calls).toHaveLength(2);
    expect(actor.getSnapshot().matches({ active: { provider: "idle" } })).toBe(true);
  });

  it("a slow provider lane does not hold up the matrix lane", async () => {
    const { actor, matrix } = start();
    matrix.calls[0]!.resolve();
    await settle();
    actor.send({ type: "work" });
    expect(matrix.calls).toHaveLength(2);
    matrix.calls[1]!.resolve();
    await settle();
    expect(actor.getSnapshot().matches({ active: { matrix: "idle", provider: "working" } })).toBe(true);
  });

  it("backs off on a transient failure and tries again after the delay", async () => {
    const { actor, matrix, clock } = start();
    matrix.calls[0]!.reject(unavailable("matrix-unavailable"));
    await settle();
    expect(actor.getSnapshot().matches({ active: { matrix: "backoff" } })).toBe(true);
    clock.increment(conversationRetryMs(1) - 1);
    expect(matrix.calls).toHaveLength(1);
    clock.increment(1);
    expect(matrix.calls).toHaveLength(2);
    matrix.calls[1]!.reject(unavailable("matrix-unavailable"));
    await settle();
    clock.increment(conversationRetryMs(2));
    expect(matrix.calls).toHaveLength(3);
    expect(actor.getSnapshot().context.matrixFailures).toBe(2);
  });

  it("a failure retrying won't fix is reported and the lane goes idle", async () => {
    const { actor, provider, failures } = start();
    provider.calls[0]!.reject(new Error("bug"));
    await settle();
    expect(failures).toEqual(["provider"]);
    expect(actor.getSnapshot().matches({ active: { provider: "idle" } })).toBe(true);
  });

  it("texts the provider refused wake the matrix lane to show the outcome", async () => {
    const { matrix, provider } = start();
    matrix.calls[0]!.resolve();
    await settle();
    provider.calls[0]!.resolve({ outcomes: true });
    await settle();
    expect(matrix.calls).toHaveLength(2);
    expect(provider.calls).toHaveLength(1);
  });

  it("stops after a quiet spell once both lanes are idle, not while one is busy", async () => {
    const { actor, matrix, provider, clock, errors } = start();
    matrix.calls[0]!.resolve();
    await settle();
    clock.increment(10 * 60_000);
    expect(actor.getSnapshot().status).toBe("active");
    provider.calls[0]!.resolve({ outcomes: false });
    await settle();
    expect(actor.getSnapshot().status).toBe("done");
    expect(errors).toEqual([]);
  });

  it("work keeps it alive", async () => {
    const { actor, matrix, provider, clock } = start();
    matrix.calls[0]!.resolve();
    provider.calls[0]!.resolve({ outcomes: false });
    await settle();
    clock.increment(9 * 60_000);
    actor.send({ type: "work" });
    matrix.calls[1]!.resolve();
    provider.calls[1]!.resolve({ outcomes: false });
    await settle();
    clock.increment(9 * 60_000);
    expect(actor.getSnapshot().status).toBe("active");
    clock.increment(60_000);
    expect(actor.getSnapshot().status).toBe("done");
  });
});
