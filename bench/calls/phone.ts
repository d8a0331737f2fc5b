/**
 * The phone network's side of one inbound call, as Twilio does it, with the audio under the
 * benchmark's control: the number's voice webhook (the simulator's own request code and
 * parameters, signed with the account's token) → the bridge's TwiML → `<Connect><Stream url>`
 * with its `<Parameter>`s (callId, one-time token) → the websocket, its upgrade signed over the
 * exact wss URL → `connected`, `start`, then 20 ms `media` frames (tagged, see media.ts) → on
 * hangup `stop`, close, and the number's `completed` status callback.
 *
 * Why not the simulator's handset: its microphone can be fed (the web phone's audio socket), but
 * only through its 20 ms playout ticker and jitter queue on both sides, so a frame's time through
 * the bridge could not be told apart from the time spent queued in the simulator. This client
 * writes each frame to the bridge's socket itself and timestamps it there.
 */
import { performance } from "node:perf_hooks";
import { parseTwiml, type TwimlElement } from "../../src/sandbox/simulator/twilio/voice/twiml.js";
import { callParams, statusCallbackParams } from "../../src/sandbox/simulator/twilio/voice/params.js";
import type { CallRecord } from "../../src/sandbox/simulator/twilio/voice/records.js";
import { makeSid } from "../../src/sandbox/simulator/twilio/state.js";
import { sendSignedWebhook, signTwilioRequest } from "../../src/sandbox/simulator/twilio/webhooks.js";
import { WebSocketClient, WS_OPEN, type WsData, type WsSocket } from "../../src/sandbox/simulator/twilio/voice/ws.js";
import { readTag, type FrameLog } from "./media.js";

export interface PhoneLine {
  /** The linked Twilio number, and the URLs the bridge set on it when linking. */
  number: string;
  voiceUrl: string;
  statusCallback: string | null;
  accountSid: string;
  authToken: string;
}

function find(element: TwimlElement, name: string): TwimlElement | undefined {
  for (const child of element.children) {
    if (child.name === name) return child;
    const deeper = find(child, name);
    if (deeper) return deeper;
  }
  return undefined;
}

/** The `<Stream>` a call's TwiML connects to, with its parameters; throws for anything else. */
export function streamOf(twiml: string): { url: string; parameters: Record<string, string> } {
  const root = parseTwiml(twiml);
  const connect = find(root, "Connect");
  const stream = connect ? find(connect, "Stream") : undefined;
  const url = stream?.attributes["url"];
  if (!stream || !url) throw new Error(`the bridge's TwiML has no <Connect><Stream>: ${twiml.slice(0, 300)}`);
  const parameters: Record<string, string> = {};
  for (const p of stream.children) if (p.name === "Parameter" && p.attributes["name"]) parameters[p.attributes["name"]] = p.attributes["value"] ?? "";
  return { url, parameters };
}

const PAYLOAD_KEY = Buffer.from('"payload":"');
const MEDIA_PREFIX = Buffer.from('{"event":"media"');

export class PhoneCall {
  readonly sid = makeSid("CA");
  readonly streamSid = makeSid("MZ");
  private readonly record: CallRecord;
  private socket: WsSocket | null = null;
  private sequence = 0;
  private chunk = 0;
  private startedAt = 0;
  private answeredAt = 0;
  private stopped = false;
  /** Times (performance.now()) of the steps, for call setup figures. */
  webhookAt = NaN;
  twimlAt = NaN;
  streamOpenAt = NaN;
  closedByBridge = false;
  error: string | null = null;
  /** Ringback and other untagged audio the bridge played to the caller (frames of any length). */
  otherAudio = 0;

  constructor(
    readonly from: string,
    readonly slot: number,
    private readonly line: PhoneLine,
    /** Frames the bridge sends to this phone (matrix → phone). */
    private readonly inbound: FrameLog,
  ) {
    this.record = {
      sid: this.sid,
      accountSid: line.accountSid,
      parentCallSid: null,
      direction: "inbound",
      from,
      to: line.number,
      status: "ringing",
    } as CallRecord;
  }

  get open(): boolean {
    return this.socket !== null && this.socket.readyState === WS_OPEN && !this.stopped;
  }

  /** Rings the number: the voice webhook, the TwiML, the media stream. Resolves once `start` went out. */
  async dial(): Promise<void> {
    this.webhookAt = performance.now();
    const outcome = await sendSignedWebhook({ url: this.line.voiceUrl, params: callParams(this.record, "ringing"), authToken: this.line.authToken });
    this.twimlAt = performance.now();
    if (outcome.status !== 200) throw new Error(`the voice webhook answered ${outcome.status}${outcome.error ? ` (${outcome.error})` : ""}: ${outcome.body.slice(0, 200)}`);
    const { url, parameters } = streamOf(outcome.body);
    // Twilio answers the call as it starts running the TwiML.
    this.record.status = "in-progress";
    this.answeredAt = Date.now();
    const socket = new WebSocketClient(url, { headers: { "x-twilio-signature": signTwilioRequest(url, {}, this.line.authToken) }, handshakeTimeout: 10_000 });
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.on("open", () => resolve());
      socket.on("unexpected-response", (_request, response) => {
        response.resume();
        reject(new Error(`the bridge answered the media stream's upgrade with HTTP ${response.statusCode ?? 0}`));
      });
      socket.on("error", reject);
    });
    socket.on("message", (data, isBinary) => this.onMessage(data, isBinary));
    socket.on("close", () => {
      if (!this.stopped) this.closedByBridge = true;
    });
    this.streamOpenAt = performance.now();
    this.startedAt = performance.now();
    this.send(JSON.stringify({ event: "connected", protocol: "Call", version: "1.0.0" }));
    this.send(
      JSON.stringify({
        event: "start",
        sequenceNumber: String(++this.sequence),
        start: {
          accountSid: this.line.accountSid,
          streamSid: this.streamSid,
          callSid: this.sid,
          tracks: ["inbound"],
          mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
          customParameters: parameters,
        },
        streamSid: this.streamSid,
      }),
    );
  }

  /** One 20 ms frame of the caller's voice, as Twilio's `media` message. */
  sendFrame(payload: Buffer): boolean {
    if (!this.open) return false;
    this.chunk++;
    this.send(
      `{"event":"media","sequenceNumber":"${++this.sequence}","media":{"track":"inbound","chunk":"${this.chunk}","timestamp":"${Math.round(performance.now() - this.startedAt)}","payload":"${payload.toString("base64")}"},"streamSid":"${this.streamSid}"}`,
    );
    return true;
  }

  /** The caller hangs up: `stop`, the socket closed, then the number's `completed` status callback. */
  async hangup(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const socket = this.socket;
    if (socket && socket.readyState === WS_OPEN) {
      this.send(JSON.stringify({ event: "stop", sequenceNumber: String(++this.sequence), stop: { accountSid: this.line.accountSid, callSid: this.sid }, streamSid: this.streamSid }));
      socket.close(1000);
    } else {
      socket?.terminate();
    }
    this.record.status = "completed";
    if (!this.line.statusCallback || Number.isNaN(this.webhookAt)) return;
    const seconds = this.answeredAt ? Math.round((Date.now() - this.answeredAt) / 1000) : 0;
    const params = statusCallbackParams(this.record, "completed", { sequenceNumber: 2, at: new Date(), callDuration: seconds, sipResponseCode: 200 });
    const outcome = await sendSignedWebhook({ url: this.line.statusCallback, params, authToken: this.line.authToken });
    if (outcome.status !== 200) this.error ??= `the completed status callback answered ${outcome.status}`;
  }

  /** Drops the socket without a word (cleanup after an interruption). */
  terminate(): void {
    this.stopped = true;
    this.socket?.terminate();
  }

  private send(text: string): void {
    this.socket?.send(text);
  }

  /** The bridge's messages: `media` (tagged frames are logged; ringback counted), `clear`, `mark`. */
  private onMessage(data: WsData, isBinary: boolean): void {
    const at = performance.now();
    if (isBinary || !Buffer.isBuffer(data)) return;
    if (data.compare(MEDIA_PREFIX, 0, MEDIA_PREFIX.length, 0, MEDIA_PREFIX.length) !== 0) return;
    const p = data.indexOf(PAYLOAD_KEY);
    if (p < 0) return;
    const start = p + PAYLOAD_KEY.length;
    // The tag is in the first 9 bytes: 12 base64 characters.
    const tag = readTag(Buffer.from(data.toString("latin1", start, start + 12), "base64"));
    if (!tag || tag.direction !== "matrixToPhone" || tag.slot !== this.slot) {
      this.otherAudio++;
      return;
    }
    this.inbound.markReceived(tag.seq, at);
  }
}
