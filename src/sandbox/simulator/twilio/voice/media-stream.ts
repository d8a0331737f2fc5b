import { fromMulaw, FRAME_SAMPLES, toMulaw } from "../../../../media/audio/tones.js";
import { makeSid, type HttpMethod } from "../state.js";
import { signTwilioRequest, type WebhookParams } from "../webhooks.js";
import type { LiveCall, VoiceNetwork } from "./network.js";
import { WebSocketClient, WS_OPEN, wsBytes, type WsData, type WsSocket } from "./ws.js";

/**
 * Twilio's side of a Media Stream (protocols.md §4): a websocket client to the `<Stream url>`,
 * upgrade signed with lowercase `x-twilio-signature`, sending `connected`, `start`, 20 ms
 * `media` frames of the caller's audio, `dtmf` and `mark` events and `stop`; for bidirectional
 * streams (`<Connect><Stream>`) taking `media` (buffered and played in order at real time),
 * `mark` (echoed once the audio before it has played) and `clear` (drops buffered audio and
 * echoes the pending marks). All frames are text JSON; every counter is a string.
 */

export type StreamTrack = "inbound_track" | "outbound_track" | "both_tracks";

export interface StreamOptions {
  url: string;
  name: string | undefined;
  track: StreamTrack;
  statusCallback: string | undefined;
  statusCallbackMethod: HttpMethod;
  parameters: Record<string, string>;
  /** `<Connect><Stream>`: the server may send audio back, and the call waits on the stream. */
  bidirectional: boolean;
}

/** How a stream finished: the server closed it, Twilio stopped it, or it never connected. */
export type StreamEnd = "closed-by-server" | "stopped" | "failed";

type Queued = { audio: Int16Array; at: number } | { mark: string };

const HANDSHAKE_TIMEOUT_MS = 10_000;

export class MediaStreamSession {
  readonly streamSid = makeSid("MZ");
  readonly #net: VoiceNetwork;
  readonly #call: LiveCall;
  readonly #options: StreamOptions;
  #socket: WsSocket | null = null;
  #sequence = 0;
  #chunks = { inbound: 0, outbound: 0 };
  #firstFrameAt: number | null = null;
  #startedAt = 0;
  #queue: Queued[] = [];
  #ended: StreamEnd | null = null;
  #finished: Promise<StreamEnd>;
  #finish!: (end: StreamEnd) => void;
  #detach: Array<() => void> = [];
  #warnedUnidirectional = false;
  #protocolWarned = false;

  constructor(net: VoiceNetwork, call: LiveCall, options: StreamOptions) {
    this.#net = net;
    this.#call = call;
    this.#options = options;
    this.#finished = new Promise((resolve) => (this.#finish = resolve));
  }

  /** Resolves when the stream is over, however it ended. */
  get finished(): Promise<StreamEnd> {
    return this.#finished;
  }

  /**
   * Connects and starts streaming. Resolves true once `connected` and `start` went out, false if
   * the handshake failed (Twilio error 31920).
   */
  async open(): Promise<boolean> {
    const { url } = this.#options;
    const record = this.#call.record;
    const authToken = this.#net.carrier.state.account(record.accountSid).authToken;
    if (/\?/.test(url)) {
      this.#warn(0, `<Stream url> does not support query strings: ${url}`);
    }
    const socket = new WebSocketClient(url, {
      headers: { "x-twilio-signature": signTwilioRequest(url, {}, authToken) },
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    });
    this.#socket = socket;
    const opened = await new Promise<boolean>((resolve) => {
      socket.on("open", () => resolve(true));
      socket.on("unexpected-response", (_request, response) => {
        this.#failure(`the server answered the upgrade with HTTP ${response.statusCode ?? 0}`);
        response.resume();
        socket.terminate();
        resolve(false);
      });
      socket.on("error", (err) => {
        if (this.#ended === null) this.#failure(err.message);
        resolve(false);
      });
    });
    if (!opened || this.#call.isEnded) {
      if (opened) socket.terminate();
      this.#end("failed");
      return false;
    }
    socket.on("message", (data, isBinary) => this.#onMessage(data, isBinary));
    socket.on("close", (code) => {
      if (this.#ended !== null) return;
      this.#net.log(this.#call, {
        type: "stream",
        event: "closed-by-server",
        url,
        streamSid: this.streamSid,
        detail: `close code ${code}`,
      });
      this.#end("closed-by-server");
    });
    socket.on("error", (err) => this.#net.logger?.info({ err, callSid: record.sid }, "media stream socket error"));

    this.#startedAt = this.#net.carrier.clock.now();
    this.#send({ event: "connected", protocol: "Call", version: "1.0.0" });
    const tracks = this.#options.track === "both_tracks" ? ["inbound", "outbound"] : [this.#track()];
    this.#send({
      event: "start",
      sequenceNumber: this.#nextSequence(),
      start: {
        accountSid: record.accountSid,
        streamSid: this.streamSid,
        callSid: record.sid,
        tracks,
        mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
        customParameters: this.#options.parameters,
      },
      streamSid: this.streamSid,
    });
    this.#net.log(this.#call, { type: "stream", event: "connected", url, streamSid: this.streamSid });
    void this.#statusCallback("stream-started");

    const call = this.#call;
    if (tracks.includes("inbound")) {
      const onInbound = (frame: Int16Array): void => this.#media("inbound", frame);
      call.inputs.add(onInbound);
      this.#detach.push(() => call.inputs.delete(onInbound));
    }
    if (tracks.includes("outbound")) {
      const onOutbound = (frame: Int16Array): void => this.#media("outbound", frame);
      call.outputTaps.add(onOutbound);
      this.#detach.push(() => call.outputTaps.delete(onOutbound));
    }
    if (this.#options.bidirectional) {
      const output = (): Int16Array => this.#play();
      call.output = output;
      this.#detach.push(() => {
        if (call.output === output) call.output = undefined;
      });
      const onKey = (digit: string): void => {
        this.#send({
          event: "dtmf",
          streamSid: this.streamSid,
          sequenceNumber: this.#nextSequence(),
          dtmf: { track: "inbound_track", digit },
        });
      };
      call.keyListeners.add(onKey);
      this.#detach.push(() => call.keyListeners.delete(onKey));
    }
    return true;
  }

  /** Twilio ends the stream (the call ended, was redirected, or `<Stop>`): `stop`, then close. */
  stop(): void {
    if (this.#ended !== null) return;
    const socket = this.#socket;
    if (socket && socket.readyState === WS_OPEN) {
      this.#send({
        event: "stop",
        sequenceNumber: this.#nextSequence(),
        stop: { accountSid: this.#call.record.accountSid, callSid: this.#call.record.sid },
        streamSid: this.streamSid,
      });
      socket.close(1000);
    } else {
      socket?.terminate();
    }
    this.#net.log(this.#call, { type: "stream", event: "stopped", url: this.#options.url, streamSid: this.streamSid });
    this.#end("stopped");
  }

  #track(): "inbound" | "outbound" {
    return this.#options.track === "outbound_track" ? "outbound" : "inbound";
  }

  #nextSequence(): string {
    this.#sequence += 1;
    return String(this.#sequence);
  }

  #send(message: unknown): void {
    const socket = this.#socket;
    if (socket && socket.readyState === WS_OPEN) socket.send(JSON.stringify(message));
  }

  /** One 20 ms frame of a track: 160 bytes of µ-law, chunk counted from 1, timestamp in ms. */
  #media(track: "inbound" | "outbound", frame: Int16Array): void {
    if (this.#ended !== null) return;
    const now = this.#net.carrier.clock.now();
    this.#firstFrameAt ??= now - this.#startedAt;
    this.#chunks[track] += 1;
    const chunk = this.#chunks[track];
    this.#send({
      event: "media",
      sequenceNumber: this.#nextSequence(),
      media: {
        track,
        chunk: String(chunk),
        timestamp: String(this.#firstFrameAt + (chunk - 1) * 20),
        payload: toMulaw(frame).toString("base64"),
      },
      streamSid: this.streamSid,
    });
  }

  /** The next 20 ms of buffered server audio; marks reached by it are echoed. */
  #play(): Int16Array {
    const frame = new Int16Array(FRAME_SAMPLES);
    let filled = 0;
    const reached: string[] = [];
    while (this.#queue.length > 0) {
      const head = this.#queue[0]!;
      if ("mark" in head) {
        reached.push(head.mark);
        this.#queue.shift();
        continue;
      }
      if (filled === FRAME_SAMPLES) break;
      const take = Math.min(FRAME_SAMPLES - filled, head.audio.length - head.at);
      frame.set(head.audio.subarray(head.at, head.at + take), filled);
      filled += take;
      head.at += take;
      if (head.at >= head.audio.length) this.#queue.shift();
    }
    for (const name of reached) this.#echoMark(name);
    return frame;
  }

  #echoMark(name: string): void {
    this.#send({ event: "mark", sequenceNumber: this.#nextSequence(), streamSid: this.streamSid, mark: { name } });
  }

  #onMessage(data: WsData, isBinary: boolean): void {
    if (this.#ended !== null) return;
    if (isBinary) {
      this.#warn(31950, "Stream - Protocol - Malformed Message: binary frame (messages are text JSON)");
      return;
    }
    let message: unknown;
    try {
      message = JSON.parse(wsBytes(data).toString("utf8"));
    } catch {
      this.#protocolWarning("a message that is not JSON");
      return;
    }
    if (typeof message !== "object" || message === null) {
      this.#protocolWarning("a message that is not a JSON object");
      return;
    }
    const { event, streamSid } = message as { event?: unknown; streamSid?: unknown };
    if (!this.#options.bidirectional) {
      if (!this.#warnedUnidirectional) {
        this.#warnedUnidirectional = true;
        this.#warn(0, "messages sent on a <Start><Stream> (unidirectional) are ignored");
      }
      return;
    }
    if (event !== "media" && event !== "mark" && event !== "clear") {
      this.#protocolWarning(`unknown event ${JSON.stringify(event)}`);
      return;
    }
    if (streamSid !== this.streamSid) {
      this.#protocolWarning(`${event} message for stream ${JSON.stringify(streamSid)}, not ${this.streamSid}`);
      return;
    }
    if (event === "media") {
      const payload = (message as { media?: { payload?: unknown } }).media?.payload;
      if (typeof payload !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(payload)) {
        this.#protocolWarning("media message without a base64 payload");
        return;
      }
      const bytes = Buffer.from(payload, "base64");
      if (bytes.subarray(0, 4).toString("latin1") === "RIFF") {
        this.#warn(0, "media payload starts with a WAV header: send raw audio/x-mulaw");
      }
      if (bytes.length > 0) this.#queue.push({ audio: fromMulaw(bytes), at: 0 });
      return;
    }
    if (event === "mark") {
      const name = (message as { mark?: { name?: unknown } }).mark?.name;
      if (typeof name !== "string") {
        this.#protocolWarning("mark message without mark.name");
        return;
      }
      // Nothing buffered ahead of it: it has been "played" already.
      if (!this.#queue.some((item) => "audio" in item)) {
        const pending = this.#queue.splice(0).map((item) => ("mark" in item ? item.mark : ""));
        for (const earlier of pending) this.#echoMark(earlier);
        this.#echoMark(name);
      } else {
        this.#queue.push({ mark: name });
      }
      return;
    }
    const pending = this.#queue.filter((item): item is { mark: string } => "mark" in item).map((item) => item.mark);
    this.#queue = [];
    for (const name of pending) this.#echoMark(name);
  }

  #failure(detail: string): void {
    this.#warn(31920, `Stream - WebSocket - Handshake Error: ${detail}`);
    this.#net.log(this.#call, { type: "stream", event: "failed", url: this.#options.url, streamSid: this.streamSid, detail });
    void this.#statusCallback("stream-error", detail);
  }

  /**
   * A message the protocol does not allow: dropped. Twilio reports 31951 "Stream - Protocol -
   * Invalid Message" once per stream; later ones are logged too, without the code.
   */
  #protocolWarning(detail: string): void {
    this.#warn(this.#protocolWarned ? 0 : 31951, `Stream - Protocol - Invalid Message: ${detail}`);
    this.#protocolWarned = true;
  }

  #warn(code: number, message: string): void {
    this.#net.log(this.#call, { type: "warning", code, message });
  }

  #end(end: StreamEnd): void {
    if (this.#ended !== null) return;
    this.#ended = end;
    for (const detach of this.#detach.splice(0)) detach();
    this.#queue = [];
    if (end !== "failed") void this.#statusCallback("stream-stopped");
    this.#finish(end);
  }

  async #statusCallback(event: "stream-started" | "stream-stopped" | "stream-error", error?: string): Promise<void> {
    const url = this.#options.statusCallback;
    if (!url) return;
    const record = this.#call.record;
    const params: WebhookParams = {
      AccountSid: record.accountSid,
      CallSid: record.sid,
      StreamSid: this.streamSid,
      StreamName: this.#options.name ?? this.streamSid,
      StreamEvent: event,
      ...(error ? { StreamError: error } : {}),
      Timestamp: this.#net.now().toISOString(),
    };
    await this.#net.request(this.#call, "stream-status-callback", url, this.#options.statusCallbackMethod, params);
  }
}
