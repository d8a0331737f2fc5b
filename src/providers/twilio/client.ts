import { BridgeError } from "../../errors.js";
import { e164, type E164 } from "../../ids.js";
import type { InboundMedia, MessageStatus, Sender } from "../events.js";
import type {
  AccountInfo,
  AttachResult,
  Balance,
  BalanceCapable,
  ListedMessage,
  MessagingCapable,
  MessagingLimits,
  OutboundMessage,
  ProviderClient,
  ProviderNumber,
  SentMessage,
  VoiceCapable,
  WebhookUrls,
} from "../types.js";
import { twilioReason } from "./error-reasons.js";
import { parseSender } from "./normalize.js";
import { toBridgeError } from "./errors.js";
import type { TwilioSdk } from "./sdk.js";

/**
 * Twilio's limits for one message: 1600 characters of body, 10 media items, 5 MB of media in all.
 * Twilio's Messages API can't start group MMS conversations (group MMS is limited to accounts
 * that already had it), so the bridge offers one-to-one texting only.
 */
const LIMITS: MessagingLimits = { maxBodyChars: 1600, maxMediaBytes: 5 * 1024 * 1024, maxMediaItems: 10, groupMessaging: false };

/** The IncomingPhoneNumber fields the bridge overwrites, restored by unlink. */
const MANAGED_FIELDS = {
  sms_url: "smsUrl",
  sms_method: "smsMethod",
  voice_url: "voiceUrl",
  voice_method: "voiceMethod",
  status_callback: "statusCallback",
  status_callback_method: "statusCallbackMethod",
} as const;
type ManagedField = keyof typeof MANAGED_FIELDS;

export class TwilioClient implements ProviderClient, BalanceCapable, MessagingCapable, VoiceCapable {
  readonly messaging = LIMITS;

  constructor(
    private readonly sdk: TwilioSdk,
    private readonly accountSid: string,
    private readonly authToken: string,
  ) {}

  async verify(): Promise<AccountInfo> {
    let account;
    try {
      account = await this.sdk.api.v2010.accounts(this.accountSid).fetch();
    } catch (err) {
      // An unknown account under valid-looking credentials is still "these credentials are wrong".
      const mapped = toBridgeError(err, "check the account");
      if ((err as { status?: number }).status === 404) {
        throw new BridgeError("provider-credentials-rejected", "twilio has no such account", {
          userMessage: `Twilio has no account ${this.accountSid}. Check the Account SID.`,
          cause: err,
        });
      }
      throw mapped;
    }
    if (account.status === "closed") {
      throw new BridgeError("provider-credentials-rejected", "the twilio account is closed", {
        userMessage: `The Twilio account ${this.accountSid} is closed.`,
      });
    }
    const warnings = account.status === "suspended"
      ? ["The Twilio account is suspended: texts and calls will fail until Twilio lifts the suspension."]
      : [];
    return { accountRef: account.sid, name: account.friendlyName, warnings };
  }

  async findNumber(number: E164): Promise<ProviderNumber> {
    let found;
    try {
      found = await this.sdk.incomingPhoneNumbers.list({ phoneNumber: number, limit: 20 });
    } catch (err) {
      throw toBridgeError(err, "look up the number");
    }
    const match = found.find((n) => n.phoneNumber === number);
    if (!match) {
      throw new BridgeError("provider-number-not-found", "the number is not on the twilio account", {
        userMessage: `The number ${number} is not one of this Twilio account's phone numbers (Phone Numbers → Manage → Active numbers in the Twilio console).`,
        context: { accountSid: this.accountSid },
      });
    }
    const settings: Record<string, string | null> = {
      sms_url: match.smsUrl ?? null,
      sms_method: match.smsMethod ?? null,
      voice_url: match.voiceUrl ?? null,
      voice_method: match.voiceMethod ?? null,
      status_callback: match.statusCallback ?? null,
      status_callback_method: match.statusCallbackMethod ?? null,
      sms_application_sid: match.smsApplicationSid || null,
      voice_application_sid: match.voiceApplicationSid || null,
      trunk_sid: match.trunkSid || null,
    };
    return { id: match.sid, number: e164(match.phoneNumber), settings };
  }

  async attachNumber(number: ProviderNumber, urls: WebhookUrls): Promise<AttachResult> {
    const previous: Record<string, string | null> = {};
    for (const field of Object.keys(MANAGED_FIELDS) as ManagedField[]) previous[field] = number.settings[field] ?? null;
    try {
      await this.sdk.incomingPhoneNumbers(number.id).update({
        smsUrl: urls.sms,
        smsMethod: "POST",
        voiceUrl: urls.voice,
        voiceMethod: "POST",
        statusCallback: urls.callStatus,
        statusCallbackMethod: "POST",
      });
    } catch (err) {
      throw toBridgeError(err, "point the number's webhooks at the bridge");
    }
    return { previous, warnings: overrideWarnings(number.settings) };
  }

  async detachNumber(numberId: string, previous: Record<string, string | null>): Promise<void> {
    const update: Record<string, string> = {};
    for (const [field, option] of Object.entries(MANAGED_FIELDS) as [ManagedField, string][]) {
      // Twilio clears a URL when given an empty string; methods go back to its default, POST.
      const value = previous[field];
      update[option] = value ?? (field.endsWith("_method") ? "POST" : "");
    }
    try {
      await this.sdk.incomingPhoneNumbers(numberId).update(update);
    } catch (err) {
      throw toBridgeError(err, "restore the number's webhooks");
    }
  }

  async sendMessage(message: OutboundMessage): Promise<SentMessage> {
    try {
      const sent = await this.sdk.messages.create({
        from: message.from,
        to: message.to,
        ...(message.body ? { body: message.body } : {}),
        ...(message.mediaUrls.length ? { mediaUrl: message.mediaUrls } : {}),
        statusCallback: message.statusCallback,
      });
      return { providerMessageId: sent.sid, status: toStatus(sent.status) };
    } catch (err) {
      const mapped = toBridgeError(err, "send the text");
      const code = (err as { code?: unknown }).code;
      if (mapped.code === "provider-rejected" && typeof code === "number") {
        throw new BridgeError("provider-rejected", `twilio refused the text: error ${code}`, {
          userMessage: `Not sent: ${twilioReason(code)} (Twilio error ${code}).`,
          context: { ...mapped.context, providerCode: code },
          cause: err,
        });
      }
      throw mapped;
    }
  }

  explainError(code: number | null): string {
    return code ? `${twilioReason(code)} (Twilio error ${code})` : twilioReason(code);
  }

  async listMessages(filter: { from?: string; to?: string; since: number }): Promise<ListedMessage[]> {
    try {
      const messages = await this.sdk.messages.list({
        ...(filter.from ? { from: filter.from } : {}),
        ...(filter.to ? { to: filter.to } : {}),
        dateSentAfter: new Date(filter.since),
        limit: 1000,
      });
      return messages.map((m) => ({
        providerMessageId: m.sid,
        direction: m.direction === "inbound" ? "inbound" : "outbound",
        from: senderOrNull(m.from),
        to: m.to,
        body: m.body ?? "",
        createdAt: m.dateCreated.getTime(),
        mediaCount: Number(m.numMedia) || 0,
      }));
    } catch (err) {
      throw toBridgeError(err, "list messages");
    }
  }

  async mediaOf(providerMessageId: string): Promise<InboundMedia[]> {
    try {
      const media = await this.sdk.messages(providerMessageId).media.list();
      // A media resource's `uri` names its JSON; the same path without `.json` is the content.
      return media.map((m) => ({ url: this.sdk.api.baseUrl + m.uri.replace(/\.json$/, ""), contentType: m.contentType }));
    } catch (err) {
      throw toBridgeError(err, "list a message's media");
    }
  }

  async fetchMedia(url: string, maxBytes: number): Promise<{ data: Buffer; contentType: string }> {
    // Twilio requires Basic auth on media URLs; fetch drops the header if Twilio redirects elsewhere.
    const authorization = `Basic ${Buffer.from(`${this.accountSid}:${this.authToken}`).toString("base64")}`;
    let response: Response;
    try {
      response = await fetch(url, { headers: { authorization }, signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      throw toBridgeError(Object.assign(new Error("fetch failed"), { code: "ECONNREFUSED", cause: err }), "download an attachment");
    }
    if (!response.ok) {
      throw toBridgeError({ status: response.status, message: `HTTP ${response.status}` }, "download an attachment");
    }
    const declared = Number(response.headers.get("content-length") ?? "0");
    if (declared > maxBytes) throw tooLarge(maxBytes);
    const data = Buffer.from(await response.arrayBuffer());
    if (data.length > maxBytes) throw tooLarge(maxBytes);
    return { data, contentType: response.headers.get("content-type")?.split(";")[0]?.trim() || "application/octet-stream" };
  }

  async placeCall(options: { from: E164; to: E164; answerUrl: string; statusCallback: string; timeoutSeconds: number }): Promise<{ providerCallId: string }> {
    try {
      const call = await this.sdk.calls.create({
        from: options.from,
        to: options.to,
        url: options.answerUrl,
        method: "POST",
        statusCallback: options.statusCallback,
        statusCallbackMethod: "POST",
        statusCallbackEvent: ["initiated", "ringing", "answered", "completed"],
        timeout: options.timeoutSeconds,
      });
      return { providerCallId: call.sid };
    } catch (err) {
      throw toBridgeError(err, "place the call");
    }
  }

  async hangupCall(providerCallId: string): Promise<void> {
    try {
      await this.sdk.calls(providerCallId).update({ status: "completed" });
    } catch (err) {
      // A call that has already ended can't be updated (404 / 21220): that is what we wanted.
      const code = (err as { code?: unknown; status?: unknown }).code;
      if ((err as { status?: unknown }).status === 404 || code === 21220 || code === 20404) return;
      throw toBridgeError(err, "hang up the call");
    }
  }

  fetchRecording(url: string, maxBytes: number): Promise<{ data: Buffer; contentType: string }> {
    // A recording URL names the resource; with .wav it is the audio (the default format).
    return this.fetchMedia(/\.(wav|mp3)$/.test(url) ? url : `${url}.wav`, maxBytes);
  }

  async getBalance(): Promise<Balance> {
    try {
      const balance = await this.sdk.api.v2010.accounts(this.accountSid).balance.fetch();
      return { amount: balance.balance, currency: balance.currency };
    } catch (err) {
      throw toBridgeError(err, "read the account balance");
    }
  }
}

/** Settings on the number that make Twilio ignore the URLs the bridge just set. */
export function overrideWarnings(settings: Record<string, string | null>): string[] {
  const warnings: string[] = [];
  const smsApp = settings.sms_application_sid;
  if (smsApp?.startsWith("MG")) {
    warnings.push(
      `The number belongs to Messaging Service ${smsApp}. If that service handles incoming messages itself, texts will not reach the bridge: in the Twilio console set the service's Integration to "Defer to sender's webhook", or remove the number from the service.`,
    );
  } else if (smsApp) {
    warnings.push(
      `Incoming texts to this number go to the TwiML app ${smsApp}, which overrides the bridge's SMS webhook. Clear "Messaging: Configure with TwiML app" on the number in the Twilio console.`,
    );
  }
  if (settings.voice_application_sid) {
    warnings.push(
      `Incoming calls go to the TwiML app ${settings.voice_application_sid}, which overrides the bridge's voice webhook. Set "A call comes in" to Webhook on the number in the Twilio console.`,
    );
  }
  if (settings.trunk_sid) {
    warnings.push(
      `The number is on the SIP trunk ${settings.trunk_sid}; Twilio sends its calls to the trunk, not to the bridge.`,
    );
  }
  return warnings;
}

function senderOrNull(from: string): Sender | null {
  try {
    return parseSender(from);
  } catch {
    return null;
  }
}

/** Twilio's statuses, folded into the bridge's: scheduling states count as queued. */
function toStatus(status: string): MessageStatus {
  switch (status) {
    case "sending":
    case "sent":
    case "delivered":
    case "undelivered":
    case "failed":
    case "read":
    case "canceled":
      return status;
    case "partially_delivered":
      return "delivered";
    default:
      return "queued";
  }
}

function tooLarge(maxBytes: number): BridgeError {
  return new BridgeError("provider-rejected", "attachment larger than the bridge accepts", {
    userMessage: `An attachment was larger than ${Math.round(maxBytes / 1024 / 1024)} MB and was not brought over.`,
  });
}
