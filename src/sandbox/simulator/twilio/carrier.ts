import type { Logger } from "pino";
import type { Clock } from "../../../clock.js";
import type { HandsetMessage, MediaAttachment, SendSmsResult } from "../types.js";
import {
  deliveryErrorText,
  MEDIA_DOWNLOAD_FAILED,
  restErrors,
  SimulatorError,
  TwilioApiError,
} from "./errors.js";
import { FaultState, type DeliveryFault } from "./faults.js";
import { inboundSmsParams } from "./inbound.js";
import { isE164 } from "./numbers.js";
import { API_VERSION, mediaPath } from "./resources.js";
import { countSegments } from "./segments.js";
import { VoiceNetwork } from "./voice/network.js";
import {
  makeSid,
  TwilioState,
  type HttpMethod,
  type MediaRecord,
  type MessageRecord,
  type MessageStatus,
  type StatusStep,
  type WebhookOutcome,
} from "./state.js";
import { sendSignedWebhook, WEBHOOK_TIMEOUT_MS, type WebhookParams } from "./webhooks.js";

const SHORT_CODE = /^\d{3,8}$/;
const SENDER_ID = /^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$/;

/** What may appear as the far end of a message: E.164, a short code or an alphanumeric sender id. */
export const isAddress = (value: string): boolean =>
  isE164(value) || SHORT_CODE.test(value) || SENDER_ID.test(value);

export interface OutboundInput {
  to: string | undefined;
  from: string | undefined;
  body: string | undefined;
  mediaUrls: string[];
  statusCallback: string | undefined;
}

export interface CarrierOptions {
  clock: Clock;
  logger: Logger | undefined;
  statusDelayMs: number;
  publicUrl: string;
}

/**
 * The simulated network: message creation and delivery, inbound texts from handsets, handset
 * inboxes, and (in `voice`) calls. HTTP lives elsewhere; this is what the REST routes and the
 * control API call.
 */
export class Carrier {
  readonly state: TwilioState;
  readonly faults = new FaultState();
  readonly voice: VoiceNetwork;
  publicUrl: string;
  readonly #clock: Clock;
  readonly #log: Logger | undefined;
  readonly #statusDelayMs: number;
  readonly #timers = new Set<unknown>();
  readonly #closing = new AbortController();
  readonly #inboxes = new Map<string, HandsetMessage[]>();
  readonly #inboxListeners = new Set<(message: HandsetMessage) => void>();

  constructor(options: CarrierOptions) {
    this.#clock = options.clock;
    this.#log = options.logger;
    this.#statusDelayMs = options.statusDelayMs;
    this.publicUrl = options.publicUrl;
    this.state = new TwilioState(options.clock);
    this.voice = new VoiceNetwork(this, options.logger);
  }

  get clock(): Clock {
    return this.#clock;
  }

  get statusDelayMs(): number {
    return this.#statusDelayMs;
  }

  get closed(): boolean {
    return this.#closing.signal.aborted;
  }

  /** Waits `ms` on the injected clock; never resolves once the carrier has closed. */
  sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const handle = this.#clock.setTimeout(() => {
        this.#timers.delete(handle);
        resolve();
      }, ms);
      this.#timers.add(handle);
    });
  }

  /**
   * Messages.json create: validates like Twilio (throwing `TwilioApiError`), honours hold and
   * reject faults, records the message as queued and starts its delivery in the background.
   */
  async createMessage(accountSid: string, input: OutboundInput): Promise<MessageRecord> {
    const { to, from, mediaUrls } = input;
    const body = input.body ?? "";
    if (!to) throw restErrors.toRequired();
    if (!from) throw restErrors.fromRequired();
    if (!isE164(to)) throw restErrors.invalidTo(to);
    const sender = this.state.numberByPhone(from);
    if (!sender || sender.accountSid !== accountSid) throw restErrors.invalidFrom(from);
    if (body === "" && mediaUrls.length === 0) throw restErrors.bodyRequired();
    if (body.length > 1600) throw restErrors.bodyTooLong();
    if (mediaUrls.length > 10) throw restErrors.tooManyMedia();
    if (input.statusCallback && !/^https?:\/\/[^\s/?#]+/i.test(input.statusCallback)) {
      throw restErrors.invalidStatusCallback();
    }

    await this.faults.waitWhileHeld(to);
    if (this.closed) throw restErrors.unavailable();
    const fault = this.faults.takeDeliveryFault(to);
    if (fault?.mode === "reject") throw new TwilioApiError(400, fault.errorCode, deliveryErrorText(fault.errorCode));

    const now = this.state.now();
    const message: MessageRecord = {
      sid: makeSid(mediaUrls.length > 0 ? "MM" : "SM"),
      accountSid,
      direction: "outbound-api",
      from,
      to,
      body,
      status: "queued",
      numSegments: mediaUrls.length > 0 ? 1 : countSegments(body).segments,
      mediaUrls,
      media: [],
      errorCode: null,
      errorMessage: null,
      statusCallback: input.statusCallback || null,
      dateCreated: now,
      dateUpdated: now,
      dateSent: null,
      history: [{ status: "queued", at: now, errorCode: null }],
    };
    this.state.addMessage(message);
    this.#log?.debug({ messageSid: message.sid, accountSid }, "message queued");
    void this.#deliver(message, fault).catch((err: unknown) =>
      this.#log?.error({ err, messageSid: message.sid }, "message delivery crashed"),
    );
    await this.faults.waitWhileResponseHeld(to);
    return message;
  }

  async #deliver(message: MessageRecord, fault: DeliveryFault | undefined): Promise<void> {
    // The queued step happened during the create request; report it like every later step.
    await this.sleep(0);
    const queued = message.history[0];
    if (queued) await this.#sendStatusCallback(message, queued);

    if (message.mediaUrls.length > 0 && !(await this.#fetchMedia(message))) {
      await this.#advance(message, "failed", MEDIA_DOWNLOAD_FAILED);
      return;
    }
    await this.sleep(this.#statusDelayMs);
    if (this.closed) return;
    if (fault?.mode === "failed") {
      await this.#advance(message, "failed", fault.errorCode);
      return;
    }
    await this.#advance(message, "sent", null);
    await this.sleep(this.#statusDelayMs);
    if (this.closed) return;
    if (fault?.mode === "undelivered") {
      await this.#advance(message, "undelivered", fault.errorCode);
      return;
    }
    this.#handOver(message);
    await this.#advance(message, "delivered", null);
  }

  /** Fetches every MediaUrl with a plain GET; false if any fetch failed or returned nothing. */
  async #fetchMedia(message: MessageRecord): Promise<boolean> {
    const media: MediaRecord[] = [];
    for (const url of message.mediaUrls) {
      try {
        const signal = AbortSignal.any([AbortSignal.timeout(WEBHOOK_TIMEOUT_MS), this.#closing.signal]);
        const response = await fetch(url, { signal });
        const data = Buffer.from(await response.arrayBuffer());
        if (!response.ok || data.length === 0) {
          this.#log?.info({ messageSid: message.sid, status: response.status }, "media fetch failed");
          return false;
        }
        const contentType = response.headers.get("content-type")?.split(";")[0]?.trim() || "application/octet-stream";
        media.push({
          sid: makeSid("ME"),
          accountSid: message.accountSid,
          messageSid: message.sid,
          contentType,
          data,
          dateCreated: this.state.now(),
        });
      } catch (err) {
        this.#log?.info({ err, messageSid: message.sid }, "media fetch failed");
        return false;
      }
    }
    message.media = media;
    return true;
  }

  async #advance(message: MessageRecord, status: MessageStatus, errorCode: number | null): Promise<void> {
    const now = this.state.now();
    message.status = status;
    message.dateUpdated = now;
    if (status === "sent") message.dateSent = now;
    if (errorCode !== null) {
      message.errorCode = errorCode;
      message.errorMessage = deliveryErrorText(errorCode);
    }
    const step: StatusStep = { status, at: now, errorCode };
    message.history.push(step);
    this.#log?.debug({ messageSid: message.sid, status, errorCode }, "message status");
    await this.#sendStatusCallback(message, step);
  }

  async #sendStatusCallback(message: MessageRecord, step: StatusStep): Promise<void> {
    if (!message.statusCallback || this.closed) return;
    const params: WebhookParams = {
      SmsSid: message.sid,
      SmsStatus: step.status,
      MessageStatus: step.status,
      To: message.to,
      MessageSid: message.sid,
      AccountSid: message.accountSid,
      From: message.from,
      ApiVersion: API_VERSION,
    };
    if (step.errorCode !== null && (step.status === "failed" || step.status === "undelivered")) {
      params["ErrorCode"] = String(step.errorCode);
    }
    if (step.status === "delivered" || step.status === "undelivered") params["RawDlrDoneDate"] = dlrDate(step.at);
    step.callback = await this.sendWebhook(message.statusCallback, "POST", params, message.accountSid);
  }

  /** A delivered message reaches its handset, or arrives inbound if it was sent to a Twilio number. */
  #handOver(message: MessageRecord): void {
    if (this.state.numberByPhone(message.to)) {
      const media = message.media.map(({ contentType, data }) => ({ contentType, data }));
      void this.receive(message.from, message.to, message.body, media).catch((err: unknown) =>
        this.#log?.error({ err, messageSid: message.sid }, "number-to-number delivery failed"),
      );
      return;
    }
    const received: HandsetMessage = {
      sid: message.sid,
      from: message.from,
      to: message.to,
      body: message.body,
      media: message.media.map(({ contentType, data }) => ({ contentType, data })),
      status: "delivered",
      receivedAt: this.state.now(),
    };
    const inbox = this.#inboxes.get(message.to) ?? [];
    inbox.push(received);
    this.#inboxes.set(message.to, inbox);
    for (const listener of [...this.#inboxListeners]) listener(received);
  }

  inbox(number: string): HandsetMessage[] {
    return [...(this.#inboxes.get(number) ?? [])];
  }

  /** Calls `listener` for every message a handset receives from now on; returns the unsubscribe. */
  onHandsetMessage(listener: (message: HandsetMessage) => void): () => void {
    this.#inboxListeners.add(listener);
    return () => this.#inboxListeners.delete(listener);
  }

  /**
   * A text from `from` (a handset) to the Twilio number `to`: recorded inbound and posted, signed,
   * to the number's sms_url. No sms_url, or no response, gives status 0.
   */
  async receive(from: string, to: string, body: string, media: MediaAttachment[]): Promise<SendSmsResult> {
    if (this.closed) throw new SimulatorError("sim-closed", "the simulator is closed");
    if (!isAddress(from)) throw new SimulatorError("sim-invalid-number", `not a phone address: ${from}`);
    const number = this.state.numberByPhone(to);
    if (!number) throw new SimulatorError("sim-unknown-number", `${to} is not a number on any simulated account`);
    if (body === "" && media.length === 0) {
      throw new SimulatorError("sim-invalid-input", "a text needs a body or media");
    }

    const now = this.state.now();
    const sid = makeSid(media.length > 0 ? "MM" : "SM");
    const records: MediaRecord[] = media.map((m) => ({
      sid: makeSid("ME"),
      accountSid: number.accountSid,
      messageSid: sid,
      contentType: m.contentType,
      data: m.data,
      dateCreated: now,
    }));
    const message: MessageRecord = {
      sid,
      accountSid: number.accountSid,
      direction: "inbound",
      from,
      to,
      body,
      status: "received",
      numSegments: media.length > 0 ? 1 : countSegments(body).segments,
      mediaUrls: [],
      media: records,
      errorCode: null,
      errorMessage: null,
      statusCallback: null,
      dateCreated: now,
      dateUpdated: now,
      dateSent: now,
      history: [{ status: "received", at: now, errorCode: null }],
    };
    this.state.addMessage(message);

    const params = inboundSmsParams({
      messageSid: sid,
      accountSid: number.accountSid,
      from,
      to,
      body,
      numSegments: message.numSegments,
      media: records.map((r) => ({ url: `${this.publicUrl}${mediaPath(r)}`, contentType: r.contentType })),
    });
    if (!number.smsUrl) {
      this.#log?.info({ messageSid: sid }, "inbound text dropped: the number has no sms_url");
      return { messageSid: sid, status: 0, responseBody: "" };
    }
    const outcome = await this.sendWebhook(number.smsUrl, number.smsMethod, params, number.accountSid);
    message.webhook = outcome;
    return { messageSid: sid, status: outcome.status, responseBody: outcome.body };
  }

  /** One signed webhook with the account's token. */
  async sendWebhook(
    url: string,
    method: HttpMethod,
    params: WebhookParams,
    accountSid: string,
  ): Promise<WebhookOutcome> {
    return sendSignedWebhook({
      url,
      method,
      params,
      authToken: this.state.account(accountSid).authToken,
      signal: this.#closing.signal,
      logger: this.#log,
      now: () => this.state.now(),
    });
  }

  close(): void {
    this.#closing.abort();
    this.voice.close();
    this.faults.clear();
    for (const handle of this.#timers) this.#clock.clearTimeout(handle);
    this.#timers.clear();
    this.#inboxListeners.clear();
  }
}


/** `RawDlrDoneDate`: the carrier's delivery-report time as YYMMDDhhmm, UTC. */
function dlrDate(date: Date): string {
  const two = (n: number): string => String(n).padStart(2, "0");
  return (
    two(date.getUTCFullYear() % 100) +
    two(date.getUTCMonth() + 1) +
    two(date.getUTCDate()) +
    two(date.getUTCHours()) +
    two(date.getUTCMinutes())
  );
}
