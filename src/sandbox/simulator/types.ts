import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Clock } from "../../clock.js";
import type { DeliveryFault, RestFault } from "./twilio/faults.js";
import type { IncomingPhoneNumberResource } from "./twilio/resources.js";
import type {
  HttpMethod,
  MessageDirection,
  MessageStatus,
  StatusStep,
  WebhookOutcome,
} from "./twilio/state.js";
import type { WebhookParams } from "./twilio/webhooks.js";

export type {
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
 * the wire (REST 2010-04-01 messaging, signed webhooks, media), plus handles for tests and demos
 * to play the phones on the other end and to inject failure.
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
  voiceUrl?: string;
  /** Default POST. */
  voiceMethod?: HttpMethod;
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
