import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Clock } from "../../clock.js";
import type { CallFault, CallFaultOutcome, DeliveryFault, RestFault } from "./twilio/faults.js";
import type { IncomingPhoneNumberResource } from "./twilio/resources.js";
import type {
  HttpMethod,
  MessageDirection,
  MessageStatus,
  StatusStep,
  WebhookOutcome,
} from "./twilio/state.js";
import type { WebhookParams } from "./twilio/webhooks.js";
import type { AnswerBehaviour } from "./twilio/voice/network.js";
import type {
  CallDirection,
  CallEvent,
  CallLogEntry,
  CallStatus,
  CallStatusStep,
  CallWebhookPurpose,
} from "./twilio/voice/records.js";

export type {
  AnswerBehaviour,
  CallDirection,
  CallEvent,
  CallFault,
  CallFaultOutcome,
  CallLogEntry,
  CallStatus,
  CallStatusStep,
  CallWebhookPurpose,
  DeliveryFault,
  HttpMethod,
  IncomingPhoneNumberResource,
  MessageDirection,
  MessageStatus,
  RestFault,
  StatusStep,
  WebhookOutcome,
  WebhookParams,
};

/**
 * The carrier simulator's programmatic contract: a loopback server that behaves like Twilio on
 * the wire (REST 2010-04-01 messaging and voice, signed webhooks, media, TwiML, Media Streams),
 * plus handles for tests and demos to play the phones on the other end and to inject failure.
 */

export interface SimulatorAppOptions {
  /**
   * Base URL the simulator puts in the links it hands out (inbound `MediaUrl{N}`). Defaults to
   * the listening address; set it when clients reach the simulator through another address.
   */
  publicUrl?: string;
  /** Delay between outbound status steps (queued → sent → delivered). Default 50 ms. */
  statusDelayMs?: number;
  /** Receives the simulator's logs. Auth tokens and message bodies are never logged. */
  logger?: Logger;
  /** Time source for resource dates, status delays, latency and waits. Default: the system clock. */
  clock?: Clock;
}

export interface SimulatorOptions extends SimulatorAppOptions {
  /** Interface to listen on. Default 127.0.0.1; the simulator is meant for loopback only. */
  host?: string;
  /** Port to listen on. Default 0, any free port. */
  port?: number;
}

export interface NewAccountOptions {
  /** `AC` + 32 hex digits; a random one if omitted. */
  sid?: string;
  /** A random 32-hex-digit token if omitted. */
  authToken?: string;
  /** Default "20.00". */
  balance?: string;
  /** Default "USD". */
  currency?: string;
  friendlyName?: string;
}

export interface AccountCredentials {
  sid: string;
  authToken: string;
}

export interface NumberOptions {
  smsUrl?: string;
  /** Default POST. */
  smsMethod?: HttpMethod;
  /** Where an incoming call's TwiML comes from. Without one, calls to the number fail. */
  voiceUrl?: string;
  /** Default POST. */
  voiceMethod?: HttpMethod;
  /** Requested when the voice URL fails (HTTP error, no response, unusable TwiML). */
  voiceFallbackUrl?: string;
  /** Gets the `completed` status callback of every incoming call. */
  statusCallback?: string;
  /** Default POST. */
  statusCallbackMethod?: HttpMethod;
  smsApplicationSid?: string;
  voiceApplicationSid?: string;
  trunkSid?: string;
  /** Default: the national format for +1 numbers ("(555) 000-1111"), else the number itself. */
  friendlyName?: string;
}

/** A media file as a phone sends or receives it. */
export interface MediaAttachment {
  contentType: string;
  data: Buffer;
}

export interface SimMedia extends MediaAttachment {
  /** `ME…` */
  sid: string;
}

/** A message as the simulator recorded it, with every status it went through. */
export interface SimMessage {
  /** `SM…`, or `MM…` when it carries media. */
  sid: string;
  accountSid: string;
  direction: MessageDirection;
  from: string;
  to: string;
  body: string;
  status: MessageStatus;
  errorCode: number | null;
  errorMessage: string | null;
  numSegments: number;
  /** Media URLs given on create (outbound only). */
  mediaUrls: string[];
  /** Media bytes: fetched from `mediaUrls` (outbound) or sent by the handset (inbound). */
  media: SimMedia[];
  statusCallback: string | null;
  dateCreated: Date;
  dateSent: Date | null;
  /** Status steps in order, each with the status callback sent for it (if any). */
  history: StatusStep[];
  /** Inbound only: the request made to the number's sms_url, once it completed. */
  webhook?: WebhookOutcome;
}

export interface MessageFilter {
  to?: string;
  from?: string;
  accountSid?: string;
}

export interface CallFilter {
  to?: string;
  from?: string;
  accountSid?: string;
  parentCallSid?: string;
}

/** A call as the simulator recorded it (a snapshot). */
export interface SimCallRecord {
  /** `CA…` */
  sid: string;
  accountSid: string;
  parentCallSid: string | null;
  direction: CallDirection;
  from: string;
  to: string;
  status: CallStatus;
  dateCreated: Date;
  startTime: Date | null;
  answeredAt: Date | null;
  endTime: Date | null;
  /** Seconds connected, once ended after being answered. */
  duration: number | null;
  /** The TwiML URL (outbound `Url`, the number's voice URL, or the last redirect). */
  url: string | null;
  statusCallback: string | null;
  statusCallbackEvents: CallEvent[];
  /** Statuses in order, each with the status callback sent for it (if any). */
  history: CallStatusStep[];
  /** Verbs run, things said, webhooks, streams, keys, warnings: see `CallLogEntry`. */
  log: CallLogEntry[];
  recordingSids: string[];
}

/** A `<Record>` recording. */
export interface SimRecording {
  /** `RE…` */
  sid: string;
  accountSid: string;
  callSid: string;
  /** Whole seconds. */
  duration: number;
  dateCreated: Date;
  /** 8 kHz 16-bit mono PCM. */
  samples: Int16Array;
  /** The same audio as the WAV file REST serves. */
  wav: Buffer;
}

/** The simulated Twilio's configuration and records. */
export interface TwilioControl {
  /** Creates an account. Throws `SimulatorError` `sim-account-exists` if the sid is taken. */
  createAccount(options?: NewAccountOptions): AccountCredentials;
  /**
   * Gives `accountSid` the E.164 `phoneNumber`. Throws `SimulatorError` with code
   * `sim-unknown-account`, `sim-invalid-number` or `sim-number-taken` (numbers are unique across
   * accounts).
   */
  addNumber(accountSid: string, phoneNumber: string, options?: NumberOptions): IncomingPhoneNumberResource;
  /** The number's current resource, as REST would return it; undefined if no account has it. */
  getNumber(phoneNumber: string): IncomingPhoneNumberResource | undefined;
  /** Recorded messages, oldest first; a snapshot, not live objects. */
  messages(filter?: MessageFilter): SimMessage[];
  /** Throws `sim-unknown-account`. */
  setBalance(accountSid: string, balance: string): void;
  /**
   * Sends one signed webhook exactly as the simulator sends its own (for replaying or forging).
   * Never throws for network failures: they resolve with status 0.
   */
  postSignedWebhook(
    url: string,
    params: WebhookParams,
    authToken: string,
    options?: { method?: HttpMethod },
  ): Promise<WebhookOutcome>;
  /** The `X-Twilio-Signature` Twilio would send for a form POST of `params` to `url`. */
  sign(url: string, params: WebhookParams, authToken: string): string;
  /** Recorded calls, oldest first; snapshots. */
  calls(filter?: CallFilter): SimCallRecord[];
  /** One call's snapshot, if the simulator has it. */
  call(sid: string): SimCallRecord | undefined;
  /** `<Record>` recordings, oldest first. */
  recordings(filter?: { callSid?: string; accountSid?: string }): SimRecording[];
}

/** Failure on demand. Faults are consumed in the order they were added. */
export interface FaultControl {
  /** Makes the next matching REST requests fail with the given status and Twilio code. */
  failRest(fault: RestFault): void;
  /** Makes the next outbound messages to `number` end failed/undelivered, or be refused on create. */
  failMessagesTo(number: string, fault: DeliveryFault): void;
  /**
   * Messages.json creates to `number` get no response until the returned function is called;
   * then they proceed normally. Other numbers are unaffected.
   */
  hangMessagesTo(number: string): () => void;
  /**
   * Messages.json creates to `number` create and deliver the message, but their HTTP responses
   * are held until the returned function is called: a client crashing meanwhile never learns
   * the sid of a text that was sent.
   */
  holdResponsesTo(number: string): () => void;
  /**
   * The next calls to `number` (a handset called by Twilio, or a Twilio number called by a
   * handset) end `busy` (SIP 486), `no-answer` (ring until the timeout, SIP 487) or `failed`
   * instead of being answered, whatever the handset's answering mode.
   */
  failCallsTo(number: string, fault: CallFault): void;
  /**
   * The next calls to `number` are answered `ms` later than they would be (a handset's answer
   * delay, or the time before a Twilio number's voice webhook is requested).
   */
  delayAnswerTo(number: string, ms: number, options?: { times?: number }): void;
  /** Delays every REST response by `ms`. */
  setRestLatency(ms: number): void;
  /** Removes every fault and releases every held request. */
  clear(): void;
}

/** A message a handset received (the bridge sent it). */
export interface HandsetMessage {
  sid: string;
  from: string;
  to: string;
  body: string;
  media: MediaAttachment[];
  status: MessageStatus;
  receivedAt: Date;
}

export interface SendSmsResult {
  /** The inbound message's sid (`SM…`, or `MM…` with media). */
  messageSid: string;
  /** HTTP status of the sms_url webhook; 0 when there was no response or no sms_url. */
  status: number;
  /** Body of the webhook response, normally TwiML. */
  responseBody: string;
}

export interface PlaceCallOptions {
  /** Frequency (Hz) of the tone the caller's microphone plays; 0 for silence. Default 440. */
  tone?: number;
  /** Withhold the caller id: Twilio sees `From=anonymous`. */
  withheld?: boolean;
  /** How long the caller lets it ring before hanging up (the call ends `canceled`). Default 60 s. */
  answerTimeoutMs?: number;
}

/**
 * One call as a handset sees it: the handset either placed it (`role` "caller", to a Twilio
 * number) or is being called (`role` "callee", by `Calls.json` or `<Dial>`). The status is the
 * Twilio call's (`sid`). Audio runs in real time in 20 ms frames once the call is in progress.
 */
export interface SimCall {
  /** The Twilio call sid (`CA…`) of this leg. */
  readonly sid: string;
  readonly role: "caller" | "callee";
  readonly direction: CallDirection;
  readonly from: string;
  readonly to: string;
  readonly status: CallStatus;
  /** The call's log so far (a copy): statuses, verbs, speech, webhooks, keys, warnings. */
  readonly log: CallLogEntry[];
  /** Texts spoken to this handset by `<Say>` (and Twilio's own announcements), in order. */
  readonly said: string[];
  /**
   * Resolves with the status once the call has reached `status` (or any of them), now or
   * earlier. Rejects with `SimulatorError` `sim-wait-timeout` after `timeoutMs` (default 5000).
   */
  waitForStatus(status: CallStatus | CallStatus[], options?: { timeoutMs?: number }): Promise<CallStatus>;
  /** Picks up a call ringing this handset (answering mode "manual"); `tone` as in `answerCalls`. */
  answer(options?: { tone?: number }): void;
  /** Declines a call ringing this handset: the caller gets `busy` (SIP 603). */
  reject(): void;
  /**
   * Hangs up: `completed` when connected; a caller giving up while it rings: `canceled`; a
   * callee hanging up a ringing call declines it (`busy`).
   */
  hangup(): void;
  /**
   * Presses keys ("0-9*#ABCD") on the keypad of a connected call: each plays 100 ms of its DTMF
   * tone pair in the microphone audio (replacing the voice, as phones do), then 60 ms of
   * silence, and is reported to Twilio as a DTMF event (Media Streams `dtmf`, `<Gather>`,
   * `<Record finishOnKey>`). Resolves when the last key has been played.
   */
  pressKeys(keys: string): Promise<void>;
  /** Changes the tone the microphone plays (Hz); 0 = silence. */
  setTone(frequency: number): void;
  /** Same as `setTone`: what the handset "says" is a tone. */
  say(frequency: number): void;
  /** 8 kHz 16-bit PCM of everything played into the earpiece since the call connected. */
  heard(): Int16Array;
  /** Samples heard so far: a mark for `heardSince`. */
  readonly heardSamples: number;
  /** The earpiece audio from sample `mark` (a previous `heardSamples`) until now. */
  heardSince(mark: number): Int16Array;
  /** DTMF keys recognised (Goertzel) in the earpiece audio so far, in order. */
  heardKeys(): string;
}

/** A simulated phone on the network, outside Twilio. */
export interface Handset {
  /** E.164, short code ("12345") or alphanumeric sender id ("TWILIO"). */
  readonly number: string;
  /**
   * Texts `to`, which must be a number on some simulated account (`SimulatorError`
   * `sim-unknown-number` otherwise). Resolves after the webhook completed; never retries.
   */
  sendSms(to: string, body: string, options?: { media?: MediaAttachment[] }): Promise<SendSmsResult>;
  /** Messages delivered to this handset, oldest first. */
  inbox(): HandsetMessage[];
  /**
   * The first inbox message (already there or arriving later) that matches. Rejects with
   * `SimulatorError` `sim-wait-timeout` after `timeoutMs` (default 5000).
   */
  waitForMessage(
    predicate?: (message: HandsetMessage) => boolean,
    options?: { timeoutMs?: number },
  ): Promise<HandsetMessage>;
  /**
   * Calls `to`, a number on some simulated account (`SimulatorError` `sim-unknown-number`
   * otherwise): Twilio requests the number's voice URL and runs the TwiML it answers. A number
   * without a voice URL fails the call. Returns at once, with the call ringing.
   */
  call(to: string, options?: PlaceCallOptions): SimCall;
  /**
   * How this handset treats calls that ring it (from `Calls.json` or `<Dial>`), until changed:
   * `{ after, tone }` answers after `after` ms (default 200) with the microphone playing `tone` Hz
   * (default 440; that is the default behaviour); "manual" rings until `SimCall.answer()`/
   * `reject()` or the caller's timeout; "busy" ends it busy (SIP 486); "no-answer" lets it ring
   * out; "fail" fails it; "reject" declines it after ringing briefly (busy, SIP 603).
   */
  answerCalls(behaviour: AnswerBehaviour): void;
  /** Every call this handset placed or received, oldest first. */
  calls(): SimCall[];
  /**
   * The first call ringing this handset (role "callee"; already there or arriving later) that
   * matches. Rejects with `sim-wait-timeout` after `timeoutMs` (default 5000).
   */
  waitForCall(predicate?: (call: SimCall) => boolean, options?: { timeoutMs?: number }): Promise<SimCall>;
}

/** The simulator's pieces without a listening socket, for `app.inject` tests. */
export interface SimulatorApp {
  app: FastifyInstance;
  twilio: TwilioControl;
  faults: FaultControl;
  handset(number: string): Handset;
  /** Changes the base URL used in handed-out links. */
  setPublicUrl(url: string): void;
  /** Releases held requests, stops pending deliveries and closes the app. */
  close(): Promise<void>;
}

export interface CarrierSimulator extends Omit<SimulatorApp, "setPublicUrl"> {
  /** `http://127.0.0.1:PORT` (or `publicUrl`): what `client.api.baseUrl` should be set to. */
  readonly url: string;
}
