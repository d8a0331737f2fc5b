import { afterEach, describe, expect, it } from "vitest";
import type { Clock } from "../../../src/clock.js";
import { buildSimulatorApp, type SimulatorApp } from "../../../src/sandbox/simulator/index.js";

/** A clock that only moves when told to, running due timers in order. */
class ManualClock implements Clock {
  #now: number;
  #timers: Array<{ at: number; fn: () => void }> = [];

  constructor(start: Date) {
    this.#now = start.getTime();
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: (...args: unknown[]) => void, ms: number): unknown {
    const timer = { at: this.#now + ms, fn: () => fn() };
    this.#timers.push(timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    this.#timers = this.#timers.filter((t) => t !== handle);
  }

  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      await settle();
      const due = this.#timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#now = due.at;
      due.fn();
    }
    this.#now = target;
    await settle();
  }
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

let sim: SimulatorApp | undefined;
afterEach(() => sim?.close());

describe("the simulator on an injected clock", () => {
  it("dates resources and advances message status only as the clock moves", async () => {
    const clock = new ManualClock(new Date("2023-08-24T05:01:45Z"));
    sim = buildSimulatorApp({ clock, statusDelayMs: 1000 });
    const account = sim.twilio.createAccount();
    sim.twilio.addNumber(account.sid, "+15550001111");
    const headers = {
      authorization: `Basic ${Buffer.from(`${account.sid}:${account.authToken}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    };
    const created = await sim.app.inject({
      method: "POST",
      url: `/2010-04-01/Accounts/${account.sid}/Messages.json`,
      headers,
      payload: "To=%2B15557654321&From=%2B15550001111&Body=tick",
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({
      status: "queued",
      date_created: "Thu, 24 Aug 2023 05:01:45 +0000",
      date_updated: "Thu, 24 Aug 2023 05:01:45 +0000",
      date_sent: null,
    });
    const phone = sim.handset("+15557654321");
    const statusNow = () => sim?.twilio.messages()[0]?.status;

    await clock.advance(999);
    expect(statusNow()).toBe("queued");
    await clock.advance(1);
    expect(statusNow()).toBe("sent");
    expect(sim.twilio.messages()[0]?.dateSent).toEqual(new Date("2023-08-24T05:01:46Z"));
    expect(phone.inbox()).toEqual([]);

    const arrival = phone.waitForMessage((m) => m.body === "tick", { timeoutMs: 10_000 });
    await clock.advance(1000);
    expect(statusNow()).toBe("delivered");
    expect((await arrival).receivedAt).toEqual(new Date("2023-08-24T05:01:47Z"));
  });

  it("times REST latency and handset waits on the injected clock", async () => {
    const clock = new ManualClock(new Date("2023-08-24T05:01:45Z"));
    sim = buildSimulatorApp({ clock });
    const account = sim.twilio.createAccount();
    sim.faults.setRestLatency(5000);
    let answered = false;
    const balance = sim.app
      .inject({
        method: "GET",
        url: `/2010-04-01/Accounts/${account.sid}/Balance.json`,
        headers: { authorization: `Basic ${Buffer.from(`${account.sid}:${account.authToken}`).toString("base64")}` },
      })
      .then((response) => {
        answered = true;
        return response;
      });
    await clock.advance(4999);
    expect(answered).toBe(false);
    await clock.advance(1);
    expect((await balance).statusCode).toBe(200);

    const waiting = sim
      .handset("+15557654321")
      .waitForMessage(undefined, { timeoutMs: 60_000 })
      .catch((e: unknown) => e);
    await clock.advance(60_000);
    expect(await waiting).toMatchObject({ code: "sim-wait-timeout" });
  });
});
