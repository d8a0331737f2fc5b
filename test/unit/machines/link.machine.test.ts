import { describe, expect, it } from "vitest";
import { createActor, SimulatedClock } from "xstate";
import { linkMachine, MAX_UNLINK_ATTEMPTS, retryDelayMs } from "../../../src/machines/link.machine.js";
import { connected, fail, linkFakes, linkInput, settle } from "../../helpers/link-fakes.js";

function start(fakes: ReturnType<typeof linkFakes>, input = linkInput()) {
  const clock = new SimulatedClock();
  const actor = createActor(linkMachine.provide(fakes.implementations), { input, clock });
  // A root actor with no error observer would crash the test process on a machine bug.
  const errors: unknown[] = [];
  actor.subscribe({ error: (err) => errors.push(err) });
  actor.start();
  return { actor, clock, errors };
}

describe("link machine", () => {
  it("links: connect succeeds → linked, persisted and announced", async () => {
    const fakes = linkFakes();
    fakes.script.connect.push(connected());
    const { actor, errors } = start(fakes);
    expect(actor.getSnapshot().value).toBe("linking");
    await settle();
    expect(actor.getSnapshot().matches("linked")).toBe(true);
    expect(fakes.persisted).toEqual(["linking", "linked"]);
    expect(fakes.kinds()).toEqual(["link.linked"]);
    expect(actor.getSnapshot().context.previousSettings).toEqual({ sms_url: "https://old.example/sms" });
    expect(errors).toEqual([]);
  });

  it.each([
    ["provider-credentials-rejected"],
    ["provider-number-not-found"],
    ["provider-rejected"],
  ] as const)("a %s failure while linking ends in bad-credentials with the reason", async (code) => {
    const fakes = linkFakes();
    fakes.script.connect.push(fail(code));
    const { actor } = start(fakes);
    await settle();
    expect(actor.getSnapshot().value).toBe("bad-credentials");
    expect(actor.getSnapshot().context.lastError?.code).toBe(code);
    expect(fakes.notices).toEqual([expect.objectContaining({ kind: "link.failed", code })]);
    expect(fakes.persisted.at(-1)).toBe("bad-credentials");
  });

  it("an unreachable provider degrades the link and retries with backoff until it recovers", async () => {
    const fakes = linkFakes();
    fakes.script.connect.push(fail("provider-unavailable"), fail("provider-unavailable"), connected());
    const { actor, clock } = start(fakes);
    await settle();
    expect(actor.getSnapshot().matches("degraded")).toBe(true);
    expect(fakes.calls.connect).toHaveLength(1);

    clock.increment(retryDelayMs(1) - 1);
    await settle();
    expect(fakes.calls.connect).toHaveLength(1);
    clock.increment(1);
    await settle();
    expect(fakes.calls.connect).toHaveLength(2);
    expect(actor.getSnapshot().context.failures).toBe(2);

    clock.increment(retryDelayMs(2));
    await settle();
    expect(fakes.calls.connect).toHaveLength(3);
    expect(actor.getSnapshot().matches("linked")).toBe(true);
    expect(fakes.kinds()).toEqual(["link.degraded", "link.recovered"]);
  });

  it("keeps the first remembered settings when it re-attaches", async () => {
    const fakes = linkFakes();
    fakes.script.connect.push(fail("provider-unavailable"));
    const { actor, clock } = start(fakes, linkInput({ restore: {
      state: "degraded", stateCode: "provider-unavailable", providerNumberId: "PN1", previousSettings: { sms_url: "https://mine" },
    } }));
    await settle();
    clock.increment(retryDelayMs(1));
    await settle();
    expect(fakes.calls.connect[0]!.knownPrevious).toEqual({ sms_url: "https://mine" });
    expect(actor.getSnapshot().matches("degraded")).toBe(true);
  });

  it("status in linked probes the provider and reports the balance", async () => {
    const fakes = linkFakes();
    fakes.script.connect.push(connected());
    fakes.script.probe.push({ balance: { amount: "12.50", currency: "USD" }, repaired: false });
    const { actor } = start(fakes);
    await settle();
    actor.send({ type: "status" });
    await settle();
    expect(fakes.notices.at(-1)).toMatchObject({ kind: "link.status", state: "linked", balance: { amount: "12.50", currency: "USD" } });
    expect(actor.getSnapshot().matches({ linked: { health: "idle" } })).toBe(true);
  });

  it("the periodic health check is silent when healthy and degrades on an outage", async () => {
    const fakes = linkFakes();
    fakes.script.connect.push(connected());
    fakes.script.probe.push({ balance: null, repaired: false }, fail("provider-unavailable"));
    const { actor, clock } = start(fakes);
    await settle();
    clock.increment(15 * 60_000);
    await settle();
    expect(fakes.calls.probe).toHaveLength(1);
    expect(fakes.kinds()).toEqual(["link.linked"]);
    clock.increment(15 * 60_000);
    await settle();
    expect(actor.getSnapshot().matches("degraded")).toBe(true);
    expect(fakes.kinds()).toEqual(["link.linked", "link.degraded"]);
  });

  it("unlink restores the settings, announces it, forgets the link and stops", async () => {
    const fakes = linkFakes();
    fakes.script.connect.push(connected());
    fakes.script.disconnect.push(undefined);
    const { actor } = start(fakes);
    await settle();
    actor.send({ type: "unlink" });
    await settle();
    expect(fakes.calls.disconnect[0]).toMatchObject({ providerNumberId: "PN00000000000000000000000000000001", previousSettings: { sms_url: "https://old.example/sms" } });
    expect(actor.getSnapshot().status).toBe("done");
    expect(fakes.forgotten).toBe(1);
    expect(fakes.notices.at(-1)).toMatchObject({ kind: "link.unlinked", restored: true });
  });

  it("unlink retries an unreachable provider, then gives up and says what to restore by hand", async () => {
    const fakes = linkFakes();
    fakes.script.connect.push(connected());
    for (let i = 0; i < MAX_UNLINK_ATTEMPTS; i++) fakes.script.disconnect.push(fail("provider-unavailable"));
    const { actor, clock } = start(fakes);
    await settle();
    actor.send({ type: "unlink" });
    for (let i = 1; i < MAX_UNLINK_ATTEMPTS; i++) {
      await settle();
      clock.increment(retryDelayMs(i));
    }
    await settle();
    expect(fakes.calls.disconnect).toHaveLength(MAX_UNLINK_ATTEMPTS);
    expect(actor.getSnapshot().status).toBe("done");
    expect(fakes.notices.at(-1)).toMatchObject({ kind: "link.unlinked", restored: false, previous: { sms_url: "https://old.example/sms" } });
  });

  it("pause and resume: a paused link does nothing until resumed, then checks itself", async () => {
    const fakes = linkFakes();
    fakes.script.connect.push(connected());
    fakes.script.probe.push({ balance: null, repaired: false });
    const { actor, clock } = start(fakes);
    await settle();
    actor.send({ type: "pause" });
    expect(actor.getSnapshot().value).toBe("paused");
    clock.increment(60 * 60_000);
    await settle();
    expect(fakes.calls.probe).toHaveLength(0);
    actor.send({ type: "resume" });
    await settle();
    expect(fakes.calls.probe).toHaveLength(1);
    expect(actor.getSnapshot().matches({ linked: { health: "idle" } })).toBe(true);
    expect(fakes.persisted).toEqual(["linking", "linked", "paused", "linked"]);
  });

  it("restores a stored linked link without re-linking, and checks it at once", async () => {
    const fakes = linkFakes();
    fakes.script.probe.push({ balance: null, repaired: false });
    const { actor } = start(fakes, linkInput({ restore: { state: "linked", stateCode: null, providerNumberId: "PN1", previousSettings: {} } }));
    await settle();
    expect(actor.getSnapshot().matches({ linked: { health: "idle" } })).toBe(true);
    expect(fakes.calls.connect).toHaveLength(0);
    expect(fakes.calls.probe).toHaveLength(1);
    expect(fakes.notices).toEqual([]);
  });

  it("says so when a check found the webhooks changed at the provider and pointed them back", async () => {
    const fakes = linkFakes();
    fakes.script.probe.push({ balance: null, repaired: true });
    start(fakes, linkInput({ restore: { state: "linked", stateCode: null, providerNumberId: "PN1", previousSettings: {} } }));
    await settle();
    expect(fakes.kinds()).toEqual(["link.repaired"]);
  });

  it("never exposes the credentials when the snapshot is serialised", async () => {
    const fakes = linkFakes();
    const { actor } = start(fakes);
    const json = JSON.stringify(actor.getPersistedSnapshot());
    expect(json).not.toContain("t0ps3cret");
    expect(json).toContain("[redacted]");
  });
});
