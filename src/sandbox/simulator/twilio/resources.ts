import type { AccountRecord, MediaRecord, MessageRecord, NumberRecord } from "./state.js";

/**
 * Twilio resource JSON, field for field as api.twilio.com returns it: snake_case names, RFC 2822
 * dates, counters as strings, relative `uri`s. Every field is always present (null when unset),
 * because that is what Twilio sends and what clients may rely on.
 */

export const API_VERSION = "2010-04-01";

/** `Thu, 24 Aug 2023 05:01:45 +0000`. */
export function rfc2822(date: Date): string {
  return date.toUTCString().replace(/GMT$/, "+0000");
}

const dateOrNull = (date: Date | null): string | null => (date ? rfc2822(date) : null);

export const accountPath = (accountSid: string): string => `/${API_VERSION}/Accounts/${accountSid}`;

export interface AccountResource {
  auth_token: string;
  date_created: string;
  date_updated: string;
  friendly_name: string;
  owner_account_sid: string;
  sid: string;
  status: string;
  subresource_uris: Record<string, string>;
  type: "Full" | "Trial";
  uri: string;
}

const ACCOUNT_SUBRESOURCES: ReadonlyArray<readonly [string, string]> = [
  ["available_phone_numbers", "AvailablePhoneNumbers.json"],
  ["calls", "Calls.json"],
  ["conferences", "Conferences.json"],
  ["incoming_phone_numbers", "IncomingPhoneNumbers.json"],
  ["notifications", "Notifications.json"],
  ["outgoing_caller_ids", "OutgoingCallerIds.json"],
  ["recordings", "Recordings.json"],
  ["transcriptions", "Transcriptions.json"],
  ["addresses", "Addresses.json"],
  ["signing_keys", "SigningKeys.json"],
  ["connect_apps", "ConnectApps.json"],
  ["sip", "SIP.json"],
  ["authorized_connect_apps", "AuthorizedConnectApps.json"],
  ["usage", "Usage.json"],
  ["keys", "Keys.json"],
  ["applications", "Applications.json"],
  ["short_codes", "SMS/ShortCodes.json"],
  ["queues", "Queues.json"],
  ["messages", "Messages.json"],
  ["balance", "Balance.json"],
];

export function accountResource(account: AccountRecord): AccountResource {
  const base = accountPath(account.sid);
  return {
    auth_token: account.authToken,
    date_created: rfc2822(account.dateCreated),
    date_updated: rfc2822(account.dateUpdated),
    friendly_name: account.friendlyName,
    owner_account_sid: account.sid,
    sid: account.sid,
    status: account.status,
    subresource_uris: Object.fromEntries(ACCOUNT_SUBRESOURCES.map(([key, path]) => [key, `${base}/${path}`])),
    type: "Full",
    uri: `${base}.json`,
  };
}

export interface BalanceResource {
  account_sid: string;
  balance: string;
  currency: string;
}

export const balanceResource = (account: AccountRecord): BalanceResource => ({
  account_sid: account.sid,
  balance: account.balance,
  currency: account.currency,
});

export interface IncomingPhoneNumberResource {
  account_sid: string;
  address_sid: string | null;
  address_requirements: "none";
  api_version: string;
  beta: boolean;
  capabilities: { voice: boolean; sms: boolean; mms: boolean; fax: boolean };
  date_created: string;
  date_updated: string;
  friendly_name: string;
  identity_sid: string | null;
  phone_number: string;
  origin: string;
  sid: string;
  sms_application_sid: string | null;
  sms_fallback_method: string;
  sms_fallback_url: string;
  sms_method: string;
  sms_url: string;
  status_callback: string;
  status_callback_method: string;
  trunk_sid: string | null;
  uri: string;
  voice_receive_mode: "voice";
  voice_application_sid: string | null;
  voice_caller_id_lookup: boolean;
  voice_fallback_method: string;
  voice_fallback_url: string | null;
  voice_method: string;
  voice_url: string | null;
  emergency_status: "Inactive";
  emergency_address_sid: string | null;
  emergency_address_status: "unregistered";
  bundle_sid: string | null;
  status: string;
  type: string;
}

export function incomingPhoneNumberResource(number: NumberRecord): IncomingPhoneNumberResource {
  return {
    account_sid: number.accountSid,
    address_sid: null,
    address_requirements: "none",
    api_version: API_VERSION,
    beta: false,
    capabilities: { voice: true, sms: true, mms: true, fax: false },
    date_created: rfc2822(number.dateCreated),
    date_updated: rfc2822(number.dateUpdated),
    friendly_name: number.friendlyName,
    identity_sid: null,
    phone_number: number.phoneNumber,
    origin: "twilio",
    sid: number.sid,
    sms_application_sid: number.smsApplicationSid,
    sms_fallback_method: number.smsFallbackMethod,
    sms_fallback_url: number.smsFallbackUrl,
    sms_method: number.smsMethod,
    sms_url: number.smsUrl,
    status_callback: number.statusCallback,
    status_callback_method: number.statusCallbackMethod,
    trunk_sid: number.trunkSid,
    uri: `${accountPath(number.accountSid)}/IncomingPhoneNumbers/${number.sid}.json`,
    voice_receive_mode: "voice",
    voice_application_sid: number.voiceApplicationSid,
    voice_caller_id_lookup: false,
    voice_fallback_method: number.voiceFallbackMethod,
    voice_fallback_url: number.voiceFallbackUrl,
    voice_method: number.voiceMethod,
    voice_url: number.voiceUrl,
    emergency_status: "Inactive",
    emergency_address_sid: null,
    emergency_address_status: "unregistered",
    bundle_sid: null,
    status: "in-use",
    type: "local",
  };
}

export interface MessageResource {
  body: string;
  num_segments: string;
  direction: string;
  from: string;
  to: string;
  date_updated: string;
  price: string | null;
  error_message: string | null;
  uri: string;
  account_sid: string;
  num_media: string;
  status: string;
  messaging_service_sid: string | null;
  sid: string;
  date_sent: string | null;
  date_created: string;
  error_code: number | null;
  price_unit: string;
  api_version: string;
  subresource_uris: { media: string };
}

export const messagePath = (message: MessageRecord): string =>
  `${accountPath(message.accountSid)}/Messages/${message.sid}`;

export function messageResource(message: MessageRecord): MessageResource {
  const path = messagePath(message);
  return {
    body: message.body,
    num_segments: String(message.numSegments),
    direction: message.direction,
    from: message.from,
    to: message.to,
    date_updated: rfc2822(message.dateUpdated),
    price: null,
    error_message: message.errorMessage,
    uri: `${path}.json`,
    account_sid: message.accountSid,
    // Outbound media is only fetched after the 201, so count the URLs until then.
    num_media: String(Math.max(message.media.length, message.mediaUrls.length)),
    status: message.status,
    messaging_service_sid: null,
    sid: message.sid,
    date_sent: dateOrNull(message.dateSent),
    date_created: rfc2822(message.dateCreated),
    error_code: message.errorCode,
    price_unit: "USD",
    api_version: API_VERSION,
    subresource_uris: { media: `${path}/Media.json` },
  };
}

export interface MediaResource {
  account_sid: string;
  content_type: string;
  date_created: string;
  date_updated: string;
  parent_sid: string;
  sid: string;
  uri: string;
}

/** Path of the media bytes (no extension); the `.json` form is the metadata resource. */
export const mediaPath = (media: MediaRecord): string =>
  `${accountPath(media.accountSid)}/Messages/${media.messageSid}/Media/${media.sid}`;

export const mediaResource = (media: MediaRecord): MediaResource => ({
  account_sid: media.accountSid,
  content_type: media.contentType,
  date_created: rfc2822(media.dateCreated),
  date_updated: rfc2822(media.dateCreated),
  parent_sid: media.messageSid,
  sid: media.sid,
  uri: `${mediaPath(media)}.json`,
});
