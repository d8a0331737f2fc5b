import { BridgeError } from "../../errors.js";
import { e164, type E164 } from "../../ids.js";
import type {
  AccountInfo,
  AttachResult,
  Balance,
  BalanceCapable,
  ProviderClient,
  ProviderNumber,
  WebhookUrls,
} from "../types.js";
import { toBridgeError } from "./errors.js";
import type { TwilioSdk } from "./sdk.js";

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

export class TwilioClient implements ProviderClient, BalanceCapable {
  constructor(
    private readonly sdk: TwilioSdk,
    private readonly accountSid: string,
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
