import { getCountries, getCountryCallingCode, parsePhoneNumberFromString } from "libphonenumber-js";
import { API_VERSION } from "./resources.js";
import type { WebhookParams } from "./webhooks.js";

/**
 * The parameters of Twilio's incoming-message webhook, in the order of a real captured request
 * (protocols.md §1.3). City, state and zip are empty strings, as Twilio often sends them.
 */

export interface InboundMedia {
  url: string;
  contentType: string;
}

export interface InboundSms {
  messageSid: string;
  accountSid: string;
  from: string;
  to: string;
  body: string;
  numSegments: number;
  media: InboundMedia[];
}

export function inboundSmsParams(sms: InboundSms): WebhookParams {
  const params: WebhookParams = { ToCountry: countryOf(sms.to) };
  sms.media.forEach((m, i) => (params[`MediaContentType${i}`] = m.contentType));
  Object.assign(params, {
    ToState: "",
    SmsMessageSid: sms.messageSid,
    NumMedia: String(sms.media.length),
    ToCity: "",
    FromZip: "",
    SmsSid: sms.messageSid,
    FromState: "",
    SmsStatus: "received",
    FromCity: "",
    Body: sms.body,
    FromCountry: countryOf(sms.from),
    To: sms.to,
    ToZip: "",
    NumSegments: String(sms.numSegments),
    MessageSid: sms.messageSid,
    AccountSid: sms.accountSid,
    From: sms.from,
  });
  sms.media.forEach((m, i) => (params[`MediaUrl${i}`] = m.url));
  params["ApiVersion"] = API_VERSION;
  return params;
}

// Calling codes shared by several countries, mapped to the one Twilio reports for numbers that
// libphonenumber cannot place (such as the 555 numbers tests use).
const MAIN_COUNTRY: Readonly<Record<string, string>> = { "1": "US", "7": "RU", "44": "GB", "47": "NO", "61": "AU" };

/** ISO country of an E.164 number, or "" for short codes, sender ids and unknown codes. */
export function countryOf(address: string): string {
  if (!/^\+[1-9]\d{1,14}$/.test(address)) return "";
  const parsed = parsePhoneNumberFromString(address);
  if (parsed?.country) return parsed.country;
  const code = parsed?.countryCallingCode;
  if (!code) return "";
  return MAIN_COUNTRY[code] ?? getCountries().find((c) => getCountryCallingCode(c) === code) ?? "";
}
