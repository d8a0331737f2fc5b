import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { hasTone } from "../../src/media/audio/goertzel.js";
import { decodeWav } from "../../src/media/audio/wav.js";
import type { SimCall } from "../../src/sandbox/simulator/index.js";
import { launchChromium, type LaunchedChromium, type PstnPage } from "../browser/launch.js";
import { TONES, probeFrequencies } from "../browser/tones.js";
import type { TestUser } from "./harness/matrix-client.js";
import { BOT, joinPortal, linkedScenario, type Scenario } from "./harness/scenario.js";

/**
 * Calls end to end, as Element makes them: headless Chromium runs matrix-js-sdk's call stack with
 * a fake microphone playing a known tone, the simulator's handsets play and record another, and
 * the built bridge carries the audio between them through werift. Each side must hear the other's
 * tone and not its own.
 */
const env = inject("e2e");
const NUMBER = "+15550007777";
const PHONE = "+15557650007";
const GHOST = "@_pstn_15557650007:localhost";
/** The handset's microphone: apart from the browser tones and from DTMF frequencies. */
const PHONE_TONE = 440;
const RATE = 8000;

let s: Scenario & { owner: TestUser };
let carla: TestUser;
let chromeA: LaunchedChromium;
let pageA: PstnPage;
let portal: string;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function browserHears(page: PstnPage, callId: string, hz: number, not: number) {
  const detection = await page.pstn.detect(callId, [...probeFrequencies(), PHONE_TONE], 1500);
  expect(detection.shares[String(hz)], `${hz} Hz heard in the browser (${JSON.stringify(detection.shares)})`).toBeGreaterThan(0.5);
  expect(detection.shares[String(not)] ?? 0, `${not} Hz not heard in the browser`).toBeLessThan(0.1);
}

async function phoneHears(call: SimCall, hz: number, not: number) {
  const mark = call.heardSamples;
  await pause(1500);
  const heard = call.heardSince(mark);
  expect(hasTone(heard, hz, RATE), `${hz} Hz heard at the phone`).toBe(true);
  expect(hasTone(heard, not, RATE, 0.3), `${not} Hz not heard at the phone`).toBe(false);
}

beforeAll(async () => {
  s = await linkedScenario(env, "calls", "carla", NUMBER, {
    calls: { ringTimeoutSeconds: 8, voicemail: { enabled: true, greeting: "Please leave a message.", maxLengthSeconds: 20 } },
  });
  carla = s.owner;
  // A first text gives the contact a room of two (carla and the ghost), where Element offers calls.
  await s.sim.handset(PHONE).sendSms(NUMBER, "hello");
  portal = await joinPortal(carla, GHOST);
  chromeA = await launchChromium({ toneHz: TONES.browserA, workDir: mkdtempSync(path.join(tmpdir(), "pstn-chrome-a-")) });
  pageA = await chromeA.newPage();
  const session = s.sessions.get("carla")!;
  await pageA.pstn.login({ baseUrl: env.homeserverUrl, userId: session.userId, accessToken: session.accessToken, deviceId: session.deviceId });
});

afterAll(async () => {
  await chromeA?.close();
  await s?.close();
});

describe("calls with Element's call stack", () => {
  it("a call from the phone rings in the browser, is answered, carries audio both ways, and the phone's hangup ends it", async () => {
    const call = s.sim.handset(PHONE).call(NUMBER, { tone: PHONE_TONE });
    const callId = await pageA.pstn.waitForIncomingCall(15_000);
    await pageA.pstn.answer(callId);
    await pageA.pstn.waitForState(callId, "connected", 15_000);
    await call.waitForStatus("in-progress", { timeoutMs: 5_000 });
    await browserHears(pageA, callId, PHONE_TONE, TONES.browserA);
    await phoneHears(call, TONES.browserA, PHONE_TONE);
    call.hangup();
    const hungUpAt = Date.now();
    await pageA.pstn.waitForState(callId, "ended", 3_000);
    expect(Date.now() - hungUpAt).toBeLessThan(1_500);
    await carla.waitFor(portal, (e) => /Call from \+1 555 765 0007 answered by carla/.test(String(e.content.body)), { what: "the answered-call notice" });
  });

  it("a call placed from the browser dials the phone, carries audio both ways and keys, and the browser's hangup ends it", async () => {
    const phone = s.sim.handset(PHONE);
    phone.answerCalls({ after: 500, tone: PHONE_TONE });
    const callId = await pageA.pstn.placeCall(portal);
    const ringing = await phone.waitForCall(undefined, { timeoutMs: 15_000 });
    await pageA.pstn.waitForState(callId, "connected", 15_000);
    await browserHears(pageA, callId, PHONE_TONE, TONES.browserA);
    await phoneHears(ringing, TONES.browserA, PHONE_TONE);
    await pageA.pstn.sendDtmf(callId, "1#");
    await pause(1000);
    expect(ringing.heardKeys()).toContain("1#");
    await pageA.pstn.hangup(callId);
    const hungUpAt = Date.now();
    await ringing.waitForStatus("completed", { timeoutMs: 3_000 });
    expect(Date.now() - hungUpAt).toBeLessThan(1_500);
    await carla.waitFor(portal, (e) => /carla called \+1 555 765 0007, 0:/.test(String(e.content.body)), { what: "the outgoing-call notice" });
  });

  it("a busy phone ends the browser's call with user_busy", async () => {
    s.sim.handset(PHONE).answerCalls("busy");
    const callId = await pageA.pstn.placeCall(portal);
    await pageA.pstn.waitForState(callId, "ended", 15_000);
    expect(await pageA.pstn.hangupReason(callId)).toBe("user_busy");
    s.sim.handset(PHONE).answerCalls({ after: 200, tone: PHONE_TONE });
  });

  it("a caller who hangs up while it rings leaves a missed-call notice", async () => {
    const call = s.sim.handset(PHONE).call(NUMBER, { tone: PHONE_TONE });
    const callId = await pageA.pstn.waitForIncomingCall(15_000);
    call.hangup();
    await pageA.pstn.waitForState(callId, "ended", 3_000);
    await carla.waitFor(portal, (e) => e.content.body === "📞 Missed call from +1 555 765 0007", { what: "the missed-call notice" });
  });

  it("nobody answering: the caller hears the greeting, and the voicemail (with the caller's tone) is posted as a voice message", async () => {
    const call = s.sim.handset(PHONE).call(NUMBER, { tone: PHONE_TONE });
    const callId = await pageA.pstn.waitForIncomingCall(15_000);
    await pageA.pstn.waitForState(callId, "ended", 15_000);
    expect(await pageA.pstn.hangupReason(callId)).toBe("invite_timeout");
    await call.waitForStatus("in-progress", { timeoutMs: 5_000 }).catch(() => null);
    await pause(4_000);
    call.hangup();
    const voice = await carla.waitFor(portal, (e) => e.sender === GHOST && e.content.msgtype === "m.audio", { what: "the voicemail", timeoutMs: 30_000 });
    expect(voice.content["org.matrix.msc3245.voice"]).toEqual({});
    expect((voice.content.info as { duration?: number }).duration).toBeGreaterThan(1000);
    const recording = await carla.download(String(voice.content.url));
    const { samples, rate } = decodeWav(recording.data);
    expect(hasTone(samples, PHONE_TONE, rate)).toBe(true);
    expect(call.said.join(" ")).toContain("Please leave a message.");
    await carla.waitFor(portal, (e) => /Missed call from \+1 555 765 0007: voicemail below/.test(String(e.content.body)), { what: "the voicemail notice" });
  });

  it("the dial pad's lookups answer as Element expects", async () => {
    const protocols = await carla.request<Record<string, unknown>>("GET", "/thirdparty/protocols");
    expect(protocols).toHaveProperty(["im.vector.protocol.pstn"]);
    expect(protocols).toHaveProperty(["m.protocol.pstn"]);
    const found = await carla.request<{ userid: string; protocol: string; fields: Record<string, string> }[]>(
      "GET",
      `/thirdparty/user/im.vector.protocol.pstn?${new URLSearchParams({ "m.id.phone": "555 765 0007" })}`,
    );
    expect(found).toEqual([{ userid: GHOST, protocol: "im.vector.protocol.pstn", fields: { "m.id.phone": "555 765 0007" } }]);
    const emergency = await carla.request<unknown[]>("GET", `/thirdparty/user/im.vector.protocol.pstn?${new URLSearchParams({ "m.id.phone": "911" })}`);
    expect(emergency).toEqual([]);
  });

  it("restarting the bridge mid-call ends it on both sides and says so in the room", async () => {
    const call = s.sim.handset(PHONE).call(NUMBER, { tone: PHONE_TONE });
    const callId = await pageA.pstn.waitForIncomingCall(15_000);
    await pageA.pstn.answer(callId);
    await pageA.pstn.waitForState(callId, "connected", 15_000);
    await s.bridge.stop("SIGKILL");
    await s.bridge.start();
    await call.waitForStatus("completed", { timeoutMs: 15_000 });
    await pageA.pstn.waitForState(callId, "ended", 15_000);
    await carla.waitFor(portal, (e) => /ended: the bridge restarted/.test(String(e.content.body)), { what: "the restart notice" });
  });
});

describe("ring-all on a shared number", () => {
  let chromeB: LaunchedChromium;
  let pageB: PstnPage;

  afterAll(async () => {
    await chromeB?.close();
  });

  it("rings every member at once; the first to answer gets the call and the other stops ringing", async () => {
    const dave = await s.user("dave");
    await carla.invite(s.controlRoom, dave.userId);
    await dave.join(s.controlRoom);
    await joinPortal(dave, GHOST);
    // With two people on the number, each gets a call room of their own with the contact.
    for (const person of [carla, dave]) {
      const sent = await person.send(s.controlRoom, `call ${PHONE}`);
      await person.waitForNotice(s.controlRoom, BOT, /room with \+1 555 765 0007/, sent);
      const invited = await person.waitUntil(async () => (await person.invites()).find((room) => room !== portal), "a call room invite");
      await person.join(invited);
    }
    chromeB = await launchChromium({ toneHz: TONES.browserB, workDir: mkdtempSync(path.join(tmpdir(), "pstn-chrome-b-")) });
    pageB = await chromeB.newPage();
    const daveSession = s.sessions.get("dave")!;
    await pageB.pstn.login({ baseUrl: env.homeserverUrl, userId: daveSession.userId, accessToken: daveSession.accessToken, deviceId: daveSession.deviceId });

    const call = s.sim.handset(PHONE).call(NUMBER, { tone: PHONE_TONE });
    const [atCarla, atDave] = await Promise.all([pageA.pstn.waitForIncomingCall(15_000), pageB.pstn.waitForIncomingCall(15_000)]);
    await pageB.pstn.answer(atDave);
    await pageB.pstn.waitForState(atDave, "connected", 15_000);
    await pageA.pstn.waitForState(atCarla, "ended", 3_000);
    await browserHears(pageB, atDave, PHONE_TONE, TONES.browserB);
    await phoneHears(call, TONES.browserB, PHONE_TONE);
    await pageB.pstn.hangup(atDave);
    await call.waitForStatus("completed", { timeoutMs: 3_000 });
    await carla.waitFor(portal, (e) => /answered by dave/.test(String(e.content.body)), { what: "who answered, in the shared room" });
  });
});
