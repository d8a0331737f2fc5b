import { describe, expect, it } from "vitest";
import { createActor, fromCallback, fromPromise, SimulatedClock } from "xstate";
import { portalId, roomId, userId } from "../../../src/ids.js";
import { callMachine, type CallInput, type Leg } from "../../../src/machines/call.machine.js";
import { settle } from "../../helpers/link-fakes.js";

const leg = (n: number): Leg => ({ matrixCallId: `mc${n}`, roomId: roomId(`!r${n}:localhost`), userId: userId(`@u${n}:localhost`) });

function start(overrides: Partial<CallInput> = {}, dial: () => Promise<void> = async () => {}) {
  const log: string[] = [];
  const clock = new SimulatedClock();
  const actor = createActor(
    callMachine.provide({
      actors: {
        ring: fromCallback(({ sendBack }) => {
          log.push("ring");
          sendBack({ type: "ring.started", legs: 2 });
          return () => log.push("ring stopped");
        }),
        bridgeAudio: fromCallback(({ input }) => {
          log.push(`bridge ${input.leg.matrixCallId}`);
          return () => log.push("bridge stopped");
        }),
        dial: fromPromise(async () => {
          log.push("dial");
          return dial();
        }),
        startVoicemail: fromPromise(async () => {
          log.push("voicemail");
        }),
      },
      actions: {
        persist: (_, p) => void log.push(`persist ${p.state}`),
        selectAnswer: (_, p) => void log.push(`select ${p.leg.matrixCallId}`),
        answerCaller: (_, p) => void log.push(`answer ${p.leg.matrixCallId}`),
        finish: (_, p) => void log.push(`finish ${p.reason}`),
        postVoicemail: (_, p) => void log.push(`post ${p.durationSeconds}s`),
      },
    }),
    {
      input: { callId: "call1", portalId: portalId("cv0000000000000001"), controlRoomId: roomId("!c:localhost"), direction: "in", createdAt: 1_000, ringTimeoutMs: 30_000, voicemail: true, ...overrides },
      clock,
    },
  );
  const errors: unknown[] = [];
  actor.subscribe({ error: (e) => errors.push(e) });
  actor.start();
  return { actor, log, clock, errors };
}

describe("call machine, inbound", () => {
  it("rings, the first answer gets the call, audio is bridged, a Matrix hangup ends it", () => {
    const { actor, log, errors } = start();
    expect(actor.getSnapshot().context.ringDeadline).toBe(31_000);
    actor.send({ type: "matrix.answer", leg: leg(2) });
    expect(actor.getSnapshot().value).toBe("answered");
    actor.send({ type: "matrix.hangup", leg: leg(1) });
    expect(actor.getSnapshot().value).toBe("answered");
    actor.send({ type: "matrix.hangup", leg: leg(2) });
    expect(log).toEqual(expect.arrayContaining(["persist ringing", "ring", "select mc2", "ring stopped", "persist answered", "bridge mc2", "bridge stopped", "finish completed"]));
    expect(log.indexOf("select mc2")).toBeLessThan(log.indexOf("bridge mc2"));
    expect(log.filter((l) => l.startsWith("finish"))).toEqual(["finish completed"]);
    expect(actor.getSnapshot().status).toBe("done");
    expect(errors).toEqual([]);
  });

  it("the phone hanging up ends an answered call", () => {
    const { actor, log } = start();
    actor.send({ type: "matrix.answer", leg: leg(1) });
    actor.send({ type: "provider.status", status: "completed" });
    expect(log.filter((l) => l.startsWith("finish"))).toEqual(["finish completed"]);
  });

  it("nobody answering in time sends the caller to voicemail; the recording is posted", async () => {
    const { actor, log, clock } = start();
    clock.increment(29_999);
    expect(actor.getSnapshot().value).toBe("ringing");
    clock.increment(1);
    await settle();
    expect(actor.getSnapshot().matches({ voicemail: "recording" })).toBe(true);
    actor.send({ type: "provider.recording", url: "https://rec", durationSeconds: 7 });
    expect(log).toEqual(expect.arrayContaining(["ring stopped", "persist voicemail", "voicemail", "post 7s", "finish voicemail"]));
    expect(log.indexOf("post 7s")).toBeLessThan(log.indexOf("finish voicemail"));
  });

  it("without voicemail, an unanswered call ends as missed", () => {
    const { log, clock } = start({ voicemail: false });
    clock.increment(30_000);
    expect(log.filter((l) => l.startsWith("finish"))).toEqual(["finish missed"]);
  });

  it("a caller who hangs up while it rings leaves a missed call", () => {
    const { log, actor } = start();
    actor.send({ type: "provider.status", status: "canceled" });
    expect(log.filter((l) => l.startsWith("finish"))).toEqual(["finish missed"]);
    expect(actor.getSnapshot().status).toBe("done");
  });

  it("when everyone rung rejects, the caller goes to voicemail", () => {
    const { actor } = start();
    actor.send({ type: "matrix.reject", leg: leg(1) });
    expect(actor.getSnapshot().value).toBe("ringing");
    actor.send({ type: "matrix.reject", leg: leg(2) });
    expect(actor.getSnapshot().matches("voicemail")).toBe(true);
  });

  it("a caller hanging up during voicemail without a recording is a missed call, after a grace period", () => {
    const { actor, log, clock } = start();
    clock.increment(30_000);
    actor.send({ type: "provider.status", status: "completed" });
    expect(actor.getSnapshot().matches({ voicemail: "closing" })).toBe(true);
    clock.increment(15_000);
    expect(log.filter((l) => l.startsWith("finish"))).toEqual(["finish missed"]);
  });

  it("a stopping bridge ends the call on both sides, whatever the state", () => {
    const { actor, log } = start();
    actor.send({ type: "matrix.answer", leg: leg(1) });
    actor.send({ type: "bridge.stopping" });
    expect(log.filter((l) => l.startsWith("finish"))).toEqual(["finish restart"]);
  });
});

describe("call machine, outbound", () => {
  const caller = leg(9);

  it("dials, and answers the Matrix call once the phone answered and its stream is up", async () => {
    const { actor, log } = start({ direction: "out", caller });
    await settle();
    expect(actor.getSnapshot().value).toBe("dialing");
    actor.send({ type: "provider.status", status: "ringing" });
    actor.send({ type: "provider.status", status: "in-progress" });
    expect(actor.getSnapshot().matches({ connecting: "waiting" })).toBe(true);
    actor.send({ type: "stream.started" });
    expect(actor.getSnapshot().value).toBe("answered");
    expect(log).toEqual(expect.arrayContaining(["persist ringing", "dial", "answer mc9", "persist answered", "bridge mc9"]));
    expect(log.indexOf("answer mc9")).toBeLessThan(log.indexOf("bridge mc9"));
  });

  it.each([
    ["busy", "busy"],
    ["no-answer", "no-answer"],
    ["failed", "failed"],
  ] as const)("a %s phone ends the call with that reason", async (status, reason) => {
    const { actor, log } = start({ direction: "out", caller });
    await settle();
    actor.send({ type: "provider.status", status });
    expect(log.filter((l) => l.startsWith("finish"))).toEqual([`finish ${reason}`]);
  });

  it("the member hanging up before the phone answers cancels the call", async () => {
    const { actor, log } = start({ direction: "out", caller });
    await settle();
    actor.send({ type: "matrix.hangup", leg: caller });
    expect(log.filter((l) => l.startsWith("finish"))).toEqual(["finish canceled"]);
  });

  it("a dial the provider refuses ends as failed", async () => {
    const { log } = start({ direction: "out", caller }, async () => {
      throw new Error("refused");
    });
    await settle();
    expect(log.filter((l) => l.startsWith("finish"))).toEqual(["finish failed"]);
  });

  it("nobody picking up before the deadline ends as no-answer", async () => {
    const { log, clock } = start({ direction: "out", caller });
    await settle();
    clock.increment(30_000);
    expect(log.filter((l) => l.startsWith("finish"))).toEqual(["finish no-answer"]);
  });
});
