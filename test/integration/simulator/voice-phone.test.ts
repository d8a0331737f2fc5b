import alawmulaw from "alawmulaw";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hasTone } from "../../../src/media/audio/goertzel.js";
import { fromMulaw, toMulaw, tone } from "../../../src/media/audio/tones.js";
import type { AccountCredentials, CarrierSimulator } from "../../../src/sandbox/simulator/index.js";
import { PHONE_AUDIO_JS } from "../../../src/sandbox/simulator/phone-page.js";
import { WebSocketClient, wsBytes, type WsData, type WsSocket } from "../../../src/sandbox/simulator/twilio/voice/ws.js";
import { poll, startStandIn, type StandIn } from "./bridge-standin.js";
import { BRIDGE_NUMBER, closeAll, CONTACT, sdkClient, startBridgeSimulator } from "./fixture.js";
import { free, hears, sleep } from "./voice-helpers.js";

const HANDSET = `/_sim/api/handsets/${encodeURIComponent(CONTACT)}`;

interface ControlCall {
  sid: string;
  role: string;
  handset: string;
  direction: string;
  from: string;
  to: string;
  status: string;
  said: string[];
  log?: Array<{ type: string; at: string }>;
}

let sim: CarrierSimulator;
let account: AccountCredentials;
let bridge: StandIn;

beforeEach(async () => {
  bridge = await startStandIn();
  ({ sim, account } = await startBridgeSimulator({ statusDelayMs: 5, number: { voiceUrl: `${bridge.url}/voice` } }));
});

afterEach(() => closeAll(sim, bridge));

async function api<T>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const response = await fetch(`${sim.url}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as T };
}

/** The page's audio code, run in Node. */
interface PhoneAudio {
  linearToMulaw(sample: number): number;
  mulawToLinear(byte: number): number;
  Encoder: new (inRate: number) => { push(floats: Float32Array, onFrame: (frame: Uint8Array) => void): void };
  Decoder: new (outRate: number) => { push(bytes: Uint8Array): void; pull(out: Float32Array): void };
}
const phoneAudio = new Function(`${PHONE_AUDIO_JS}; return phoneAudio;`)() as PhoneAudio;

/** A browser stand-in on the handset's audio socket: sends a tone in 20 ms frames, keeps what it hears. */
async function browser(frequency: number): Promise<{ socket: WsSocket; heard: () => Int16Array; stop: () => void }> {
  const socket = new WebSocketClient(`${sim.url.replace(/^http/, "ws")}${HANDSET}/audio`);
  const frames: Buffer[] = [];
  socket.on("message", (data: WsData, isBinary: boolean) => {
    if (isBinary) frames.push(wsBytes(data));
  });
  await new Promise<void>((resolve, reject) => {
    socket.on("open", () => resolve());
    socket.on("error", reject);
  });
  let sample = 0;
  const timer = setInterval(() => {
    socket.send(toMulaw(tone([frequency], 20, { phase: sample, amplitude: 0.3 })));
    sample += 160;
  }, 20);
  return {
    socket,
    heard: () => fromMulaw(Buffer.concat(frames)),
    stop: () => {
      clearInterval(timer);
      socket.close();
    },
  };
}

describe("the phone page's calls", () => {
  it("serves call controls and the audio code on the page, still self-contained", async () => {
    const html = await (await fetch(`${sim.url}/phone`)).text();
    for (const id of ['id="call"', 'id="answer"', 'id="hangup"', 'id="keypad"', 'id="ring-here"', 'id="call-status"']) {
      expect(html).toContain(id);
    }
    expect(html).toContain("/audio");
    expect(html).toContain("getUserMedia");
    expect(html).toContain("const phoneAudio");
    expect(html).toContain('<form id="compose">');
    expect(html).not.toMatch(/(src|href)="https?:/);
    expect(html).not.toContain("innerHTML");
  });

  it("codes µ-law exactly like alawmulaw, and resamples 48 kHz ⇄ 8 kHz keeping the pitch", () => {
    for (let byte = 0; byte < 256; byte++) {
      expect(phoneAudio.mulawToLinear(byte)).toBe(alawmulaw.mulaw.decode(new Uint8Array([byte]))[0]);
    }
    const samples = new Int16Array(65536);
    for (let i = 0; i < samples.length; i++) samples[i] = i - 32768;
    const reference = alawmulaw.mulaw.encode(samples);
    let mismatches = 0;
    for (let i = 0; i < samples.length; i++) if (phoneAudio.linearToMulaw(samples[i]!) !== reference[i]) mismatches++;
    expect(mismatches).toBe(0);

    // Microphone: 48 kHz floats of 1 kHz become 160-byte frames holding 1 kHz.
    const encoder = new phoneAudio.Encoder(48000);
    const mic = new Float32Array(48000);
    for (let i = 0; i < mic.length; i++) mic[i] = 0.5 * Math.sin((2 * Math.PI * 1000 * i) / 48000);
    const frames: Uint8Array[] = [];
    encoder.push(mic, (frame) => frames.push(frame));
    expect(frames.length).toBe(50);
    expect(frames.every((f) => f.length === 160)).toBe(true);
    const down = fromMulaw(Buffer.concat(frames.map((f) => Buffer.from(f))));
    expect(hasTone(down, 1000, 8000)).toBe(true);

    // Speaker: 8 kHz µ-law of 440 Hz, pulled at 44.1 kHz, is 440 Hz there.
    const decoder = new phoneAudio.Decoder(44100);
    decoder.push(toMulaw(tone([440], 400)));
    const out = new Float32Array(44100 * 0.3);
    decoder.pull(out);
    const pcm = Int16Array.from(out, (v) => Math.round(v * 32767));
    expect(hasTone(pcm, 440, 44100)).toBe(true);
    expect(hasTone(pcm, 880, 44100, 0.2)).toBe(false);
  });

  it("places, lists, answers and hangs up calls through the control API", async () => {
    bridge.twiml("/voice", '<Response><Say>Welcome</Say><Pause length="20"/></Response>');
    const placed = await api<ControlCall>("POST", `${HANDSET}/calls`, { to: BRIDGE_NUMBER });
    expect(placed.status).toBe(200);
    expect(placed.json).toMatchObject({ role: "caller", handset: CONTACT, direction: "inbound", from: CONTACT, to: BRIDGE_NUMBER });
    expect(placed.json.sid).toMatch(/^CA[0-9a-f]{32}$/);
    const [handle] = sim.handset(CONTACT).calls();
    expect(handle?.sid).toBe(placed.json.sid);
    await handle?.waitForStatus("in-progress");
    await sleep(1500);
    const fetched = await api<ControlCall>("GET", `/_sim/api/calls/${placed.json.sid}`);
    expect(fetched.json).toMatchObject({ status: "in-progress", said: ["Welcome"] });
    expect(fetched.json.log?.map((e) => e.type)).toEqual(expect.arrayContaining(["status", "webhook", "verb", "say"]));
    const hungUp = await api<ControlCall>("POST", `/_sim/api/calls/${placed.json.sid}/hangup`);
    expect(hungUp.json.status).toBe("completed");

    // Answering by hand: the page's "Ring this page" mode.
    const mode = await api<{ mode: string }>("PUT", `${HANDSET}/answer-mode`, { mode: "manual" });
    expect(mode.json).toEqual({ mode: "manual" });
    expect((await api<{ mode: string }>("GET", `${HANDSET}/answer-mode`)).json).toEqual({ mode: "manual" });
    const client = sdkClient(sim, account);
    const outbound = await client.calls.create({ to: CONTACT, from: BRIDGE_NUMBER, twiml: "<Response><Say>Hi there</Say></Response>" });
    const ringing = await poll(
      () => sim.handset(CONTACT).calls().find((c) => c.sid === outbound.sid && c.status === "ringing"),
      3000,
      "the handset ringing",
    );
    const listed = await api<{ calls: ControlCall[] }>("GET", `${HANDSET}/calls`);
    expect(listed.json.calls.map((c) => [c.sid, c.role, c.status])).toEqual([
      [placed.json.sid, "caller", "completed"],
      [outbound.sid, "callee", "ringing"],
    ]);
    await sleep(400);
    expect(ringing.status).toBe("ringing");
    const answered = await api<ControlCall>("POST", `/_sim/api/calls/${outbound.sid}/answer`, {});
    expect(answered.json.status).toBe("in-progress");
    await ringing.waitForStatus("completed", { timeoutMs: 5000 });
    expect(ringing.said).toEqual(["Hi there"]);

    expect((await api("POST", `/_sim/api/calls/${outbound.sid}/answer`, {})).status).toBe(400);
    expect((await api<{ error: { code: string } }>("GET", "/_sim/api/calls/CA0")).json.error.code).toBe("sim-unknown-call");
    expect((await api("POST", `${HANDSET}/calls`, { to: "+15559990000" })).status).toBe(404);
    expect((await api("PUT", `${HANDSET}/answer-mode`, { mode: "sometimes" })).status).toBe(400);
  });

  it("carries a browser's microphone and speaker over the audio websocket, and its keypad", async () => {
    bridge.twiml(
      "/voice",
      `<Response><Connect><Stream url="${bridge.wsUrl}/media/page"><Parameter name="x" value="y"/></Stream></Connect></Response>`,
    );
    const page = await browser(1200);
    try {
      const placed = await api<ControlCall>("POST", `${HANDSET}/calls`, { to: BRIDGE_NUMBER, tone: 440 });
      const stream = await bridge.waitForStream();
      await stream.waitFor("media", 60, 4000);
      // The stream carries the browser's 1200 Hz, not the handset's own tone.
      const inbound = stream.inboundAudio().slice(8000 * 0.4);
      expect(hears(inbound, 1200)).toBe(true);
      expect(free(inbound, 440)).toBe(true);

      // What the bridge plays reaches the browser.
      stream.send({
        event: "media",
        streamSid: stream.streamSid(),
        media: { payload: toMulaw(tone([1000], 800)).toString("base64") },
      });
      await sleep(1000);
      const heard = page.heard();
      expect(hears(heard, 1000)).toBe(true);
      expect(free(heard, 1200)).toBe(true);

      const keys = await api<ControlCall>("POST", `/_sim/api/calls/${placed.json.sid}/keys`, { keys: "7" });
      expect(keys.status).toBe(200);
      const [dtmf] = await stream.waitFor("dtmf");
      expect(dtmf?.json["dtmf"]).toEqual({ track: "inbound_track", digit: "7" });
      expect((await api("POST", `/_sim/api/calls/${placed.json.sid}/keys`, { keys: "x" })).status).toBe(400);

      await api("POST", `/_sim/api/calls/${placed.json.sid}/hangup`);
      await stream.waitFor("stop");
    } finally {
      page.stop();
    }
  });
});
