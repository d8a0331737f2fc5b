import { randomBytes } from "node:crypto";
import type { Clock } from "../../../clock.js";
import { SimulatorError } from "./errors.js";
import type { CallRecord, RecordingRecord } from "./voice/records.js";

/** A Twilio SID: two-letter type prefix and 32 lowercase hex digits. */
export function makeSid(prefix: string): string {
  return prefix + randomBytes(16).toString("hex");
}

/** Random 32 hex digits, the shape of a real auth token. */
export const makeAuthToken = (): string => randomBytes(16).toString("hex");

export type HttpMethod = "GET" | "POST";

export type MessageStatus =
  | "queued"
  | "sending"
  | "sent"
  | "failed"
  | "delivered"
  | "undelivered"
  | "receiving"
  | "received";

export type MessageDirection = "inbound" | "outbound-api" | "outbound-reply";

export interface AccountRecord {
  sid: string;
  authToken: string;
  friendlyName: string;
  status: "active" | "suspended" | "closed";
  balance: string;
  currency: string;
  dateCreated: Date;
  dateUpdated: Date;
}

export interface NumberRecord {
  sid: string;
  accountSid: string;
  phoneNumber: string;
  friendlyName: string;
  smsUrl: string;
  smsMethod: HttpMethod;
  smsFallbackUrl: string;
  smsFallbackMethod: HttpMethod;
  // Twilio reports an unset voice URL as null but an unset SMS URL as "" (its own example shows both).
  voiceUrl: string | null;
  voiceMethod: HttpMethod;
  voiceFallbackUrl: string | null;
  voiceFallbackMethod: HttpMethod;
  statusCallback: string;
  statusCallbackMethod: HttpMethod;
  smsApplicationSid: string | null;
  voiceApplicationSid: string | null;
  trunkSid: string | null;
  dateCreated: Date;
  dateUpdated: Date;
}

export interface MediaRecord {
  sid: string;
  accountSid: string;
  messageSid: string;
  contentType: string;
  data: Buffer;
  dateCreated: Date;
}

/** The outcome of one webhook request the simulator made. `status` 0 = no HTTP response. */
export interface WebhookOutcome {
  url: string;
  method: HttpMethod;
  status: number;
  body: string;
  /** The response's Content-Type, when it had one. */
  contentType?: string;
  error?: string;
  at: Date;
}

export interface StatusStep {
  status: MessageStatus;
  at: Date;
  errorCode: number | null;
  /** The status callback sent for this step, once it has completed. */
  callback?: WebhookOutcome;
}

export interface MessageRecord {
  sid: string;
  accountSid: string;
  direction: MessageDirection;
  from: string;
  to: string;
  body: string;
  status: MessageStatus;
  numSegments: number;
  /** Media URLs given on create (outbound), fetched while the message is queued. */
  mediaUrls: string[];
  media: MediaRecord[];
  errorCode: number | null;
  errorMessage: string | null;
  statusCallback: string | null;
  dateCreated: Date;
  dateUpdated: Date;
  dateSent: Date | null;
  history: StatusStep[];
  /** For inbound messages: the request to the number's sms_url. */
  webhook?: WebhookOutcome;
}

export interface NewAccount {
  sid?: string;
  authToken?: string;
  friendlyName?: string;
  balance?: string;
  currency?: string;
}

/**
 * Everything the simulated Twilio knows, in memory. Numbers are unique across accounts, as they
 * are on the real network. Messages keep creation order so listings can be newest-first.
 */
export class TwilioState {
  readonly accounts = new Map<string, AccountRecord>();
  readonly numbers = new Map<string, NumberRecord>();
  readonly messages = new Map<string, MessageRecord>();
  readonly calls = new Map<string, CallRecord>();
  readonly recordings = new Map<string, RecordingRecord>();
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  now(): Date {
    return new Date(this.#clock.now());
  }

  addAccount(input: NewAccount): AccountRecord {
    const sid = input.sid ?? makeSid("AC");
    if (!/^AC[0-9a-fA-F]{32}$/.test(sid)) throw new SimulatorError("sim-invalid-input", `not an account sid: ${sid}`);
    if (this.accounts.has(sid)) throw new SimulatorError("sim-account-exists", `account ${sid} already exists`);
    const now = this.now();
    const account: AccountRecord = {
      sid,
      authToken: input.authToken ?? makeAuthToken(),
      friendlyName: input.friendlyName ?? "Simulated account",
      status: "active",
      balance: input.balance ?? "20.00",
      currency: input.currency ?? "USD",
      dateCreated: now,
      dateUpdated: now,
    };
    this.accounts.set(sid, account);
    return account;
  }

  account(sid: string): AccountRecord {
    const account = this.accounts.get(sid);
    if (!account) throw new SimulatorError("sim-unknown-account", `no account ${sid}`);
    return account;
  }

  numberByPhone(phoneNumber: string): NumberRecord | undefined {
    for (const number of this.numbers.values()) if (number.phoneNumber === phoneNumber) return number;
    return undefined;
  }

  numbersOf(accountSid: string): NumberRecord[] {
    return [...this.numbers.values()].filter((n) => n.accountSid === accountSid);
  }

  addMessage(message: MessageRecord): void {
    this.messages.set(message.sid, message);
  }

  /** Messages newest first; equal timestamps keep reverse creation order. */
  messagesNewestFirst(): MessageRecord[] {
    return [...this.messages.values()]
      .map((message, index) => ({ message, index }))
      .sort((a, b) => b.message.dateCreated.getTime() - a.message.dateCreated.getTime() || b.index - a.index)
      .map(({ message }) => message);
  }

  /** Newest first by creation; equal timestamps keep reverse creation order. */
  static newestFirst<T extends { dateCreated: Date }>(items: Iterable<T>): T[] {
    return [...items]
      .map((item, index) => ({ item, index }))
      .sort((a, b) => b.item.dateCreated.getTime() - a.item.dateCreated.getTime() || b.index - a.index)
      .map(({ item }) => item);
  }
}
