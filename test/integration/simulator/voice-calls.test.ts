import twilio from "twilio";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SimulatorError, type AccountCredentials, type CarrierSimulator } from "../../../src/sandbox/simulator/index.js";
import { SAY_FREQUENCIES } from "../../../src/sandbox/simulator/twilio/voice/audio.js";
import { startStandIn, type StandIn } from "./bridge-standin.js";
import { BRIDGE_NUMBER, closeAll, CONTACT, sdkClient, startBridgeSimulator } from "./fixture.js";
import { isSignedBy, single, type ReceivedRequest } from "./receiver.js";
import { blocksAt, free, hears, sleep } from "./voice-helpers.js";

const FRIEND = "+15557650000";

let sim: CarrierSimulator;
let account: AccountCredentials;
let client: twilio.Twilio;
let bridge: StandIn;

beforeEach(async () => {
  bridge = await startStandIn();
  ({ sim, account } = await startBridgeSimulator({ statusDelayMs: 10, number: { voiceUrl: `${bridge.url}/voice` } }));
  client = sdkClient(sim, account);
});

afterEach(() => closeAll(sim, bridge));

const ALL_EVENTS = ["initiated", "ringing", "answered", "completed"];

/** Places a call from the bridge number like the bridge will. */
function placeCall(to: string, twiml: string, extra: Record<string, unknown> = {}) {
  return client.calls.create({
    to,
    from: BRIDGE_NUMBER,
    twiml,
    statusCallback: `${bridge.url}/status`,
    statusCallbackEvent: ALL_EVENTS,
    timeout: 5,
    ...extra,
  });
}

const statuses = (requests: ReceivedRequest[]): Array<string | undefined> =>
  requests.map((r) => single(r.params, "CallStatus"));

/** The status callbacks of one call, once `count` have arrived. */
async function callbacksOf(sid: string, count: number): Promise<ReceivedRequest[]> {
  const deadline = Date.now() + 8000;
  for (;;) {
    const mine = bridge.at("/status").filter((r) => r.params["CallSid"] === sid);
    if (mine.length >= count) return mine;
    if (Date.now() > deadline) throw new Error(`expected ${count} callbacks for ${sid}, got ${statuses(mine).join(",")}`);
    await sleep(10);
  }
}

/** Rejection of a promise that must reject. */
const rejection = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => {
      throw new Error("expected a failure");
    },
    (err: unknown) => err,
  );

describe("outbound calls through the twilio SDK", () => {
  it("rings the handset, answers, runs the call's Url with signed standard parameters, and reports every status", async () => {
    bridge.twiml("/answer", "<Response><Say>Hello from the bridge</Say><Hangup/></Response>");
    const created = await client.calls.create({
      to: CONTACT,
      from: BRIDGE_NUMBER,
      url: `${bridge.url}/answer`,
      statusCallback: `${bridge.url}/status`,
      statusCallbackEvent: ALL_EVENTS,
    });
    expect(created.sid).toMatch(/^CA[0-9a-f]{32}$/);
    expect(created).toMatchObject({ status: "queued", direction: "outbound-api", to: CONTACT, from: BRIDGE_NUMBER });
    expect(created.toFormatted).toBe("(555) 765-4321");

    const incoming = await sim.handset(CONTACT).waitForCall((c) => c.sid === created.sid);
    expect(incoming).toMatchObject({ role: "callee", from: BRIDGE_NUMBER, to: CONTACT });
    await incoming.waitForStatus("completed", { timeoutMs: 8000 });
    expect(incoming.said).toEqual(["Hello from the bridge"]);
    expect(blocksAt(incoming.heard(), SAY_FREQUENCIES, 0.4)).toBeGreaterThan(0.5);

    const [fetchTwiml] = bridge.at("/answer");
    if (!fetchTwiml) throw new Error("the Url was not requested");
    expect(isSignedBy(account.authToken, fetchTwiml)).toBe(true);
    expect(fetchTwiml.params).toMatchObject({
      CallSid: created.sid,
      AccountSid: account.sid,
      From: BRIDGE_NUMBER,
      To: CONTACT,
      CallStatus: "in-progress",
      Direction: "outbound-api",
      ApiVersion: "2010-04-01",
    });

    const callbacks = await callbacksOf(created.sid, 4);
    expect(statuses(callbacks)).toEqual(["initiated", "ringing", "in-progress", "completed"]);
    expect(callbacks.map((c) => c.params["SequenceNumber"])).toEqual(["0", "1", "2", "3"]);
    for (const callback of callbacks) {
      expect(isSignedBy(account.authToken, callback)).toBe(true);
      expect(callback.params).toMatchObject({
        CallSid: created.sid,
        AccountSid: account.sid,
        From: BRIDGE_NUMBER,
        To: CONTACT,
        Caller: BRIDGE_NUMBER,
        Called: CONTACT,
        Direction: "outbound-api",
        ApiVersion: "2010-04-01",
        CallbackSource: "call-progress-events",
      });
      expect(single(callback.params, "Timestamp")).toMatch(/^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000$/);
    }
    const completed = callbacks[3]!.params;
    expect(Number(completed["CallDuration"])).toBeGreaterThanOrEqual(1);
    expect(completed).toMatchObject({ Duration: "1", SipResponseCode: "200" });
    expect(callbacks[0]!.params["CallDuration"]).toBeUndefined();

    const fetched = await client.calls(created.sid).fetch();
    expect(fetched).toMatchObject({ status: "completed", direction: "outbound-api", parentCallSid: null });
    expect(Number(fetched.duration)).toBeGreaterThanOrEqual(1);
    expect(fetched.startTime).toBeInstanceOf(Date);
    expect(fetched.endTime).toBeInstanceOf(Date);
    const record = sim.twilio.call(created.sid);
    expect(record?.history.map((s) => s.status)).toEqual(["queued", "initiated", "ringing", "in-progress", "completed"]);
    expect(record?.history.at(-1)?.callback?.status).toBe(200);
  });

  it("sends only the completed callback by default, and lists and pages calls newest first", async () => {
    const sids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const call = await client.calls.create({
        to: CONTACT,
        from: BRIDGE_NUMBER,
        twiml: "<Response><Hangup/></Response>",
        statusCallback: `${bridge.url}/status`,
      });
      sids.push(call.sid);
    }
    for (const sid of sids) {
      const [only, ...more] = await callbacksOf(sid, 1);
      expect(only?.params["CallStatus"]).toBe("completed");
      expect(more).toEqual([]);
    }
    await sleep(200);
    expect(bridge.at("/status")).toHaveLength(3);
    const listed = await client.calls.list({ pageSize: 2 });
    expect(listed.map((c) => c.sid)).toEqual([...sids].reverse());
    expect((await client.calls.list({ to: CONTACT, status: "completed" })).map((c) => c.sid).sort()).toEqual([...sids].sort());
    expect(await client.calls.list({ to: FRIEND })).toEqual([]);
    const page = await client.calls.page({ pageSize: 1 });
    expect(page.instances).toHaveLength(1);
    expect((await page.nextPage())?.instances[0]?.sid).toBe(sids[1]);
  });

  it("ends busy, no-answer, failed and canceled with the right callbacks", async () => {
    sim.handset("+15557650001").answerCalls("busy");
    sim.handset("+15557650003").answerCalls("fail");
    sim.handset("+15557650004").answerCalls("manual");
    sim.handset("+15557650005").answerCalls("reject");
    const busy = await placeCall("+15557650001", "<Response/>");
    // Armed before the call is placed: under load the handset could otherwise answer first.
    sim.faults.failCallsTo("+15557650002", { outcome: "no-answer" });
    const noAnswer = await placeCall("+15557650002", "<Response/>", { timeout: 1 });
    const failed = await placeCall("+15557650003", "<Response/>");
    const canceled = await placeCall("+15557650004", "<Response/>");
    const declined = await placeCall("+15557650005", "<Response/>");

    const busyCallbacks = await callbacksOf(busy.sid, 3);
    expect(statuses(busyCallbacks)).toEqual(["initiated", "ringing", "busy"]);
    expect(busyCallbacks[2]?.params).toMatchObject({ SipResponseCode: "486", CallDuration: "0", Duration: "0" });

    const failedCallbacks = await callbacksOf(failed.sid, 2);
    expect(statuses(failedCallbacks)).toEqual(["initiated", "failed"]);

    const ringing = await sim.handset("+15557650004").waitForCall((c) => c.sid === canceled.sid);
    await ringing.waitForStatus("ringing");
    const updated = await client.calls(canceled.sid).update({ status: "canceled" });
    expect(updated.status).toBe("canceled");
    expect(statuses(await callbacksOf(canceled.sid, 3))).toEqual(["initiated", "ringing", "canceled"]);
    expect(ringing.status).toBe("canceled");

    expect(statuses(await callbacksOf(declined.sid, 3))).toEqual(["initiated", "ringing", "busy"]);
    expect((await callbacksOf(declined.sid, 3))[2]?.params["SipResponseCode"]).toBe("603");

    const noAnswerCallbacks = await callbacksOf(noAnswer.sid, 3);
    expect(statuses(noAnswerCallbacks)).toEqual(["initiated", "ringing", "no-answer"]);
    expect(noAnswerCallbacks[2]?.params).toMatchObject({ SipResponseCode: "487", CallDuration: "0" });
    // Timeout=1: it rang for about a second.
    const record = sim.twilio.call(noAnswer.sid);
    const rang = (record?.endTime?.getTime() ?? 0) - (record?.history.find((s) => s.status === "ringing")?.at.getTime() ?? 0);
    expect(rang).toBeGreaterThanOrEqual(900);
    expect(rang).toBeLessThan(1500);
    // The fault was used up: the next call there is answered.
    const after = await placeCall("+15557650002", "<Response><Hangup/></Response>");
    expect(statuses(await callbacksOf(after.sid, 4))).toEqual(["initiated", "ringing", "in-progress", "completed"]);
  });

  it("cancels a ringing call on update({status: 'completed'}) and hangs up an answered one", async () => {
    sim.handset(FRIEND).answerCalls("manual");
    const ringingCall = await placeCall(FRIEND, "<Response/>");
    const ringing = await sim.handset(FRIEND).waitForCall((c) => c.sid === ringingCall.sid);
    await ringing.waitForStatus("ringing");
    expect((await client.calls(ringingCall.sid).update({ status: "completed" })).status).toBe("canceled");

    const live = await placeCall(CONTACT, '<Response><Pause length="30"/></Response>');
    const answered = await sim.handset(CONTACT).waitForCall((c) => c.sid === live.sid);
    await answered.waitForStatus("in-progress");
    await sleep(1100);
    const hungUp = await client.calls(live.sid).update({ status: "completed" });
    expect(hungUp.status).toBe("completed");
    expect(answered.status).toBe("completed");
    const callbacks = await callbacksOf(live.sid, 4);
    expect(statuses(callbacks)).toEqual(["initiated", "ringing", "in-progress", "completed"]);
    expect(Number(callbacks[3]?.params["CallDuration"])).toBeGreaterThanOrEqual(1);
    // Hanging up again is harmless; redirecting an ended call is refused like Twilio does.
    expect((await client.calls(live.sid).update({ status: "completed" })).status).toBe("completed");
    const err = await rejection(client.calls(live.sid).update({ twiml: "<Response><Say>late</Say></Response>" }));
    expect(err).toMatchObject({ status: 400, code: 21220 });
  });

  it("redirects a live call with update({twiml}) and update({url}): the running TwiML stops, the new one runs", async () => {
    const call = await placeCall(CONTACT, '<Response><Say>first</Say><Pause length="30"/><Say>never</Say></Response>');
    const answered = await sim.handset(CONTACT).waitForCall((c) => c.sid === call.sid);
    await answered.waitForStatus("in-progress");
    await sleep(700);
    await client.calls(call.sid).update({ twiml: '<Response><Say>second</Say><Pause length="30"/></Response>' });
    await sleep(700);
    expect(answered.said).toEqual(["first", "second"]);
    expect(answered.status).toBe("in-progress");

    bridge.twiml("/next", "<Response><Say>third</Say></Response>");
    const redirected = await client.calls(call.sid).update({ url: `${bridge.url}/next`, method: "POST" });
    expect(redirected.status).toBe("in-progress");
    await answered.waitForStatus("completed", { timeoutMs: 5000 });
    expect(answered.said).toEqual(["first", "second", "third"]);
    const [request] = bridge.at("/next");
    expect(request && isSignedBy(account.authToken, request)).toBe(true);
    expect(request?.params).toMatchObject({ CallSid: call.sid, CallStatus: "in-progress" });
  });

  it("reports refused creates with Twilio's error codes", async () => {
    const base = `${sim.url}/2010-04-01/Accounts/${account.sid}/Calls.json`;
    const post = async (form: Record<string, string>) => {
      const response = await fetch(base, {
        method: "POST",
        headers: {
          authorization: `Basic ${Buffer.from(`${account.sid}:${account.authToken}`).toString("base64")}`,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: new URLSearchParams(form).toString(),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const url = `${bridge.url}/answer`;
    expect(await post({ From: BRIDGE_NUMBER, Url: url })).toMatchObject({ status: 400, body: { code: 21201 } });
    expect(await post({ To: CONTACT, Url: url })).toMatchObject({ status: 400, body: { code: 21213 } });
    expect(await post({ To: CONTACT, From: BRIDGE_NUMBER })).toMatchObject({
      status: 400,
      body: { code: 21205, message: expect.stringContaining("Url parameter is required") },
    });
    expect(await post({ To: CONTACT, From: "+15559990000", Url: url })).toMatchObject({
      status: 400,
      body: { code: 21210, more_info: "https://www.twilio.com/docs/errors/21210" },
    });
    expect(await post({ To: CONTACT, From: BRIDGE_NUMBER, Url: "not a url" })).toMatchObject({ body: { code: 21205 } });
    expect(await post({ To: CONTACT, From: BRIDGE_NUMBER, Url: url, Timeout: "-3" })).toMatchObject({ body: { code: 21208 } });
    expect(await post({ To: "12", From: BRIDGE_NUMBER, Url: url })).toMatchObject({ body: { code: 21211 } });
    const other = sim.twilio.createAccount();
    sim.twilio.addNumber(other.sid, "+15550009999");
    expect(await post({ To: CONTACT, From: "+15550009999", Url: url })).toMatchObject({ body: { code: 21210 } });
    expect(sim.twilio.calls()).toEqual([]);
    const missing = await rejection(client.calls(`CA${"0".repeat(32)}`).fetch());
    expect(missing).toMatchObject({ status: 404, code: 20404 });
  });
});

describe("calls between handsets and the bridge", () => {
  it("bridges <Dial><Number> to another handset with audio both ways, then runs the Dial action", async () => {
    bridge.twiml(
      "/voice",
      `<Response><Dial action="${bridge.url}/dial-done" timeout="10">` +
        `<Number statusCallback="${bridge.url}/leg-status" statusCallbackEvent="initiated ringing answered completed">${FRIEND}</Number>` +
        `</Dial><Say>not reached</Say></Response>`,
    );
    bridge.twiml("/dial-done", "<Response><Say>The other side hung up</Say></Response>");
    sim.handset(FRIEND).answerCalls({ after: 600, tone: 1200 });
    const caller = sim.handset(CONTACT).call(BRIDGE_NUMBER, { tone: 440 });
    await caller.waitForStatus("in-progress");
    const callee = await sim.handset(FRIEND).waitForCall();
    expect(callee).toMatchObject({ role: "callee", from: CONTACT, to: FRIEND, direction: "outbound-dial" });
    // While it rings the caller hears ringback (440 + 480 Hz).
    await sleep(300);
    expect(blocksAt(caller.heard(), [480], 0.3)).toBeGreaterThan(0.5);
    await callee.waitForStatus("in-progress");
    const callerMark = caller.heardSamples;
    const calleeMark = callee.heardSamples;
    await sleep(1000);
    const callerHeard = caller.heardSince(callerMark);
    const calleeHeard = callee.heardSince(calleeMark);
    expect(hears(callerHeard, 1200)).toBe(true);
    expect(free(callerHeard, 440)).toBe(true);
    expect(hears(calleeHeard, 440)).toBe(true);
    expect(free(calleeHeard, 1200)).toBe(true);
    // Keys pressed by the caller reach the callee in band.
    await caller.pressKeys("9");
    await sleep(200);
    expect(callee.heardKeys()).toBe("9");

    callee.hangup();
    const [done] = await bridge.waitFor("/dial-done");
    expect(done && isSignedBy(account.authToken, done)).toBe(true);
    expect(done?.params).toMatchObject({
      CallSid: caller.sid,
      CallStatus: "in-progress",
      DialCallStatus: "completed",
      DialCallSid: callee.sid,
      DialBridged: "true",
    });
    expect(Number(done?.params["DialCallDuration"])).toBeGreaterThanOrEqual(1);
    await caller.waitForStatus("completed", { timeoutMs: 5000 });
    expect(caller.said).toEqual(["The other side hung up"]);

    const leg = sim.twilio.call(callee.sid);
    expect(leg).toMatchObject({ parentCallSid: caller.sid, direction: "outbound-dial", from: CONTACT, status: "completed" });
    const legCallbacks = await bridge.waitFor("/leg-status", 4);
    expect(statuses(legCallbacks)).toEqual(["initiated", "ringing", "in-progress", "completed"]);
    expect(legCallbacks.every((c) => c.params["ParentCallSid"] === caller.sid && isSignedBy(account.authToken, c))).toBe(true);
    expect((await client.calls.list({ parentCallSid: caller.sid })).map((c) => c.sid)).toEqual([callee.sid]);
  });

  it("reports DialCallStatus busy and no-answer, and continues with the next verb without an action", async () => {
    bridge.twiml(
      "/voice",
      `<Response><Dial action="${bridge.url}/dial-done" timeout="1">${FRIEND}</Dial></Response>`,
    );
    bridge.twiml("/dial-done", "<Response><Hangup/></Response>");
    sim.handset(FRIEND).answerCalls("busy");
    const first = sim.handset(CONTACT).call(BRIDGE_NUMBER);
    await first.waitForStatus("completed", { timeoutMs: 5000 });
    sim.handset(FRIEND).answerCalls("no-answer");
    const second = sim.handset(CONTACT).call(BRIDGE_NUMBER);
    await second.waitForStatus("completed", { timeoutMs: 5000 });
    expect(bridge.at("/dial-done").map((r) => r.params["DialCallStatus"])).toEqual(["busy", "no-answer"]);
    expect(bridge.at("/dial-done").map((r) => r.params["DialBridged"])).toEqual(["false", "false"]);

    bridge.twiml("/voice", `<Response><Dial timeout="1">${FRIEND}</Dial><Say>Nobody answered</Say></Response>`);
    const third = sim.handset(CONTACT).call(BRIDGE_NUMBER);
    await third.waitForStatus("completed", { timeoutMs: 5000 });
    expect(third.said).toEqual(["Nobody answered"]);
  });

  it("requests a GET voice URL with the parameters in the query, signed over that URL", async () => {
    const number = sim.twilio.getNumber(BRIDGE_NUMBER);
    await client.incomingPhoneNumbers(number?.sid ?? "").update({ voiceUrl: `${bridge.url}/voice-get?link=1`, voiceMethod: "GET" });
    bridge.twiml("/voice-get", "<Response><Hangup/></Response>");
    const call = sim.handset(CONTACT).call(BRIDGE_NUMBER);
    const [request] = await bridge.waitFor("/voice-get");
    expect(request?.method).toBe("GET");
    expect(request?.params).toMatchObject({ link: "1", CallSid: call.sid, CallStatus: "ringing", From: CONTACT });
    expect(request && isSignedBy(account.authToken, request)).toBe(true);
    expect(
      twilio.validateRequest(account.authToken, String(request?.headers["x-twilio-signature"]), `${bridge.url}/voice-get?link=1`, {}),
    ).toBe(false);
  });

  it("sends From=anonymous for a withheld caller id", async () => {
    bridge.twiml("/voice", "<Response><Hangup/></Response>");
    const call = sim.handset(CONTACT).call(BRIDGE_NUMBER, { withheld: true });
    const [webhook] = await bridge.waitFor("/voice");
    expect(webhook?.params).toMatchObject({ From: "anonymous", Caller: "anonymous", FromCountry: "" });
    expect(webhook && isSignedBy(account.authToken, webhook)).toBe(true);
    expect(call.from).toBe("anonymous");
    await call.waitForStatus("completed");
  });

  it("fails a call to a number without a voice URL, and refuses numbers nobody owns", async () => {
    sim.twilio.addNumber(account.sid, "+15550002222");
    const call = sim.handset(CONTACT).call("+15550002222");
    expect(await call.waitForStatus(["failed", "completed"])).toBe("failed");
    expect(() => sim.handset(CONTACT).call("+15559990000")).toThrow(SimulatorError);
  });

  it("rejects with <Reject>: busy or no-answer, unanswered and unbilled", async () => {
    const statusUrl = `${bridge.url}/number-status`;
    const number = sim.twilio.getNumber(BRIDGE_NUMBER);
    await client.incomingPhoneNumbers(number?.sid ?? "").update({ statusCallback: statusUrl });
    bridge.twiml("/voice", '<Response><Reject reason="busy"/><Say>unreachable</Say></Response>');
    const busy = sim.handset(CONTACT).call(BRIDGE_NUMBER);
    expect(await busy.waitForStatus(["busy", "completed"])).toBe("busy");
    bridge.twiml("/voice", "<Response><Reject/></Response>");
    const rejected = sim.handset(CONTACT).call(BRIDGE_NUMBER);
    expect(await rejected.waitForStatus(["no-answer", "completed"])).toBe("no-answer");
    expect(busy.said).toEqual([]);
    expect(sim.twilio.call(busy.sid)?.answeredAt).toBeNull();
    const callbacks = await bridge.waitFor("/number-status", 2);
    expect(callbacks.map((c) => [c.params["CallSid"], c.params["CallStatus"]])).toEqual([
      [busy.sid, "busy"],
      [rejected.sid, "no-answer"],
    ]);
  });

  it("plays Twilio's application error when the voice URL fails or answers something other than TwiML", async () => {
    bridge.raw("/voice", 500, "oops");
    const failing = sim.handset(CONTACT).call(BRIDGE_NUMBER);
    await failing.waitForStatus("completed", { timeoutMs: 8000 });
    expect(failing.said).toEqual(["We are sorry, an application error has occurred. Goodbye."]);
    expect(failing.log.some((e) => e.type === "warning" && e.code === 11200)).toBe(true);

    bridge.raw("/voice", 200, "<Response><Say>hi</Say></Response>", "text/plain");
    const plain = sim.handset(CONTACT).call(BRIDGE_NUMBER);
    await plain.waitForStatus("completed", { timeoutMs: 8000 });
    expect(plain.log.some((e) => e.type === "warning" && e.code === 12300)).toBe(true);

    bridge.raw("/voice", 200, "<Response><Say>unclosed</Response>", "text/xml");
    const broken = sim.handset(CONTACT).call(BRIDGE_NUMBER);
    await broken.waitForStatus("completed", { timeoutMs: 8000 });
    expect(broken.log.some((e) => e.type === "warning" && e.code === 12100)).toBe(true);
    expect(broken.said).toEqual(["We are sorry, an application error has occurred. Goodbye."]);
  });

  it("skips verbs it does not know, like Twilio, and gathers keys", async () => {
    bridge.twiml(
      "/voice",
      `<Response><Enqueue>support</Enqueue><Gather numDigits="2" action="${bridge.url}/gathered" timeout="3">` +
        "<Say>Enter two digits</Say></Gather></Response>",
    );
    bridge.twiml("/gathered", (request) => `<Response><Say>You pressed ${String(request.params["Digits"])}</Say></Response>`);
    const call = sim.handset(CONTACT).call(BRIDGE_NUMBER);
    await call.waitForStatus("in-progress");
    await sleep(300);
    await call.pressKeys("42");
    const [gathered] = await bridge.waitFor("/gathered");
    expect(gathered?.params).toMatchObject({ Digits: "42", CallSid: call.sid });
    await call.waitForStatus("completed", { timeoutMs: 5000 });
    expect(call.said).toEqual(["Enter two digits", "You pressed 42"]);
    expect(call.log.some((e) => e.type === "skipped" && e.verb === "Enqueue")).toBe(true);
    expect(call.log.some((e) => e.type === "warning" && e.code === 12200)).toBe(true);
  });

  it("injects faults: the next call to a number busy or failed, and a late answer", async () => {
    sim.faults.failCallsTo(BRIDGE_NUMBER, { outcome: "busy" });
    const busy = sim.handset(CONTACT).call(BRIDGE_NUMBER);
    expect(await busy.waitForStatus(["busy", "completed"])).toBe("busy");
    expect(bridge.at("/voice")).toEqual([]);

    sim.faults.failCallsTo(CONTACT, { outcome: "failed" });
    const failed = await placeCall(CONTACT, "<Response/>");
    expect(statuses(await callbacksOf(failed.sid, 2))).toEqual(["initiated", "failed"]);

    sim.faults.delayAnswerTo(CONTACT, 700);
    const late = await placeCall(CONTACT, "<Response><Hangup/></Response>");
    expect(statuses(await callbacksOf(late.sid, 4))).toEqual(["initiated", "ringing", "in-progress", "completed"]);
    const record = sim.twilio.call(late.sid);
    const ringing = record?.history.find((s) => s.status === "ringing")?.at.getTime() ?? 0;
    expect((record?.answeredAt?.getTime() ?? 0) - ringing).toBeGreaterThanOrEqual(850);
  });

  it("answers manually, and the caller gives up after answerTimeoutMs", async () => {
    sim.handset(FRIEND).answerCalls("manual");
    const placed = await placeCall(FRIEND, "<Response><Say>hello</Say></Response>");
    const ringing = await sim.handset(FRIEND).waitForCall((c) => c.sid === placed.sid);
    await ringing.waitForStatus("ringing");
    await sleep(300);
    expect(ringing.status).toBe("ringing");
    ringing.answer({ tone: 0 });
    await ringing.waitForStatus("completed", { timeoutMs: 5000 });
    expect(ringing.said).toEqual(["hello"]);

    bridge.twiml("/voice", "<Response><Hangup/></Response>");
    sim.faults.delayAnswerTo(BRIDGE_NUMBER, 5000);
    const impatient = sim.handset(CONTACT).call(BRIDGE_NUMBER, { answerTimeoutMs: 300 });
    expect(await impatient.waitForStatus(["canceled", "completed"], { timeoutMs: 2000 })).toBe("canceled");
    const err = await rejection(impatient.waitForStatus("in-progress", { timeoutMs: 50 }));
    expect(err).toMatchObject({ code: "sim-wait-timeout" });
  });
});
