import twilio from "twilio";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { concat, dtmf, fromMulaw, silence, toMulaw, tone } from "../../../src/media/audio/tones.js";
import { decodeWav } from "../../../src/media/audio/wav.js";
import type { AccountCredentials, CarrierSimulator } from "../../../src/sandbox/simulator/index.js";
import { BEEP_FREQUENCY, DtmfDetector, SAY_FREQUENCIES } from "../../../src/sandbox/simulator/twilio/voice/audio.js";
import { poll, startStandIn, streamSignedBy, type StandIn, type StreamConnection } from "./bridge-standin.js";
import { BRIDGE_NUMBER, closeAll, CONTACT, sdkClient, startBridgeSimulator } from "./fixture.js";
import { validateResponse } from "./openapi.js";
import { isSignedBy, single } from "./receiver.js";
import { blocksAt, captureMessages, free, hears, shapeOf, silent, sleep } from "./voice-helpers.js";

let sim: CarrierSimulator;
let account: AccountCredentials;
let bridge: StandIn;

beforeEach(async () => {
  bridge = await startStandIn();
  ({ sim, account } = await startBridgeSimulator({
    statusDelayMs: 10,
    number: { voiceUrl: `${bridge.url}/webhooks/twilio/link1/voice`, statusCallback: `${bridge.url}/number-status` },
  }));
});

afterEach(() => closeAll(sim, bridge));

const STREAM_PATH = "/media/twilio/link1";

/** The bridge's answer to an inbound call, as the bridge will write it. */
function connectTwiml(options: { action?: boolean; statusCallback?: boolean } = {}): string {
  const action = options.action === false ? "" : ` action="${bridge.url}/webhooks/twilio/link1/voice-after"`;
  const statusCallback = options.statusCallback ? ` statusCallback="${bridge.url}/stream-status"` : "";
  return (
    `<Response><Connect${action}><Stream url="${bridge.wsUrl}${STREAM_PATH}"${statusCallback}>` +
    `<Parameter name="token" value="s3cret-token"/><Parameter name="link" value="link1"/></Stream></Connect></Response>`
  );
}

/** A handset calls the bridge number, which answers with `<Connect><Stream>`. */
async function streamingCall(options: { action?: boolean; statusCallback?: boolean; tone?: number } = {}) {
  bridge.twiml("/webhooks/twilio/link1/voice", connectTwiml(options));
  const call = sim.handset(CONTACT).call(BRIDGE_NUMBER, options.tone !== undefined ? { tone: options.tone } : {});
  const stream = await bridge.waitForStream();
  await stream.waitFor("start");
  return { call, stream };
}

/** Sends PCM to Twilio as one media message (any size is allowed). */
function sendAudio(stream: StreamConnection, pcm: Int16Array): void {
  stream.send({ event: "media", streamSid: stream.streamSid(), media: { payload: toMulaw(pcm).toString("base64") } });
}

const basicAuth = (): string => `Basic ${Buffer.from(`${account.sid}:${account.authToken}`).toString("base64")}`;

describe("inbound calls and Media Streams", () => {
  it("posts a signed voice webhook with Twilio's parameters, ringing", async () => {
    bridge.twiml("/webhooks/twilio/link1/voice", "<Response><Hangup/></Response>");
    const call = sim.handset(CONTACT).call(BRIDGE_NUMBER);
    const [webhook] = await bridge.waitFor("/webhooks/twilio/link1/voice");
    if (!webhook) throw new Error("no webhook");
    expect(webhook.method).toBe("POST");
    expect(isSignedBy(account.authToken, webhook)).toBe(true);
    expect(twilio.validateRequest("0".repeat(32), String(webhook.headers["x-twilio-signature"]), webhook.url, webhook.params)).toBe(false);
    expect(webhook.params).toMatchObject({
      CallSid: call.sid,
      AccountSid: account.sid,
      From: CONTACT,
      To: BRIDGE_NUMBER,
      Caller: CONTACT,
      Called: BRIDGE_NUMBER,
      CallStatus: "ringing",
      Direction: "inbound",
      ApiVersion: "2010-04-01",
      FromCountry: "US",
      ToCountry: "US",
      CallerCountry: "US",
      CalledCountry: "US",
      FromCity: "",
      ToZip: "",
    });
    expect(call.sid).toMatch(/^CA[0-9a-f]{32}$/);
    expect(Object.keys(webhook.params).sort()).toEqual(
      [
        "AccountSid", "ApiVersion", "CallSid", "CallStatus", "CallToken", "Called", "CalledCity", "CalledCountry",
        "CalledState", "CalledZip", "Caller", "CallerCity", "CallerCountry", "CallerState", "CallerZip", "Direction",
        "From", "FromCity", "FromCountry", "FromState", "FromZip", "To", "ToCity", "ToCountry", "ToState", "ToZip",
      ].sort(),
    );
    await call.waitForStatus("completed");
    // The number's status callback hears how it ended.
    const [status] = await bridge.waitFor("/number-status");
    expect(status && isSignedBy(account.authToken, status)).toBe(true);
    expect(status?.params).toMatchObject({ CallSid: call.sid, CallStatus: "completed", Direction: "inbound", CallDuration: "0" });
  });

  it("connects the stream with a signed upgrade and the capture's message shapes", async () => {
    const { call, stream } = await streamingCall();
    await stream.waitFor("media", 5);
    expect(stream.url).toBe(`${bridge.wsUrl}${STREAM_PATH}`);
    expect(stream.headers["x-twilio-signature"]).toEqual(expect.any(String));
    expect(streamSignedBy(account.authToken, stream)).toBe(true);
    const wrong = { ...stream, url: `${bridge.wsUrl}/media/twilio/other` };
    expect(streamSignedBy(account.authToken, wrong)).toBe(false);

    const capture = captureMessages();
    const [connected, start, media] = stream.messages.map((m) => m.json);
    expect(connected).toEqual({ event: "connected", protocol: "Call", version: "1.0.0" });
    expect(shapeOf(connected)).toEqual(shapeOf(capture["connected"]));
    expect(shapeOf(start)).toEqual(shapeOf(capture["start"]));
    expect(shapeOf(media)).toEqual(shapeOf(capture["media"]));
    expect(start).toEqual({
      event: "start",
      sequenceNumber: "1",
      start: {
        accountSid: account.sid,
        streamSid: expect.stringMatching(/^MZ[0-9a-f]{32}$/),
        callSid: call.sid,
        tracks: ["inbound"],
        mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
        customParameters: { token: "s3cret-token", link: "link1" },
      },
      streamSid: stream.streamSid(),
    });
    expect(call.status).toBe("in-progress");

    const frames = stream.events("media").slice(0, 5).map((m) => m.json as unknown as {
      sequenceNumber: string;
      streamSid: string;
      media: { track: string; chunk: string; timestamp: string; payload: string };
    });
    frames.forEach((frame, i) => {
      expect(frame.sequenceNumber).toBe(String(i + 2));
      expect(frame.media.chunk).toBe(String(i + 1));
      expect(frame.media.track).toBe("inbound");
      expect(frame.streamSid).toBe(stream.streamSid());
      expect(Buffer.from(frame.media.payload, "base64")).toHaveLength(160);
    });
    const timestamps = frames.map((f) => Number(f.media.timestamp));
    expect(timestamps.slice(1).map((t, i) => t - timestamps[i]!)).toEqual([20, 20, 20, 20]);
  });

  it("sends 20 ms frames at real-time pace carrying the caller's tone", async () => {
    const { stream } = await streamingCall();
    await stream.waitFor("media", 10);
    const from = stream.events("media").length;
    const started = Date.now();
    await sleep(1000);
    const window = stream.events("media").filter((m) => m.at >= started && m.at < started + 1000);
    expect(window.length).toBeGreaterThanOrEqual(45);
    expect(window.length).toBeLessThanOrEqual(55);
    expect(stream.events("media").length - from).toBeGreaterThanOrEqual(45);
    const audio = stream.inboundAudio();
    expect(hears(audio, 440)).toBe(true);
    expect(free(audio, 1000)).toBe(true);
  });

  it("plays the server's audio into the handset's earpiece, in order, at real time, and echoes marks", async () => {
    const { call, stream } = await streamingCall();
    const mark = call.heardSamples;
    // One second of 1 kHz in a single message, as the official sample does, then a mark.
    const sentAt = Date.now();
    sendAudio(stream, tone([1000], 1000));
    stream.send({ event: "mark", streamSid: stream.streamSid(), mark: { name: "after-tone" } });
    const [echo] = await stream.waitFor("mark", 1, 3000);
    const elapsed = (echo?.at ?? 0) - sentAt;
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(1600);
    expect(echo?.json).toEqual({
      event: "mark",
      sequenceNumber: expect.stringMatching(/^\d+$/),
      streamSid: stream.streamSid(),
      mark: { name: "after-tone" },
    });
    expect(shapeOf(echo?.json)).toEqual(shapeOf(captureMessages()["mark"]));
    const heard = call.heardSince(mark);
    expect(hears(heard, 1000)).toBe(true);
    expect(free(heard, 440)).toBe(true);
    // About one second of sound (fifty 20 ms frames; the rest is silence).
    let loudFrames = 0;
    for (let at = 0; at + 160 <= heard.length; at += 160) if (!silent(heard.subarray(at, at + 160))) loudFrames++;
    expect(loudFrames).toBeGreaterThanOrEqual(49);
    expect(loudFrames).toBeLessThanOrEqual(51);
  });

  it("echoes a mark at once when nothing is buffered, and clear drops audio and echoes pending marks", async () => {
    const { call, stream } = await streamingCall();
    const sid = stream.streamSid();
    stream.send({ event: "mark", streamSid: sid, mark: { name: "idle" } });
    const [idle] = await stream.waitFor("mark", 1, 500);
    expect(idle?.json["mark"]).toEqual({ name: "idle" });

    sendAudio(stream, tone([1000], 5000));
    stream.send({ event: "mark", streamSid: sid, mark: { name: "pending" } });
    await sleep(300);
    expect(stream.events("mark")).toHaveLength(1);
    const clearedAt = Date.now();
    stream.send({ event: "clear", streamSid: sid });
    const marks = await stream.waitFor("mark", 2, 1000);
    expect(marks[1]?.json["mark"]).toEqual({ name: "pending" });
    expect((marks[1]?.at ?? 0) - clearedAt).toBeLessThan(300);
    await sleep(100);
    const after = call.heardSamples;
    await sleep(500);
    expect(silent(call.heardSince(after))).toBe(true);
  });

  it("ignores messages for another stream and reports them like Twilio's debugger", async () => {
    const { call, stream } = await streamingCall();
    const mark = call.heardSamples;
    stream.send({ event: "media", streamSid: "MZ0000", media: { payload: toMulaw(tone([1000], 500)).toString("base64") } });
    stream.send({ event: "bogus", streamSid: stream.streamSid() });
    await sleep(700);
    expect(silent(call.heardSince(mark))).toBe(true);
    const warnings = call.log.filter((e) => e.type === "warning");
    // Twilio raises 31951 once per stream; the simulator logs the later ones without a code.
    expect(warnings.map((w) => (w.type === "warning" ? w.code : -1))).toEqual([31951, 0]);
    expect(warnings.map((w) => (w.type === "warning" ? w.message : ""))).toEqual([
      expect.stringContaining("for stream \"MZ0000\""),
      expect.stringContaining("unknown event \"bogus\""),
    ]);
  });

  it("reports the handset's keys as dtmf events and in the inbound audio", async () => {
    const { call, stream } = await streamingCall();
    await stream.waitFor("media", 3);
    const firstFrame = stream.events("media").length;
    await call.pressKeys("5#");
    const events = await stream.waitFor("dtmf", 2);
    expect(events.map((e) => e.json)).toEqual([
      { event: "dtmf", streamSid: stream.streamSid(), sequenceNumber: expect.stringMatching(/^\d+$/), dtmf: { track: "inbound_track", digit: "5" } },
      { event: "dtmf", streamSid: stream.streamSid(), sequenceNumber: expect.stringMatching(/^\d+$/), dtmf: { track: "inbound_track", digit: "#" } },
    ]);
    // Sequence numbers keep counting across media and dtmf messages.
    const sequence = stream.messages.slice(1).map((m) => Number(m.json["sequenceNumber"]));
    expect(sequence).toEqual(sequence.map((_, i) => i + 1));
    // The tones are in band too: a detector on the streamed audio finds the same keys.
    await sleep(100);
    const detector = new DtmfDetector();
    for (const message of stream.events("media").slice(firstFrame)) {
      const payload = (message.json["media"] as { payload: string }).payload;
      detector.push(fromMulaw(Buffer.from(payload, "base64")));
    }
    expect(detector.keys).toBe("5#");
    expect(call.log.filter((e) => e.type === "dtmf").map((e) => (e.type === "dtmf" ? e.digit : ""))).toEqual(["5", "#"]);
  });

  it("lets the handset recognise DTMF tones the server plays into the stream", async () => {
    const { call, stream } = await streamingCall();
    expect(call.heardKeys()).toBe("");
    sendAudio(stream, concat([..."147*0#"].map((key) => dtmf(key, 100, 60))));
    await poll(() => (call.heardKeys().length >= 6 ? true : undefined), 3000, "six keys heard");
    expect(call.heardKeys()).toBe("147*0#");
    // Speech-like audio and plain tones are not keys.
    sendAudio(stream, concat([tone([1000], 300), tone([697], 200), silence(100), tone([440, 480], 300)]));
    await sleep(1000);
    expect(call.heardKeys()).toBe("147*0#");
  });

  it("continues with <Connect action> when the server closes: <Say>, then <Record> whose WAV holds the caller", async () => {
    const { call, stream } = await streamingCall({ tone: 660 });
    bridge.twiml(
      "/webhooks/twilio/link1/voice-after",
      `<Response><Say>Please leave a message after the tone.</Say>` +
        `<Record action="${bridge.url}/recorded" recordingStatusCallback="${bridge.url}/recording-status" maxLength="2" playBeep="true"/></Response>`,
    );
    bridge.twiml("/recorded", "<Response><Say>Thanks</Say><Hangup/></Response>");
    await stream.waitFor("media", 5);
    const mark = call.heardSamples;
    stream.close();

    const [after] = await bridge.waitFor("/webhooks/twilio/link1/voice-after");
    expect(after && isSignedBy(account.authToken, after)).toBe(true);
    expect(after?.params).toMatchObject({ CallSid: call.sid, CallStatus: "in-progress", Direction: "inbound" });
    // A closed socket gets no stop message.
    expect(stream.events("stop")).toEqual([]);

    const [recorded] = await bridge.waitFor("/recorded", 1, 10_000);
    if (!recorded) throw new Error("no action request");
    expect(isSignedBy(account.authToken, recorded)).toBe(true);
    const recordingSid = single(recorded.params, "RecordingSid") ?? "";
    expect(recordingSid).toMatch(/^RE[0-9a-f]{32}$/);
    const recordingUrl = `${sim.url}/2010-04-01/Accounts/${account.sid}/Recordings/${recordingSid}`;
    expect(recorded.params).toMatchObject({
      CallSid: call.sid,
      CallStatus: "in-progress",
      RecordingUrl: recordingUrl,
      RecordingDuration: "2",
    });
    expect(recorded.params["Digits"]).toBeUndefined();

    const [status] = await bridge.waitFor("/recording-status");
    expect(status && isSignedBy(account.authToken, status)).toBe(true);
    expect(status?.params).toMatchObject({
      AccountSid: account.sid,
      CallSid: call.sid,
      RecordingSid: recordingSid,
      RecordingUrl: recordingUrl,
      RecordingStatus: "completed",
      RecordingDuration: "2",
      RecordingChannels: "1",
      RecordingSource: "RecordVerb",
    });

    await call.waitForStatus("completed", { timeoutMs: 5000 });
    expect(call.said).toEqual(["Please leave a message after the tone.", "Thanks"]);
    const heard = call.heardSince(mark);
    expect(blocksAt(heard, [BEEP_FREQUENCY])).toBeGreaterThan(0.02);
    expect(blocksAt(heard, SAY_FREQUENCIES, 0.4)).toBeGreaterThan(0.5);

    // The recording: Basic auth required; WAV, 8 kHz 16-bit mono, the caller's 660 Hz.
    expect((await fetch(recordingUrl)).status).toBe(401);
    const media = await fetch(recordingUrl, { headers: { authorization: basicAuth() } });
    expect(media.status).toBe(200);
    expect(media.headers.get("content-type")).toBe("audio/x-wav");
    const wavBytes = Buffer.from(await media.arrayBuffer());
    const { samples, rate } = decodeWav(wavBytes);
    expect(rate).toBe(8000);
    expect(samples.length / 8000).toBeGreaterThan(1.8);
    expect(samples.length / 8000).toBeLessThan(2.2);
    expect(hears(samples, 660)).toBe(true);
    expect(free(samples, BEEP_FREQUENCY)).toBe(true);
    const withExtension = await fetch(`${recordingUrl}.wav`, { headers: { authorization: basicAuth() } });
    expect(Buffer.from(await withExtension.arrayBuffer())).toEqual(wavBytes);

    const resource = await fetch(`${recordingUrl}.json`, { headers: { authorization: basicAuth() } });
    const body = (await resource.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ sid: recordingSid, call_sid: call.sid, duration: "2", status: "completed", source: "RecordVerb" });
    const validation = validateResponse("/2010-04-01/Accounts/{AccountSid}/Recordings/{Sid}.json", "get", "200", body);
    expect(validation.errors).toEqual([]);
    expect(sim.twilio.recordings({ callSid: call.sid }).map((r) => r.sid)).toEqual([recordingSid]);
  });

  it("ends <Record> on a finishOnKey key, and on hangup requests the action with Digits=hangup", async () => {
    bridge.twiml(
      "/webhooks/twilio/link1/voice",
      `<Response><Record action="${bridge.url}/recorded" playBeep="false" finishOnKey="#"/></Response>`,
    );
    bridge.twiml("/recorded", `<Response><Record action="${bridge.url}/recorded-again" playBeep="false"/></Response>`);
    const call = sim.handset(CONTACT).call(BRIDGE_NUMBER);
    await call.waitForStatus("in-progress");
    await sleep(600);
    await call.pressKeys("#");
    const [first] = await bridge.waitFor("/recorded");
    expect(first?.params).toMatchObject({ Digits: "#", CallStatus: "in-progress" });
    await sleep(600);
    call.hangup();
    const [second] = await bridge.waitFor("/recorded-again");
    expect(second?.params).toMatchObject({ Digits: "hangup", CallStatus: "completed" });
    expect(call.status).toBe("completed");
    expect(sim.twilio.recordings({ callSid: call.sid })).toHaveLength(2);
  });

  it("sends stop and closes the socket when the caller hangs up; no action is requested", async () => {
    const { call, stream } = await streamingCall({ statusCallback: true });
    await stream.waitFor("media", 3);
    call.hangup();
    const [stop] = await stream.waitFor("stop");
    expect(stop?.json).toEqual({
      event: "stop",
      sequenceNumber: expect.stringMatching(/^\d+$/),
      stop: { accountSid: account.sid, callSid: call.sid },
      streamSid: stream.streamSid(),
    });
    await stream.waitClosed();
    expect(call.status).toBe("completed");
    const events = await bridge.waitFor("/stream-status", 2);
    expect(events.map((e) => e.params["StreamEvent"])).toEqual(["stream-started", "stream-stopped"]);
    for (const event of events) {
      expect(isSignedBy(account.authToken, event)).toBe(true);
      expect(event.params).toMatchObject({ AccountSid: account.sid, CallSid: call.sid, StreamSid: stream.streamSid() });
      expect(single(event.params, "Timestamp")).toMatch(/^\d{4}-\d\d-\d\dT/);
    }
    await sleep(200);
    expect(bridge.at("/webhooks/twilio/link1/voice-after")).toEqual([]);
  });

  it("stops the stream and runs the new TwiML when the call is redirected through REST", async () => {
    const { call, stream } = await streamingCall();
    await stream.waitFor("media", 3);
    const client = sdkClient(sim, account);
    await client.calls(call.sid).update({ twiml: "<Response><Say>Redirected to voicemail</Say></Response>" });
    const [stop] = await stream.waitFor("stop");
    expect(stop?.json["stop"]).toEqual({ accountSid: account.sid, callSid: call.sid });
    await stream.waitClosed();
    await call.waitForStatus("completed", { timeoutMs: 5000 });
    expect(call.said).toEqual(["Redirected to voicemail"]);
    // A redirect replaces the document: the <Connect action> is not requested.
    expect(bridge.at("/webhooks/twilio/link1/voice-after")).toEqual([]);
  });

  it("goes on with the action when the stream cannot connect (31920)", async () => {
    bridge.twiml(
      "/webhooks/twilio/link1/voice",
      `<Response><Connect action="${bridge.url}/after-failure"><Stream url="ws://127.0.0.1:9/media"/></Connect></Response>`,
    );
    bridge.twiml("/after-failure", "<Response><Say>Sorry</Say></Response>");
    const call = sim.handset(CONTACT).call(BRIDGE_NUMBER);
    await bridge.waitFor("/after-failure");
    await call.waitForStatus("completed");
    expect(call.said).toEqual(["Sorry"]);
    expect(call.log.some((e) => e.type === "warning" && e.code === 31920)).toBe(true);
  });

  it("streams both tracks for <Start><Stream> and moves on at once", async () => {
    bridge.twiml(
      "/webhooks/twilio/link1/voice",
      `<Response><Start><Stream url="${bridge.wsUrl}/media/fork" track="both_tracks"/></Start><Say>Hello while forking</Say></Response>`,
    );
    const call = sim.handset(CONTACT).call(BRIDGE_NUMBER);
    const stream = await bridge.waitForStream();
    await call.waitForStatus("completed", { timeoutMs: 5000 });
    await stream.waitFor("stop");
    const start = stream.events("start")[0]?.json["start"] as { tracks: string[] };
    expect(start.tracks).toEqual(["inbound", "outbound"]);
    const tracks = new Set(stream.events("media").map((m) => (m.json["media"] as { track: string }).track));
    expect([...tracks].sort()).toEqual(["inbound", "outbound"]);
    expect(call.said).toEqual(["Hello while forking"]);
  });
});
