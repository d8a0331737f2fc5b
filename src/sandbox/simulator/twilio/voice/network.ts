import type { Logger } from "pino";
import { fromMulaw, FRAME_SAMPLES, toMulaw, tone } from "../../../../media/audio/tones.js";
import type { Carrier } from "../carrier.js";
import { restErrors, SimulatorError } from "../errors.js";
import type { CallFaultOutcome } from "../faults.js";
import { isE164 } from "../numbers.js";
import { first, type Query } from "../paging.js";
import { makeSid, type HttpMethod, type WebhookOutcome } from "../state.js";
import type { WebhookParams } from "../webhooks.js";
import { AudioTicker, Earpiece, keyAudio, KEY_TONE_MS, PcmReader, SILENT_FRAME } from "./audio.js";
import { Executor, type Next } from "./executor.js";
import { callParams, statusCallbackParams } from "./params.js";
import {
  isTerminal,
  type CallDirection,
  type CallEvent,
  type CallLogEvent,
  type CallRecord,
  type CallStatus,
  type CallWebhookPurpose,
} from "./records.js";
import { callDuration } from "./resources.js";
import { WS_OPEN, type WsSocket } from "./ws.js";
import type { PlaceCallOptions } from "../../types.js";

/**
 * The simulated voice network: calls between handsets and Twilio numbers, their status lifecycle
 * and callbacks, how handsets answer, and the audio between them. TwiML runs in `Executor`.
 */

/** How a handset treats calls that ring it. */
export type AnswerBehaviour =
  | { after?: number; tone?: number }
  | "manual"
  | "busy"
  | "no-answer"
  | "fail"
  | "reject";

export const DEFAULT_ANSWER: { after: number; tone: number } = { after: 200, tone: 440 };
export const DEFAULT_TONE = 440;

/** How long an incoming Twilio call may take to be answered before the caller gives up. */
const DEFAULT_CALLER_PATIENCE_MS = 60_000;
/** The browser phone's audio is dropped beyond this backlog, to keep latency low. */
const MAX_BROWSER_BACKLOG = 10;

/** A number's handset: how it answers, its calls, and the browser attached to it, if any. */
export class HandsetLine {
  behaviour: AnswerBehaviour = { ...DEFAULT_ANSWER };
  readonly calls: LiveCall[] = [];
  readonly listeners = new Set<(call: LiveCall) => void>();
  #browser: { socket: WsSocket; frames: Int16Array[] } | null = null;

  constructor(readonly number: string) {}

  /** Routes this handset's microphone and earpiece through a browser's audio socket. */
  attachBrowser(socket: WsSocket): () => void {
    const browser = { socket, frames: [] as Int16Array[] };
    this.#browser = browser;
    return () => {
      if (this.#browser === browser) this.#browser = null;
    };
  }

  get hasBrowser(): boolean {
    return this.#browser !== null;
  }

  /** µ-law audio from the browser's microphone, in any whole number of 20 ms frames. */
  fromBrowser(mulaw: Buffer): void {
    const browser = this.#browser;
    if (!browser) return;
    const pcm = fromMulaw(mulaw);
    for (let at = 0; at + FRAME_SAMPLES <= pcm.length; at += FRAME_SAMPLES) {
      browser.frames.push(pcm.slice(at, at + FRAME_SAMPLES));
    }
    if (browser.frames.length > MAX_BROWSER_BACKLOG) browser.frames.splice(0, browser.frames.length - MAX_BROWSER_BACKLOG);
  }

  /** The browser microphone's next frame; undefined when no browser is attached. */
  browserFrame(): Int16Array | undefined {
    if (!this.#browser) return undefined;
    return this.#browser.frames.shift() ?? SILENT_FRAME;
  }

  toBrowser(frame: Int16Array): void {
    const socket = this.#browser?.socket;
    if (socket && socket.readyState === WS_OPEN) socket.send(toMulaw(frame));
  }
}

/** The handset's end of one call: its microphone and its earpiece. */
export class Party {
  tone: number;
  readonly earpiece = new Earpiece();
  #sample = 0;
  #keys: string[] = [];
  #key: { digit: string; reader: PcmReader; frame: number; toneFrames: number } | null = null;
  #keysDone: Array<() => void> = [];

  constructor(
    readonly line: HandsetLine,
    readonly role: "caller" | "callee",
    tone: number,
    private readonly onKey: (digit: string) => void,
  ) {
    this.tone = tone;
  }

  /** Queues key presses; resolves when the last one has been played. */
  pressKeys(keys: string): Promise<void> {
    this.#keys.push(...keys);
    return new Promise((resolve) => this.#keysDone.push(resolve));
  }

  /** Drops keys not yet played (the call ended). */
  dropKeys(): void {
    this.#keys = [];
    this.#key = null;
    for (const done of this.#keysDone.splice(0)) done();
  }

  /** The microphone's next 20 ms: a key being pressed, else the browser, else the tone. */
  readMic(): Int16Array {
    const browser = this.line.browserFrame();
    const position = this.#sample;
    this.#sample += FRAME_SAMPLES;
    if (!this.#key && this.#keys.length > 0) {
      const digit = this.#keys.shift()!;
      this.#key = {
        digit,
        reader: new PcmReader(keyAudio(digit)),
        frame: 0,
        toneFrames: Math.ceil(KEY_TONE_MS / 20),
      };
    }
    const key = this.#key;
    if (key) {
      const frame = key.reader.next();
      key.frame += 1;
      if (key.frame === key.toneFrames) this.onKey(key.digit);
      if (key.reader.done) {
        this.#key = null;
        if (this.#keys.length === 0) for (const done of this.#keysDone.splice(0)) done();
      }
      return frame;
    }
    if (browser) return browser;
    if (this.tone <= 0) return SILENT_FRAME;
    return tone([this.tone], 20, { phase: position, amplitude: 0.3 });
  }

  hear(frame: Int16Array): void {
    this.earpiece.write(frame);
    this.line.toBrowser(frame);
  }
}

export type RingOutcome = "answered" | "busy" | "no-answer" | "failed" | "canceled";

interface Ring {
  settle(outcome: RingOutcome, sipResponseCode?: number | null, tone?: number): void;
}

/** A call in progress on the network: its record, its handset side and its audio wiring. */
export class LiveCall {
  readonly party: Party;
  /** Aborted (with the final status as reason) when the call ends. */
  readonly ended = new AbortController();
  /** What Twilio plays to the handset this tick; silence when unset or exhausted. */
  output: (() => Int16Array | undefined) | undefined;
  /** Consumers of the handset's microphone (streams, recorder, the other leg of a dial). */
  readonly inputs = new Set<(frame: Int16Array) => void>();
  /** Consumers of what is played to the handset (outbound-track streams). */
  readonly outputTaps = new Set<(frame: Int16Array) => void>();
  /** Keys the handset pressed, as Twilio's DTMF detection reports them. */
  readonly keyListeners = new Set<(digit: string) => void>();
  /** The running TwiML document; aborted by a redirect. */
  doc: AbortController | null = null;
  pendingRedirect: Next | null = null;
  stopAudio: (() => void) | null = null;
  /** Status callbacks go out in order without holding up the call. */
  callbacks: Promise<void> = Promise.resolve();
  readonly statusListeners = new Set<() => void>();
  /** While a handset rings: how the ring ends. */
  ring: Ring | null = null;
  /** Streams started with `<Start><Stream>`, stopped by `<Stop>` or the end of the call. */
  readonly backgroundStreams = new Set<{ name: string | undefined; stop: () => void }>();

  constructor(
    readonly record: CallRecord,
    line: HandsetLine,
    role: "caller" | "callee",
    tone: number,
    onKey: (call: LiveCall, digit: string) => void,
  ) {
    this.party = new Party(line, role, tone, (digit) => onKey(this, digit));
  }

  get isEnded(): boolean {
    return this.ended.signal.aborted;
  }

  tick(): void {
    const mic = this.party.readMic();
    for (const input of [...this.inputs]) input(mic);
    const out = this.output?.() ?? SILENT_FRAME;
    this.party.hear(out);
    for (const tap of [...this.outputTaps]) tap(out);
  }
}

export interface OutboundCallInput {
  to: string | undefined;
  from: string | undefined;
  url: string | undefined;
  twiml: string | undefined;
  applicationSid: string | undefined;
  method: string | undefined;
  fallbackUrl: string | undefined;
  fallbackMethod: string | undefined;
  statusCallback: string | undefined;
  statusCallbackMethod: string | undefined;
  statusCallbackEvents: string[];
  timeout: string | undefined;
}

export interface DialLegOptions {
  callerId: string;
  timeoutSeconds: number;
  statusCallback: string | null;
  statusCallbackMethod: HttpMethod;
  statusCallbackEvents: CallEvent[];
}

const URL_PATTERN = /^https?:\/\/[^\s/?#]+/i;
const CALL_EVENTS: readonly CallEvent[] = ["initiated", "ringing", "answered", "completed"];

/** The call that ended: reason of `LiveCall.ended`. */
export class CallEnded extends Error {
  constructor(readonly status: CallStatus) {
    super(`call ended: ${status}`);
    this.name = "CallEnded";
  }
}

export class VoiceNetwork {
  readonly lines = new Map<string, HandsetLine>();
  /** Calls not yet ended. */
  readonly live = new Map<string, LiveCall>();
  /** Every call since the simulator started, ended ones included. */
  readonly all = new Map<string, LiveCall>();
  readonly ticker: AudioTicker;
  readonly #carrier: Carrier;
  readonly #log: Logger | undefined;
  readonly #timers = new Set<unknown>();

  constructor(carrier: Carrier, logger: Logger | undefined) {
    this.#carrier = carrier;
    this.#log = logger;
    this.ticker = new AudioTicker(carrier.clock, (err) => this.#log?.error({ err }, "call audio tick failed"));
  }

  get carrier(): Carrier {
    return this.#carrier;
  }

  get logger(): Logger | undefined {
    return this.#log;
  }

  line(number: string): HandsetLine {
    let line = this.lines.get(number);
    if (!line) {
      line = new HandsetLine(number);
      this.lines.set(number, line);
    }
    return line;
  }

  now(): Date {
    return this.#carrier.state.now();
  }

  /** A timer on the injected clock, cleared when the simulator closes. */
  after(ms: number, fn: () => void): () => void {
    const handle = this.#carrier.clock.setTimeout(() => {
      this.#timers.delete(handle);
      fn();
    }, Math.max(0, ms));
    this.#timers.add(handle);
    return () => {
      this.#timers.delete(handle);
      this.#carrier.clock.clearTimeout(handle);
    };
  }

  /** Waits `ms`; rejects with the signal's reason if it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason as Error);
      const onAbort = (): void => {
        cancel();
        reject(signal?.reason as Error);
      };
      const cancel = this.after(ms, () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      });
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  log(call: LiveCall | CallRecord, event: CallLogEvent): void {
    const record = call instanceof LiveCall ? call.record : call;
    record.log.push({ at: this.now(), ...event });
  }

  // ---- creating calls ---------------------------------------------------------------------

  #newRecord(input: {
    accountSid: string;
    direction: CallDirection;
    from: string;
    to: string;
    parentCallSid?: string | null;
    phoneNumberSid: string | null;
    status: CallStatus;
  }): CallRecord {
    const now = this.now();
    return {
      sid: makeSid("CA"),
      accountSid: input.accountSid,
      parentCallSid: input.parentCallSid ?? null,
      direction: input.direction,
      from: input.from,
      to: input.to,
      phoneNumberSid: input.phoneNumberSid,
      status: input.status,
      dateCreated: now,
      dateUpdated: now,
      startTime: null,
      answeredAt: null,
      endTime: null,
      url: null,
      method: "POST",
      twiml: null,
      fallbackUrl: null,
      fallbackMethod: "POST",
      statusCallback: null,
      statusCallbackMethod: "POST",
      statusCallbackEvents: ["completed"],
      timeoutSeconds: 60,
      sipResponseCode: null,
      events: 0,
      history: [],
      log: [],
      recordingSids: [],
    };
  }

  #register(call: LiveCall): void {
    this.#carrier.state.calls.set(call.record.sid, call.record);
    this.live.set(call.record.sid, call);
    this.all.set(call.record.sid, call);
    const line = call.party.line;
    line.calls.push(call);
    for (const listener of [...line.listeners]) listener(call);
  }

  #onKey = (call: LiveCall, digit: string): void => {
    this.log(call, { type: "dtmf", digit });
    for (const listener of [...call.keyListeners]) listener(digit);
  };

  /** A handset calls a Twilio number: the number's voice URL decides what happens. */
  placeFromHandset(from: string, to: string, options: PlaceCallOptions = {}): LiveCall {
    if (this.#carrier.closed) throw new SimulatorError("sim-closed", "the simulator is closed");
    if (!isE164(from)) throw new SimulatorError("sim-invalid-number", `a handset calls from an E.164 number, not ${from}`);
    const number = this.#carrier.state.numberByPhone(to);
    if (!number) throw new SimulatorError("sim-unknown-number", `${to} is not a number on any simulated account`);
    const record = this.#newRecord({
      accountSid: number.accountSid,
      direction: "inbound",
      from: options.withheld ? "anonymous" : from,
      to,
      phoneNumberSid: number.sid,
      status: "ringing",
    });
    record.url = number.voiceUrl;
    record.method = number.voiceMethod;
    record.fallbackUrl = number.voiceFallbackUrl;
    record.fallbackMethod = number.voiceFallbackMethod;
    record.statusCallback = number.statusCallback || null;
    record.statusCallbackMethod = number.statusCallbackMethod;
    record.startTime = record.dateCreated;
    const call = new LiveCall(record, this.line(from), "caller", options.tone ?? DEFAULT_TONE, this.#onKey);
    this.#register(call);
    this.#step(call, "ringing");
    this.#log?.debug({ callSid: record.sid }, "inbound call ringing");
    void this.#runInbound(call, options.answerTimeoutMs ?? DEFAULT_CALLER_PATIENCE_MS).catch((err: unknown) =>
      this.#crashed(call, err),
    );
    return call;
  }

  async #runInbound(call: LiveCall, patienceMs: number): Promise<void> {
    const record = call.record;
    const giveUp = this.after(patienceMs, () => {
      if (record.status === "ringing") {
        this.log(call, { type: "warning", code: 0, message: `the caller gave up after ${patienceMs} ms of ringing` });
        this.end(call, "canceled", 487);
      }
    });
    call.ended.signal.addEventListener("abort", giveUp, { once: true });
    const fault = this.#carrier.faults.takeCallFault(record.to);
    if (fault) {
      await this.#faulted(call, fault.outcome, patienceMs);
      return;
    }
    const delay = this.#carrier.faults.takeAnswerDelay(record.to);
    try {
      if (delay > 0) await this.sleep(delay, call.ended.signal);
    } catch {
      return;
    }
    if (!record.url) {
      this.log(call, { type: "warning", code: 0, message: `${record.to} has no voice URL: the call fails` });
      this.end(call, "failed", 404);
      return;
    }
    await new Executor(this, call).run({
      kind: "fetch",
      url: record.url,
      method: record.method,
      purpose: "voice",
      fallback: record.fallbackUrl ? { url: record.fallbackUrl, method: record.fallbackMethod } : undefined,
    });
  }

  async #faulted(call: LiveCall, outcome: CallFaultOutcome, patienceMs: number): Promise<void> {
    this.log(call, { type: "warning", code: 0, message: `simulated fault: ${outcome}` });
    if (outcome === "no-answer") {
      try {
        await this.sleep(Math.min(patienceMs, call.record.timeoutSeconds * 1000), call.ended.signal);
      } catch {
        return;
      }
      this.end(call, "no-answer", 487);
      return;
    }
    await this.sleep(50).catch(() => undefined);
    if (outcome === "busy") this.end(call, "busy", 486);
    else this.end(call, "failed", 503);
  }

  /** Calls.json create: validates like Twilio, records the call queued, and starts dialling. */
  createOutbound(accountSid: string, input: OutboundCallInput): CallRecord {
    const { state } = this.#carrier;
    const to = input.to;
    const from = input.from;
    if (!to) throw restErrors.callToRequired();
    if (!from) throw restErrors.callFromRequired();
    if (!isE164(to)) throw restErrors.callInvalidTo(to);
    if (!isE164(from)) throw restErrors.callInvalidFrom(from);
    const sender = state.numberByPhone(from);
    if (!sender || sender.accountSid !== accountSid) throw restErrors.callFromNotVerified(from);
    if (!input.url && !input.twiml && !input.applicationSid) throw restErrors.callUrlRequired();
    if (!input.url && !input.twiml && input.applicationSid) throw restErrors.callApplicationNotFound(input.applicationSid);
    if (input.url && !URL_PATTERN.test(input.url)) throw restErrors.callInvalidUrl("Url", input.url);
    if (input.fallbackUrl && !URL_PATTERN.test(input.fallbackUrl)) {
      throw restErrors.callInvalidUrl("FallbackUrl", input.fallbackUrl);
    }
    if (input.statusCallback && !URL_PATTERN.test(input.statusCallback)) throw restErrors.invalidStatusCallback();
    const method = httpMethod(input.method, "Method");
    const fallbackMethod = httpMethod(input.fallbackMethod, "FallbackMethod");
    const statusCallbackMethod = httpMethod(input.statusCallbackMethod, "StatusCallbackMethod");
    let timeoutSeconds = 60;
    if (input.timeout !== undefined && input.timeout !== "") {
      const value = Number(input.timeout);
      if (!Number.isInteger(value) || value <= 0) throw restErrors.callInvalidTimeout();
      timeoutSeconds = Math.min(value, 600);
    }
    const events = input.statusCallbackEvents.flatMap((e) => e.split(/[\s,]+/)).filter((e) => e !== "");
    const statusCallbackEvents = CALL_EVENTS.filter((e) => events.includes(e));
    if (this.#carrier.closed) throw restErrors.unavailable();

    const record = this.#newRecord({
      accountSid,
      direction: "outbound-api",
      from,
      to,
      phoneNumberSid: sender.sid,
      status: "queued",
    });
    // Twiml is ignored when a Url is given (Twilio's Calls API reference).
    record.url = input.url || null;
    record.twiml = input.url ? null : (input.twiml ?? null);
    record.method = method;
    record.fallbackUrl = input.fallbackUrl || null;
    record.fallbackMethod = fallbackMethod;
    record.statusCallback = input.statusCallback || null;
    record.statusCallbackMethod = statusCallbackMethod;
    record.statusCallbackEvents = statusCallbackEvents.length > 0 ? statusCallbackEvents : ["completed"];
    record.timeoutSeconds = timeoutSeconds;
    record.history.push({ status: "queued", at: record.dateCreated, sequenceNumber: -1 });
    const line = this.line(to);
    const call = new LiveCall(record, line, "callee", DEFAULT_TONE, this.#onKey);
    this.#register(call);
    this.log(call, { type: "status", status: "queued" });
    void this.#runOutbound(call).catch((err: unknown) => this.#crashed(call, err));
    return record;
  }

  async #runOutbound(call: LiveCall): Promise<void> {
    const record = call.record;
    const outcome = await this.#dial(call);
    if (outcome !== "answered") return;
    const initial: Next = record.url
      ? {
          kind: "fetch",
          url: record.url,
          method: record.method,
          purpose: "voice",
          fallback: record.fallbackUrl ? { url: record.fallbackUrl, method: record.fallbackMethod } : undefined,
        }
      : { kind: "twiml", xml: record.twiml ?? "", baseUrl: null };
    await new Executor(this, call).run(initial);
  }

  /** A `<Dial><Number>` leg from `parent` to a handset. The caller watches `ringing` settle. */
  dialLeg(parent: LiveCall, to: string, options: DialLegOptions): { call: LiveCall; outcome: Promise<RingOutcome> } {
    const record = this.#newRecord({
      accountSid: parent.record.accountSid,
      direction: "outbound-dial",
      from: options.callerId,
      to,
      parentCallSid: parent.record.sid,
      phoneNumberSid: null,
      status: "queued",
    });
    record.statusCallback = options.statusCallback;
    record.statusCallbackMethod = options.statusCallbackMethod;
    record.statusCallbackEvents = options.statusCallbackEvents.length > 0 ? options.statusCallbackEvents : ["completed"];
    record.timeoutSeconds = options.timeoutSeconds;
    record.history.push({ status: "queued", at: record.dateCreated, sequenceNumber: -1 });
    const call = new LiveCall(record, this.line(to), "callee", DEFAULT_TONE, this.#onKey);
    this.#register(call);
    this.log(call, { type: "status", status: "queued" });
    return { call, outcome: this.#dial(call) };
  }

  /** Initiates an outbound leg and rings its handset; answers it if the handset picks up. */
  async #dial(call: LiveCall): Promise<RingOutcome> {
    const record = call.record;
    await this.sleep(0).catch(() => undefined);
    if (call.isEnded) return "canceled";
    record.startTime = this.now();
    this.#step(call, "initiated");
    try {
      await this.sleep(Math.min(this.#carrier.statusDelayMs, 100), call.ended.signal);
    } catch {
      return "canceled";
    }
    if (this.#carrier.state.numberByPhone(record.to)) {
      this.log(call, {
        type: "warning",
        code: 0,
        message: "calls from one simulated Twilio number to another are not simulated; the call fails",
      });
      this.end(call, "failed", 404);
      return "failed";
    }
    const fault = this.#carrier.faults.takeCallFault(record.to);
    const behaviour: AnswerBehaviour = fault ? faultBehaviour(fault.outcome) : call.party.line.behaviour;
    if (behaviour === "fail") {
      this.end(call, "failed", fault ? 503 : 404);
      return "failed";
    }
    const extraDelay = this.#carrier.faults.takeAnswerDelay(record.to);
    this.#step(call, "ringing");

    // The ring's outcome takes effect at once (an answer through the control API returns with
    // the call in progress); the caller of #dial learns it afterwards.
    return new Promise<RingOutcome>((resolve) => {
      const cancels: Array<() => void> = [];
      const ring: Ring = {
        settle: (outcome, sip = null, tone = DEFAULT_TONE) => {
          if (call.ring !== ring) return;
          call.ring = null;
          for (const cancel of cancels) cancel();
          if (outcome === "answered") {
            call.party.tone = tone;
            this.answer(call);
          } else if (outcome !== "canceled") {
            this.end(call, outcome, sip);
          }
          resolve(outcome);
        },
      };
      call.ring = ring;
      cancels.push(this.after(record.timeoutSeconds * 1000, () => ring.settle("no-answer", 487)));
      if (behaviour === "busy") cancels.push(this.after(100 + extraDelay, () => ring.settle("busy", 486)));
      else if (behaviour === "reject") cancels.push(this.after(300 + extraDelay, () => ring.settle("busy", 603)));
      else if (typeof behaviour === "object") {
        const after = Math.max(0, behaviour.after ?? DEFAULT_ANSWER.after) + extraDelay;
        const tone = behaviour.tone ?? DEFAULT_ANSWER.tone;
        cancels.push(this.after(after, () => ring.settle("answered", null, tone)));
      }
    });
  }

  /** A ringing handset picks up (manual answering). */
  answerRinging(call: LiveCall, tone?: number): void {
    if (!call.ring) throw new SimulatorError("sim-invalid-input", `call ${call.record.sid} is not ringing this handset`);
    call.ring.settle("answered", null, tone ?? DEFAULT_TONE);
  }

  /** A ringing handset declines: the caller gets busy (SIP 603 Decline). */
  rejectRinging(call: LiveCall): void {
    if (!call.ring) throw new SimulatorError("sim-invalid-input", `call ${call.record.sid} is not ringing this handset`);
    call.ring.settle("busy", 603);
  }

  /** The handset hangs up, declines, or gives up, whatever fits the call's state. */
  hangupByHandset(call: LiveCall): void {
    if (call.isEnded) return;
    if (call.ring) {
      this.rejectRinging(call);
      return;
    }
    const status = call.record.status;
    if (status === "in-progress") this.end(call, "completed", 200);
    else this.end(call, "canceled", 487);
  }

  /** The call is answered: it is in progress and its audio runs. */
  answer(call: LiveCall): void {
    if (call.isEnded || call.record.status === "in-progress") return;
    call.record.answeredAt = this.now();
    this.#step(call, "in-progress");
    call.stopAudio = this.ticker.add(() => call.tick());
  }

  /** Ends a call with a final status (idempotent). */
  end(call: LiveCall, status: CallStatus, sipResponseCode: number | null = null): void {
    if (call.isEnded) return;
    const record = call.record;
    record.endTime = this.now();
    record.sipResponseCode = sipResponseCode ?? (status === "completed" ? 200 : null);
    call.ring?.settle("canceled");
    call.stopAudio?.();
    call.stopAudio = null;
    call.output = undefined;
    call.party.dropKeys();
    const silent = record.status === "queued";
    this.#step(call, status, silent);
    call.ended.abort(new CallEnded(status));
    for (const stream of [...call.backgroundStreams]) stream.stop();
    this.live.delete(record.sid);
    this.#log?.debug({ callSid: record.sid, status }, "call ended");
  }

  /** Records a status step, sends its callback if subscribed, and wakes waiters. */
  #step(call: LiveCall, status: CallStatus, silent = false): void {
    const record = call.record;
    const at = this.now();
    record.status = status;
    record.dateUpdated = at;
    const sequenceNumber = record.events;
    record.events += 1;
    const step = { status, at, sequenceNumber } as CallRecord["history"][number];
    record.history.push(step);
    this.log(call, { type: "status", status });
    const event: CallEvent | undefined =
      status === "initiated"
        ? "initiated"
        : status === "ringing"
          ? "ringing"
          : status === "in-progress"
            ? "answered"
            : isTerminal(status)
              ? "completed"
              : undefined;
    // A queued call that is canceled never reaches the network: no callbacks (Twilio's docs).
    if (!silent && event && record.statusCallback && record.statusCallbackEvents.includes(event)) {
      const url = record.statusCallback;
      const method = record.statusCallbackMethod;
      const params = statusCallbackParams(record, status, {
        sequenceNumber,
        at,
        ...(isTerminal(status) ? { callDuration: callDuration(record) ?? 0, sipResponseCode: record.sipResponseCode } : {}),
      });
      call.callbacks = call.callbacks.then(async () => {
        step.callback = await this.request(call, "status-callback", url, method, params);
      });
    }
    for (const listener of [...call.statusListeners]) listener();
  }

  // ---- REST updates -------------------------------------------------------------------------

  /** `POST Calls/{Sid}.json`: hang up, cancel, redirect, or change the status callback. */
  update(record: CallRecord, form: Query): CallRecord {
    const status = first(form, "Status");
    const url = first(form, "Url");
    const twiml = first(form, "Twiml");
    const method = httpMethod(first(form, "Method"), "Method");
    const fallbackUrl = first(form, "FallbackUrl");
    const statusCallback = first(form, "StatusCallback");
    if (status !== undefined && status !== "completed" && status !== "canceled") throw restErrors.callInvalidStatus(status);
    if (url && !URL_PATTERN.test(url)) throw restErrors.callInvalidUrl("Url", url);
    if (fallbackUrl && !URL_PATTERN.test(fallbackUrl)) throw restErrors.callInvalidUrl("FallbackUrl", fallbackUrl);
    if (statusCallback && !URL_PATTERN.test(statusCallback)) throw restErrors.invalidStatusCallback();
    const statusCallbackMethod = first(form, "StatusCallbackMethod");
    const call = this.live.get(record.sid);
    if (!status && (url || twiml) && (!call || record.status !== "in-progress")) throw restErrors.callNotInProgress();

    if (statusCallback !== undefined) record.statusCallback = statusCallback || null;
    if (statusCallbackMethod) record.statusCallbackMethod = httpMethod(statusCallbackMethod, "StatusCallbackMethod");
    if (status && call) {
      const unanswered = ["queued", "initiated", "ringing"].includes(record.status);
      if (unanswered) this.end(call, "canceled", 487);
      else if (status === "completed" && record.status === "in-progress") this.end(call, "completed", 200);
    } else if (!status && call && (url || twiml)) {
      // Twiml and Url are mutually exclusive; like create, a Url wins.
      const next: Next = url
        ? {
            kind: "fetch",
            url,
            method,
            purpose: "redirect",
            fallback: fallbackUrl ? { url: fallbackUrl, method: "POST" } : undefined,
          }
        : { kind: "twiml", xml: twiml ?? "", baseUrl: null };
      if (url) {
        record.url = url;
        record.method = method;
      }
      this.redirect(call, next);
    }
    record.dateUpdated = this.now();
    return record;
  }

  /** Stops the running TwiML and runs `next` instead. */
  redirect(call: LiveCall, next: Next): void {
    call.pendingRedirect = next;
    call.doc?.abort(new Error("redirected"));
  }

  // ---- webhooks -----------------------------------------------------------------------------

  /** One signed request for a call, logged on the call. Never throws for network failures. */
  async request(
    call: LiveCall,
    purpose: CallWebhookPurpose,
    url: string,
    method: HttpMethod,
    params: WebhookParams,
  ): Promise<WebhookOutcome> {
    const outcome = await this.#carrier.sendWebhook(url, method, params, call.record.accountSid);
    this.log(call, {
      type: "webhook",
      purpose,
      url: outcome.url,
      method,
      status: outcome.status,
      ...(outcome.error ? { error: outcome.error } : {}),
    });
    return outcome;
  }

  /** The standard parameters of TwiML requests for this call, right now. */
  params(call: LiveCall): WebhookParams {
    return callParams(call.record);
  }

  #crashed(call: LiveCall, err: unknown): void {
    this.#log?.error({ err, callSid: call.record.sid }, "simulated call crashed");
    this.log(call, { type: "warning", code: 0, message: `simulator error: ${err instanceof Error ? err.message : String(err)}` });
    this.end(call, call.record.status === "in-progress" ? "completed" : "failed");
  }

  close(): void {
    for (const call of [...this.live.values()]) this.end(call, call.record.status === "in-progress" ? "completed" : "canceled");
    this.ticker.clear();
    for (const handle of this.#timers) this.#carrier.clock.clearTimeout(handle);
    this.#timers.clear();
    for (const line of this.lines.values()) line.listeners.clear();
  }
}

function faultBehaviour(outcome: CallFaultOutcome): AnswerBehaviour {
  if (outcome === "failed") return "fail";
  return outcome;
}

function httpMethod(value: string | undefined, param: string): HttpMethod {
  if (value === undefined || value === "") return "POST";
  const upper = value.toUpperCase();
  if (upper !== "GET" && upper !== "POST") throw restErrors.callInvalidMethod(param);
  return upper;
}
