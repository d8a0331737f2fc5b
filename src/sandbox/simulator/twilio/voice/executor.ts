import { decodeWav } from "../../../../media/audio/wav.js";
import { concat, PHONE_RATE, ringback, silence } from "../../../../media/audio/tones.js";
import { rfc2822 } from "../resources.js";
import { makeSid, type HttpMethod, type WebhookOutcome } from "../state.js";
import { WEBHOOK_TIMEOUT_MS, type WebhookParams } from "../webhooks.js";
import { isE164 } from "../numbers.js";
import { beepAudio, isSilent, keyAudio, PcmReader, sayAudio } from "./audio.js";
import { MediaStreamSession, type StreamTrack } from "./media-stream.js";
import type { LiveCall, RingOutcome, VoiceNetwork } from "./network.js";
import type { CallEvent, CallStatus, CallWebhookPurpose, RecordingRecord } from "./records.js";
import { callDuration, recordingPath } from "./resources.js";
import { deepTextOf, parseTwiml, textOf, type TwimlElement } from "./twiml.js";

/**
 * Runs a call's TwiML the way Twilio does: fetch (signed, standard parameters), parse, run the
 * verbs in order, follow `action`s and `<Redirect>`s, and hang up when a document runs out.
 * What it does not know it logs and skips (Twilio would raise warning 12200 and carry on).
 */

/** What to run next: TwiML to fetch, or TwiML given inline (`Twiml=`, `update({ twiml })`). */
export type Next =
  | {
      kind: "fetch";
      url: string;
      method: HttpMethod;
      purpose: CallWebhookPurpose;
      /** Parameters added to the standard ones (`Digits`, `RecordingUrl`, `DialCallStatus`...). */
      extra?: WebhookParams;
      fallback?: { url: string; method: HttpMethod } | undefined;
    }
  | { kind: "twiml"; xml: string; baseUrl: string | null };

/** The document being run: where it came from (for relative URLs and default actions). */
interface Doc {
  signal: AbortSignal;
  url: string | null;
  method: HttpMethod;
}

type VerbResult = undefined | "hangup" | Next;

const APPLICATION_ERROR = "We are sorry, an application error has occurred. Goodbye.";
const TWIML_CONTENT_TYPES = ["text/xml", "application/xml", "text/html"];
const NESTED_IN_GATHER = new Set(["Say", "Play", "Pause"]);

export class Executor {
  readonly #net: VoiceNetwork;
  readonly #call: LiveCall;

  constructor(net: VoiceNetwork, call: LiveCall) {
    this.#net = net;
    this.#call = call;
  }

  /** Runs `initial` and whatever it leads to, until the TwiML runs out or the call ends. */
  async run(initial: Next): Promise<void> {
    const call = this.#call;
    let next: Next | null = initial;
    while (next && !call.isEnded) {
      const controller = new AbortController();
      call.doc = controller;
      const doc = AbortSignal.any([call.ended.signal, controller.signal]);
      try {
        next = await this.#document(next, doc);
      } catch (err) {
        if (call.isEnded) break;
        if (!controller.signal.aborted) throw err;
        next = null;
      }
      if (call.pendingRedirect && !call.isEnded) {
        next = call.pendingRedirect;
        call.pendingRedirect = null;
      }
    }
    call.doc = null;
    // A document that runs out hangs up the call (answered first: only <Reject> leaves it unanswered).
    if (!call.isEnded) {
      this.#answer();
      this.#net.end(call, "completed", 200);
    }
  }

  async #document(next: Next, signal: AbortSignal): Promise<Next | null> {
    let xml: string;
    let url: string | null;
    let method: HttpMethod = "POST";
    if (next.kind === "twiml") {
      xml = next.xml;
      url = next.baseUrl;
    } else {
      const fetched = await this.#fetch(next, signal);
      if (!fetched) return this.#applicationError(signal);
      xml = fetched.body;
      url = next.url;
      method = next.method;
    }
    let root: TwimlElement;
    try {
      root = parseTwiml(xml);
    } catch (err) {
      this.#warn(12100, `Document parse failure: ${err instanceof Error ? err.message : String(err)}`);
      return this.#applicationError(signal);
    }
    if (root.name !== "Response") {
      this.#warn(12100, `Document parse failure: the root element is <${root.name}>, not <Response>`);
      return this.#applicationError(signal);
    }
    const doc: Doc = { signal, url, method };
    for (const verb of root.children) {
      signal.throwIfAborted();
      const result = await this.#verb(verb, doc);
      if (result === "hangup") return null;
      if (result) return result;
    }
    return null;
  }

  /** Requests TwiML; on a failure tries the fallback URL; undefined if nothing usable came. */
  async #fetch(next: Extract<Next, { kind: "fetch" }>, signal: AbortSignal): Promise<WebhookOutcome | undefined> {
    const request = async (url: string, method: HttpMethod, purpose: CallWebhookPurpose): Promise<WebhookOutcome> =>
      this.#net.request(this.#call, purpose, url, method, { ...this.#net.params(this.#call), ...(next.extra ?? {}) });
    let outcome = await request(next.url, next.method, next.purpose);
    signal.throwIfAborted();
    let problem = twimlProblem(outcome);
    if (problem && next.fallback) {
      this.#warn(problem.code, problem.message);
      outcome = await request(next.fallback.url, next.fallback.method, "fallback");
      signal.throwIfAborted();
      problem = twimlProblem(outcome);
    }
    if (problem) {
      this.#warn(problem.code, problem.message);
      return undefined;
    }
    return outcome;
  }

  /** Twilio's "application error" announcement, then hang up. */
  async #applicationError(signal: AbortSignal): Promise<null> {
    this.#answer();
    this.#net.log(this.#call, { type: "say", text: APPLICATION_ERROR, source: "twilio" });
    await this.#play(sayAudio(APPLICATION_ERROR), signal);
    return null;
  }

  #warn(code: number, message: string): void {
    this.#net.log(this.#call, { type: "warning", code, message });
  }

  #skip(verb: string, reason: string): void {
    this.#net.log(this.#call, { type: "skipped", verb, reason });
  }

  /** Twilio answers an inbound call as soon as it runs any verb but `<Reject>`. */
  #answer(): void {
    if (this.#call.record.status === "ringing") this.#net.answer(this.#call);
  }

  /** An absolute URL for `value` relative to the document's URL; undefined (logged) if none. */
  #resolve(value: string | undefined, doc: Doc, attribute: string): string | undefined {
    if (value === undefined || value.trim() === "") return undefined;
    try {
      const url = doc.url ? new URL(value.trim(), doc.url) : new URL(value.trim());
      return url.toString();
    } catch {
      this.#warn(
        11100,
        `Invalid URL in ${attribute}: ${value}` +
          (doc.url ? "" : " (TwiML given inline needs absolute URLs)"),
      );
      return undefined;
    }
  }

  async #verb(element: TwimlElement, doc: Doc): Promise<VerbResult> {
    if (element.name !== "Reject") this.#answer();
    this.#net.log(this.#call, { type: "verb", verb: element.name, attributes: { ...element.attributes } });
    switch (element.name) {
      case "Say":
        await this.#say(element, doc.signal);
        return undefined;
      case "Play":
        await this.#playVerb(element, doc);
        return undefined;
      case "Pause":
        await this.#pause(element, doc.signal);
        return undefined;
      case "Hangup":
        return "hangup";
      case "Reject":
        return this.#reject(element);
      case "Redirect": {
        const url = this.#resolve(textOf(element), doc, "<Redirect>");
        if (!url) return undefined;
        return { kind: "fetch", url, method: method(element.attributes["method"]), purpose: "redirect" };
      }
      case "Connect":
        return this.#connect(element, doc);
      case "Start":
        this.#start(element, doc);
        return undefined;
      case "Stop":
        this.#stop(element);
        return undefined;
      case "Record":
        return this.#record(element, doc);
      case "Gather":
        return this.#gather(element, doc);
      case "Dial":
        return this.#dial(element, doc);
      default:
        this.#warn(12200, `Schema validation warning: <${element.name}> is not a verb the simulator runs`);
        this.#skip(element.name, "not simulated");
        return undefined;
    }
  }

  // ---- audio out ----------------------------------------------------------------------------

  /** Plays PCM to the handset at real time; resolves when the last frame went out. */
  #play(pcm: Int16Array, signal: AbortSignal): Promise<void> {
    const call = this.#call;
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason as Error);
      const reader = new PcmReader(pcm);
      const cleanup = (): void => {
        if (call.output === output) call.output = undefined;
        signal.removeEventListener("abort", onAbort);
      };
      const output = (): Int16Array | undefined => {
        if (reader.done) {
          cleanup();
          resolve();
          return undefined;
        }
        const frame = reader.next();
        if (reader.done) {
          cleanup();
          resolve();
        }
        return frame;
      };
      const onAbort = (): void => {
        cleanup();
        reject(signal.reason as Error);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      if (pcm.length === 0) {
        cleanup();
        resolve();
        return;
      }
      call.output = output;
    });
  }

  async #say(element: TwimlElement, signal: AbortSignal): Promise<void> {
    const text = deepTextOf(element);
    this.#net.log(this.#call, { type: "say", text, source: "twiml" });
    const audio = sayAudio(text);
    for (let i = 0; i < loops(element); i++) await this.#play(audio, signal);
  }

  async #pause(element: TwimlElement, signal: AbortSignal): Promise<void> {
    const seconds = integer(element.attributes["length"], 1);
    if (seconds > 0) await this.#play(silence(seconds * 1000), signal);
  }

  async #playVerb(element: TwimlElement, doc: Doc): Promise<void> {
    const digits = element.attributes["digits"];
    let audio: Int16Array | undefined;
    if (digits !== undefined) {
      audio = concat([...digits].map((d) => (d === "w" ? silence(500) : d === "W" ? silence(1000) : keyAudio(d))));
    } else {
      const url = this.#resolve(textOf(element), doc, "<Play>");
      if (!url) return;
      audio = await this.#fetchAudio(url, doc.signal);
    }
    if (!audio) return;
    for (let i = 0; i < loops(element); i++) await this.#play(audio, doc.signal);
  }

  /** Fetches a `<Play>` file; only 16-bit PCM WAV is understood (resampled to 8 kHz). */
  async #fetchAudio(url: string, signal: AbortSignal): Promise<Int16Array | undefined> {
    try {
      const response = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(WEBHOOK_TIMEOUT_MS)]) });
      const data = Buffer.from(await response.arrayBuffer());
      if (!response.ok) {
        this.#warn(11200, `HTTP retrieval failure: ${url} answered ${response.status}`);
        return undefined;
      }
      const { samples, rate } = decodeWav(data);
      return rate === PHONE_RATE ? samples : resample(samples, rate, PHONE_RATE);
    } catch (err) {
      signal.throwIfAborted();
      this.#warn(13420, `Play: the simulator plays only 16-bit PCM WAV files (${err instanceof Error ? err.message : String(err)})`);
      this.#skip("Play", "unplayable audio");
      return undefined;
    }
  }

  #reject(element: TwimlElement): VerbResult {
    const reason = element.attributes["reason"] === "busy" ? "busy" : "rejected";
    if (this.#call.record.status === "ringing") {
      // Twilio: the call "ends with a status of busy or no-answer, depending on the reason".
      this.#net.end(this.#call, reason === "busy" ? "busy" : "no-answer", reason === "busy" ? 486 : 603);
    }
    return "hangup";
  }

  // ---- streams ------------------------------------------------------------------------------

  #streamSession(element: TwimlElement, doc: Doc, bidirectional: boolean): MediaStreamSession | undefined {
    const attributes = element.attributes;
    const url = attributes["url"]?.trim();
    if (!url || !/^wss?:\/\/[^\s/?#]+/i.test(url)) {
      this.#warn(31920, `Stream - WebSocket - Handshake Error: <Stream url> must be an absolute wss:// URL, not ${JSON.stringify(url ?? "")}`);
      return undefined;
    }
    const trackValue = attributes["track"] ?? "inbound_track";
    let track: StreamTrack = "inbound_track";
    if (trackValue === "outbound_track" || trackValue === "both_tracks") {
      // <Connect><Stream> only ever receives the inbound track (Twilio's <Stream> docs).
      if (bidirectional) this.#warn(0, `<Connect><Stream> supports only inbound_track, not ${trackValue}`);
      else track = trackValue;
    }
    const parameters: Record<string, string> = {};
    for (const child of element.children) {
      if (child.name !== "Parameter") {
        this.#skip(child.name, "not a noun of <Stream>");
        continue;
      }
      const name = child.attributes["name"];
      if (name !== undefined) parameters[name] = child.attributes["value"] ?? "";
    }
    return new MediaStreamSession(this.#net, this.#call, {
      url,
      name: attributes["name"],
      track,
      statusCallback: this.#resolve(attributes["statusCallback"], doc, "<Stream statusCallback>"),
      statusCallbackMethod: method(attributes["statusCallbackMethod"]),
      parameters,
      bidirectional,
    });
  }

  async #connect(element: TwimlElement, doc: Doc): Promise<VerbResult> {
    let session: MediaStreamSession | undefined;
    for (const child of element.children) {
      if (child.name === "Stream" && !session) session = this.#streamSession(child, doc, true);
      else this.#skip(child.name, child.name === "Stream" ? "only one <Stream> per <Connect>" : "not simulated in <Connect>");
    }
    if (session) {
      const opened = await session.open();
      if (opened) {
        const ended = await Promise.race([
          session.finished,
          new Promise<"aborted">((resolve) => {
            if (doc.signal.aborted) resolve("aborted");
            else doc.signal.addEventListener("abort", () => resolve("aborted"), { once: true });
          }),
        ]);
        if (ended === "aborted") {
          session.stop();
          doc.signal.throwIfAborted();
        }
      }
    }
    doc.signal.throwIfAborted();
    // After the server closes the socket, Twilio continues: the action URL, else the next verb.
    const action = this.#resolve(element.attributes["action"], doc, "<Connect action>");
    if (action) return { kind: "fetch", url: action, method: method(element.attributes["method"]), purpose: "action" };
    return undefined;
  }

  #start(element: TwimlElement, doc: Doc): void {
    for (const child of element.children) {
      if (child.name !== "Stream") {
        this.#skip(child.name, "not simulated in <Start>");
        continue;
      }
      const session = this.#streamSession(child, doc, false);
      if (!session) continue;
      const entry = { name: child.attributes["name"], stop: () => session.stop() };
      this.#call.backgroundStreams.add(entry);
      void session.finished.then(() => this.#call.backgroundStreams.delete(entry));
      // Twilio moves on to the next verb at once; the stream connects meanwhile.
      void session.open().then((opened) => {
        if (opened && this.#call.isEnded) session.stop();
      });
    }
  }

  #stop(element: TwimlElement): void {
    for (const child of element.children) {
      if (child.name !== "Stream") {
        this.#skip(child.name, "not simulated in <Stop>");
        continue;
      }
      const name = child.attributes["name"];
      for (const stream of [...this.#call.backgroundStreams]) {
        if (name === undefined || stream.name === name) stream.stop();
      }
    }
  }

  // ---- input --------------------------------------------------------------------------------

  async #record(element: TwimlElement, doc: Doc): Promise<VerbResult> {
    const call = this.#call;
    const attributes = element.attributes;
    const timeout = integer(attributes["timeout"], 5);
    const finishOnKey = attributes["finishOnKey"] ?? "1234567890*#";
    const maxLength = integer(attributes["maxLength"], 3600);
    const trim = (attributes["trim"] ?? "trim-silence") !== "do-not-trim";
    if (attributes["playBeep"] !== "false") await this.#play(beepAudio(), doc.signal);
    if (attributes["transcribe"] === "true") this.#skip("Record", "transcription is not simulated");

    const startTime = this.#net.now();
    const frames: Int16Array[] = [];
    let digits: string | null = null;
    await new Promise<void>((resolve) => {
      let silentFrames = 0;
      const finish = (): void => {
        call.inputs.delete(onFrame);
        call.keyListeners.delete(onKey);
        doc.signal.removeEventListener("abort", onAbort);
        resolve();
      };
      const onFrame = (frame: Int16Array): void => {
        frames.push(frame);
        silentFrames = isSilent(frame) ? silentFrames + 1 : 0;
        if (timeout > 0 && silentFrames * 20 >= timeout * 1000) finish();
        else if (frames.length * 20 >= maxLength * 1000) finish();
      };
      const onKey = (digit: string): void => {
        if (!finishOnKey.includes(digit)) return;
        digits = digit;
        finish();
      };
      const onAbort = (): void => {
        if (call.isEnded) digits = "hangup";
        finish();
      };
      if (doc.signal.aborted) return onAbort();
      call.inputs.add(onFrame);
      call.keyListeners.add(onKey);
      doc.signal.addEventListener("abort", onAbort, { once: true });
    });
    // A redirect discards the recording in progress.
    if (doc.signal.aborted && !call.isEnded) doc.signal.throwIfAborted();

    let kept = frames;
    if (trim) {
      const firstSound = kept.findIndex((f) => !isSilent(f));
      const lastSound = kept.length - 1 - [...kept].reverse().findIndex((f) => !isSilent(f));
      kept = firstSound < 0 ? [] : kept.slice(firstSound, lastSound + 1);
    }
    const samples = concat(kept);
    if (samples.length === 0) {
      // Nothing recorded: Twilio makes no action request and goes on with the next verb.
      this.#skip("Record", "the recording was empty");
      doc.signal.throwIfAborted();
      return undefined;
    }
    const record = call.record;
    const recording: RecordingRecord = {
      sid: makeSid("RE"),
      accountSid: record.accountSid,
      callSid: record.sid,
      source: "RecordVerb",
      status: "completed",
      channels: 1,
      dateCreated: this.#net.now(),
      startTime,
      duration: Math.max(1, Math.round(samples.length / PHONE_RATE)),
      samples,
    };
    this.#net.carrier.state.recordings.set(recording.sid, recording);
    record.recordingSids.push(recording.sid);
    this.#net.log(call, { type: "recording", recordingSid: recording.sid, duration: recording.duration, digits });
    const recordingUrl = `${this.#net.carrier.publicUrl}${recordingPath(recording)}`;
    const extra: WebhookParams = {
      RecordingUrl: recordingUrl,
      RecordingDuration: String(recording.duration),
      RecordingSid: recording.sid,
    };
    if (digits !== null) extra["Digits"] = digits;

    const statusCallback = this.#resolve(attributes["recordingStatusCallback"], doc, "<Record recordingStatusCallback>");
    const events = (attributes["recordingStatusCallbackEvent"] ?? "completed").split(/[\s,]+/);
    if (statusCallback && events.includes("completed")) {
      const params: WebhookParams = {
        RecordingSource: "RecordVerb",
        RecordingTrack: "inbound",
        RecordingSid: recording.sid,
        RecordingUrl: recordingUrl,
        RecordingStatus: "completed",
        RecordingChannels: "1",
        ErrorCode: "0",
        CallSid: record.sid,
        RecordingStartTime: rfc2822(recording.startTime),
        AccountSid: record.accountSid,
        RecordingDuration: String(recording.duration),
      };
      const callbackMethod = method(attributes["recordingStatusCallbackMethod"]);
      // The file is ready a moment after the action request.
      this.#net.after(50, () => {
        void this.#net.request(call, "recording-status-callback", statusCallback, callbackMethod, params);
      });
    }

    // Without an action, <Record> requests the current document's URL again.
    const action = this.#resolve(attributes["action"], doc, "<Record action>") ?? doc.url ?? undefined;
    const actionMethod = method(attributes["method"]);
    if (call.isEnded) {
      // The caller hung up: Twilio still requests the action URL (Digits=hangup), ignoring its TwiML.
      if (action) await this.#net.request(call, "action", action, actionMethod, { ...this.#net.params(call), ...extra });
      doc.signal.throwIfAborted();
    }
    if (!action) return undefined;
    return { kind: "fetch", url: action, method: actionMethod, purpose: "action", extra };
  }

  async #gather(element: TwimlElement, doc: Doc): Promise<VerbResult> {
    const call = this.#call;
    const attributes = element.attributes;
    const input = attributes["input"] ?? "dtmf";
    if (!input.split(/\s+/).includes("dtmf")) {
      this.#skip("Gather", `input="${input}": speech recognition is not simulated`);
    }
    const numDigits = attributes["numDigits"] ? integer(attributes["numDigits"], 0) || Infinity : Infinity;
    const finishOnKey = attributes["finishOnKey"] ?? "#";
    const timeout = integer(attributes["timeout"], 5);
    let digits = "";
    let finishedOnKey = "";
    const interrupted = new AbortController();
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    let cancelTimer = (): void => undefined;
    const armTimer = (): void => {
      cancelTimer();
      cancelTimer = this.#net.after(timeout * 1000, done);
    };
    const onKey = (digit: string): void => {
      interrupted.abort();
      if (finishOnKey !== "" && finishOnKey.includes(digit)) {
        finishedOnKey = digit;
        done();
        return;
      }
      digits += digit;
      if (digits.length >= numDigits) done();
      else armTimer();
    };
    call.keyListeners.add(onKey);
    try {
      const promptSignal = AbortSignal.any([doc.signal, interrupted.signal]);
      for (const child of element.children) {
        if (!NESTED_IN_GATHER.has(child.name)) {
          this.#skip(child.name, "not allowed in <Gather>");
          continue;
        }
        if (interrupted.signal.aborted) break;
        this.#net.log(call, { type: "verb", verb: child.name, attributes: { ...child.attributes } });
        try {
          if (child.name === "Say") await this.#say(child, promptSignal);
          else if (child.name === "Play") await this.#playVerb(child, { ...doc, signal: promptSignal });
          else await this.#pause(child, promptSignal);
        } catch (err) {
          doc.signal.throwIfAborted();
          if (!interrupted.signal.aborted) throw err;
          break;
        }
      }
      if (!interrupted.signal.aborted) armTimer();
      await Promise.race([
        finished,
        new Promise<never>((_, reject) => {
          if (doc.signal.aborted) reject(doc.signal.reason as Error);
          doc.signal.addEventListener("abort", () => reject(doc.signal.reason as Error), { once: true });
        }),
      ]);
    } finally {
      call.keyListeners.delete(onKey);
      cancelTimer();
    }
    if (digits === "" && attributes["actionOnEmptyResult"] !== "true") return undefined;
    const action = this.#resolve(attributes["action"], doc, "<Gather action>") ?? doc.url ?? undefined;
    if (!action) return undefined;
    const actionMethod = method(attributes["method"]);
    return {
      kind: "fetch",
      url: action,
      method: actionMethod,
      purpose: "action",
      extra: { Digits: digits, FinishedOnKey: finishedOnKey },
    };
  }

  // ---- dial ---------------------------------------------------------------------------------

  async #dial(element: TwimlElement, doc: Doc): Promise<VerbResult> {
    const call = this.#call;
    const attributes = element.attributes;
    const timeoutSeconds = Math.min(Math.max(integer(attributes["timeout"], 30), 1), 600);
    const timeLimit = integer(attributes["timeLimit"], 14400);
    const callerId = attributes["callerId"] || call.record.from;
    for (const unsupported of ["record", "answerOnBridge", "ringTone", "sequential"]) {
      if (attributes[unsupported] !== undefined) this.#skip("Dial", `attribute ${unsupported} is not simulated`);
    }

    const targets: Array<{ number: string; attributes: Record<string, string> }> = [];
    for (const child of element.children) {
      if (child.name === "Number") targets.push({ number: textOf(child), attributes: child.attributes });
      else this.#skip(child.name, `<Dial><${child.name}> is not simulated`);
    }
    if (element.children.length === 0 && textOf(element) !== "") targets.push({ number: textOf(element), attributes: {} });

    const legs: Array<{ call: LiveCall; outcome: Promise<RingOutcome> }> = [];
    for (const target of targets) {
      if (!isE164(target.number)) {
        this.#warn(13223, `Dial: Invalid phone number format: ${target.number}`);
        continue;
      }
      if (target.attributes["url"]) this.#skip("Number", "whisper url is not simulated");
      if (target.attributes["sendDigits"]) this.#skip("Number", "sendDigits is not simulated");
      const events = (target.attributes["statusCallbackEvent"] ?? "completed")
        .split(/[\s,]+/)
        .filter((e): e is CallEvent => ["initiated", "ringing", "answered", "completed"].includes(e));
      legs.push(
        this.#net.dialLeg(call, target.number, {
          callerId,
          timeoutSeconds,
          statusCallback: this.#resolve(target.attributes["statusCallback"], doc, "<Number statusCallback>") ?? null,
          statusCallbackMethod: method(target.attributes["statusCallbackMethod"]),
          statusCallbackEvents: events,
        }),
      );
    }

    let dialStatus: CallStatus = "failed";
    let winner: LiveCall | undefined;
    if (legs.length > 0) {
      // The caller hears ringback while the dialled phones ring.
      let ringbackAt = 0;
      const ringbackOutput = (): Int16Array => {
        const frame = ringback(20, ringbackAt);
        ringbackAt += 20;
        return frame;
      };
      call.output = ringbackOutput;
      try {
        const result = await firstAnswered(legs, doc.signal);
        dialStatus = result.status;
        winner = result.winner;
      } finally {
        if (call.output === ringbackOutput) call.output = undefined;
        for (const leg of legs) if (leg.call !== winner) this.#net.end(leg.call, "canceled", 487);
      }
    }

    if (winner) {
      await this.#bridge(winner, doc.signal, timeLimit, attributes["hangupOnStar"] === "true");
      dialStatus = "completed";
    } else if (call.isEnded) {
      dialStatus = "canceled";
    }
    const dialed = winner ?? legs[0]?.call;
    if (dialed) this.#net.log(call, { type: "dial", callSid: dialed.record.sid, to: dialed.record.to, dialCallStatus: dialStatus });

    const extra: WebhookParams = { DialCallStatus: dialStatus };
    if (dialed) extra["DialCallSid"] = dialed.record.sid;
    if (winner) extra["DialCallDuration"] = String(callDuration(winner.record) ?? 0);
    extra["DialBridged"] = winner ? "true" : "false";
    const action = this.#resolve(attributes["action"], doc, "<Dial action>");
    const actionMethod = method(attributes["method"]);
    if (call.isEnded) {
      // The caller hung up: the action URL still hears how the dial ended; its TwiML is ignored.
      if (action) await this.#net.request(call, "action", action, actionMethod, { ...this.#net.params(call), ...extra });
      doc.signal.throwIfAborted();
    }
    doc.signal.throwIfAborted();
    if (!action) return undefined;
    return { kind: "fetch", url: action, method: actionMethod, purpose: "action", extra };
  }

  /** Connects the caller and the answered leg until one hangs up (or the time limit, or `*`). */
  async #bridge(leg: LiveCall, signal: AbortSignal, timeLimitSeconds: number, hangupOnStar: boolean): Promise<void> {
    const call = this.#call;
    const toLeg: Int16Array[] = [];
    const toCaller: Int16Array[] = [];
    const push = (queue: Int16Array[]) => (frame: Int16Array) => {
      queue.push(frame);
      if (queue.length > 5) queue.shift();
    };
    const fromCaller = push(toLeg);
    const fromLeg = push(toCaller);
    const callerOutput = (): Int16Array | undefined => toCaller.shift();
    const legOutput = (): Int16Array | undefined => toLeg.shift();
    call.inputs.add(fromCaller);
    leg.inputs.add(fromLeg);
    call.output = callerOutput;
    leg.output = legOutput;
    let cancelLimit = (): void => undefined;
    let onStar: ((digit: string) => void) | undefined;
    try {
      await new Promise<void>((resolve) => {
        if (leg.isEnded || signal.aborted) return resolve();
        leg.ended.signal.addEventListener("abort", () => resolve(), { once: true });
        signal.addEventListener("abort", () => resolve(), { once: true });
        cancelLimit = this.#net.after(timeLimitSeconds * 1000, resolve);
        if (hangupOnStar) {
          onStar = (digit) => {
            if (digit === "*") resolve();
          };
          call.keyListeners.add(onStar);
        }
      });
    } finally {
      cancelLimit();
      if (onStar) call.keyListeners.delete(onStar);
      call.inputs.delete(fromCaller);
      leg.inputs.delete(fromLeg);
      if (call.output === callerOutput) call.output = undefined;
      if (leg.output === legOutput) leg.output = undefined;
      this.#net.end(leg, "completed", 200);
    }
  }
}

/** The first leg to answer; otherwise how the attempt ended (`no-answer` > `busy` > `failed`). */
async function firstAnswered(
  legs: Array<{ call: LiveCall; outcome: Promise<RingOutcome> }>,
  signal: AbortSignal,
): Promise<{ status: CallStatus; winner?: LiveCall }> {
  return new Promise((resolve) => {
    const outcomes: RingOutcome[] = [];
    const onAbort = (): void => resolve({ status: "canceled" });
    signal.addEventListener("abort", onAbort, { once: true });
    for (const leg of legs) {
      void leg.outcome.then((outcome) => {
        if (signal.aborted) return;
        if (outcome === "answered") {
          signal.removeEventListener("abort", onAbort);
          resolve({ status: "in-progress", winner: leg.call });
          return;
        }
        outcomes.push(outcome);
        if (outcomes.length < legs.length) return;
        signal.removeEventListener("abort", onAbort);
        const status: CallStatus = outcomes.includes("no-answer")
          ? "no-answer"
          : outcomes.includes("busy")
            ? "busy"
            : outcomes.includes("canceled")
              ? "canceled"
              : "failed";
        resolve({ status });
      });
    }
  });
}

/** Why an HTTP outcome cannot be run as TwiML, with Twilio's error code; undefined if it can. */
function twimlProblem(outcome: WebhookOutcome): { code: number; message: string } | undefined {
  if (outcome.status === 0) return { code: 11205, message: `HTTP connection failure: ${outcome.error ?? "no response"}` };
  if (outcome.status < 200 || outcome.status >= 300) {
    return { code: 11200, message: `HTTP retrieval failure: ${outcome.url} answered ${outcome.status}` };
  }
  const type = outcome.contentType?.split(";")[0]?.trim().toLowerCase();
  if (type && !TWIML_CONTENT_TYPES.includes(type)) {
    return { code: 12300, message: `Invalid Content-Type: ${type}` };
  }
  if (outcome.body.trim() === "") return { code: 12100, message: "Document parse failure: empty response" };
  return undefined;
}

function method(value: string | undefined): HttpMethod {
  return value?.toUpperCase() === "GET" ? "GET" : "POST";
}

function integer(value: string | undefined, fallback: number): number {
  if (value === undefined || value.trim() === "") return fallback;
  const parsed = Number(value);
  return Number.isFinite(parsed) && parsed >= 0 ? Math.floor(parsed) : fallback;
}

/** `loop`: default 1; 0 means "until the call ends" (bounded here). */
function loops(element: TwimlElement): number {
  const count = integer(element.attributes["loop"], 1);
  return count === 0 ? 1000 : count;
}

/** Linear resampling, enough for `<Play>` of WAV files at other rates. */
function resample(samples: Int16Array, from: number, to: number): Int16Array {
  const out = new Int16Array(Math.floor((samples.length * to) / from));
  for (let i = 0; i < out.length; i++) {
    const position = (i * from) / to;
    const index = Math.floor(position);
    const fraction = position - index;
    const a = samples[index] ?? 0;
    const b = samples[index + 1] ?? a;
    out[i] = Math.round(a + (b - a) * fraction);
  }
  return out;
}
