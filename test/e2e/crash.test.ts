import { afterAll, beforeAll, expect, inject, it } from "vitest";
import type { TestUser } from "./harness/matrix-client.js";
import { joinPortal, linkedScenario, type Scenario } from "./harness/scenario.js";

/**
 * Nothing lost, nothing twice: the bridge is killed with SIGKILL in the middle of a two-way burst
 * of texts, and once inside the window between Twilio accepting a text and the bridge writing
 * down its sid. After restarts, every text has arrived exactly once, both ways.
 */
const env = inject("e2e");
const NUMBER = "+15550005555";
const PHONE = "+15557650005";
const GHOST = "@_pstn_15557650005:localhost";
const BURST = 24;

let s: Scenario & { owner: TestUser };
let portal: string;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  s = await linkedScenario(env, "crash", "casey", NUMBER);
  await s.sim.handset(PHONE).sendSms(NUMBER, "warm-up");
  portal = await joinPortal(s.owner, GHOST);
  await s.owner.waitFor(portal, (e) => e.content.body === "warm-up", { what: "the warm-up text" });
});

afterAll(async () => {
  await s?.close();
});

it("SIGKILL during a two-way burst: every text arrives exactly once, both ways", async () => {
  const phone = s.sim.handset(PHONE);
  const kills: string[] = [];
  for (let i = 0; i < BURST; i++) {
    // Texts sent while the bridge is down: the webhook fails and Twilio doesn't retry it.
    const inbound = phone.sendSms(NUMBER, `in ${i}`);
    const outbound = s.owner.send(portal, `out ${i}`);
    await Promise.all([inbound, outbound]);
    if (i === 6 || i === 15) {
      await s.bridge.stop("SIGKILL");
      kills.push(`burst ${i}`);
      await pause(400);
    }
    if (i === 9 || i === 18) await s.bridge.start();
    await pause(30);
  }

  // Inside the window: Twilio has created (and delivered) the text, the bridge hasn't heard its sid.
  const release = s.sim.faults.holdResponsesTo(PHONE);
  await s.owner.send(portal, "out in the window");
  await phone.waitForMessage((m) => m.body === "out in the window", { timeoutMs: 15_000 });
  await s.bridge.stop("SIGKILL");
  kills.push("provider-call window");
  release();
  await s.bridge.start();
  expect(kills).toHaveLength(3);

  const expectedOut = [...Array.from({ length: BURST }, (_, i) => `out ${i}`), "out in the window"];
  const expectedIn = Array.from({ length: BURST }, (_, i) => `in ${i}`);
  await s.owner.waitUntil(
    async () => expectedOut.every((body) => phone.inbox().some((m) => m.body === body)) || null,
    "every outbound text at the phone",
    90_000,
  );
  await s.owner.waitUntil(async () => {
    const bodies = (await s.owner.timeline(portal, 200)).map((e) => e.content.body);
    return expectedIn.every((body) => bodies.includes(body)) || null;
  }, "every inbound text in the portal", 90_000);
  // Give any duplicate time to show up before counting.
  await pause(2_000);

  const atPhone = phone.inbox().map((m) => m.body);
  for (const body of expectedOut) expect(atPhone.filter((b) => b === body), body).toHaveLength(1);
  const inRoom = (await s.owner.timeline(portal, 300)).filter((e) => e.sender === GHOST).map((e) => String(e.content.body));
  for (const body of expectedIn) expect(inRoom.filter((b) => b === body), body).toHaveLength(1);
});
