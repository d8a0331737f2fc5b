import { accountPath, API_VERSION, rfc2822 } from "../resources.js";
import type { CallRecord, RecordingRecord } from "./records.js";

/** Call and Recording resource JSON, field for field as api.twilio.com returns them. */

const dateOrNull = (date: Date | null): string | null => (date ? rfc2822(date) : null);

/** Twilio's `*_formatted` numbers: national format for NANP, the number itself otherwise. */
export function formatNumber(number: string): string {
  const nanp = /^\+1(\d{3})(\d{3})(\d{4})$/.exec(number);
  return nanp ? `(${nanp[1]}) ${nanp[2]}-${nanp[3]}` : number;
}

export interface CallResource {
  account_sid: string;
  answered_by: string | null;
  api_version: string;
  caller_name: string | null;
  date_created: string;
  date_updated: string;
  direction: string;
  duration: string | null;
  end_time: string | null;
  forwarded_from: string | null;
  from: string;
  from_formatted: string;
  group_sid: string | null;
  parent_call_sid: string | null;
  phone_number_sid: string | null;
  price: string | null;
  price_unit: string;
  queue_time: string;
  sid: string;
  start_time: string | null;
  status: string;
  subresource_uris: Record<string, string>;
  to: string;
  to_formatted: string;
  trunk_sid: string | null;
  uri: string;
}

export const callPath = (call: CallRecord): string => `${accountPath(call.accountSid)}/Calls/${call.sid}`;

const CALL_SUBRESOURCES = [
  ["notifications", "Notifications.json"],
  ["recordings", "Recordings.json"],
  ["payments", "Payments.json"],
  ["events", "Events.json"],
  ["siprec", "Siprec.json"],
  ["streams", "Streams.json"],
  ["transcriptions", "Transcriptions.json"],
  ["user_defined_message_subscriptions", "UserDefinedMessageSubscriptions.json"],
  ["user_defined_messages", "UserDefinedMessages.json"],
] as const;

/** Seconds the call was connected, once it has ended after being answered. */
export function callDuration(call: CallRecord): number | null {
  if (!call.answeredAt || !call.endTime) return null;
  return Math.round((call.endTime.getTime() - call.answeredAt.getTime()) / 1000);
}

export function callResource(call: CallRecord): CallResource {
  const path = callPath(call);
  const duration = callDuration(call);
  return {
    account_sid: call.accountSid,
    answered_by: null,
    api_version: API_VERSION,
    caller_name: null,
    date_created: rfc2822(call.dateCreated),
    date_updated: rfc2822(call.dateUpdated),
    direction: call.direction,
    // Empty for busy, failed, unanswered and ongoing calls (Twilio's call resource docs).
    duration: call.status === "completed" && duration !== null ? String(duration) : null,
    end_time: dateOrNull(call.endTime),
    forwarded_from: null,
    from: call.from,
    from_formatted: formatNumber(call.from),
    group_sid: null,
    parent_call_sid: call.parentCallSid,
    phone_number_sid: call.phoneNumberSid,
    price: null,
    price_unit: "USD",
    queue_time: "0",
    sid: call.sid,
    start_time: dateOrNull(call.startTime),
    // The resource's status enum has no `initiated`; such a call is still `queued` there.
    status: call.status === "initiated" ? "queued" : call.status,
    subresource_uris: Object.fromEntries(CALL_SUBRESOURCES.map(([key, file]) => [key, `${path}/${file}`])),
    to: call.to,
    to_formatted: formatNumber(call.to),
    trunk_sid: null,
    uri: `${path}.json`,
  };
}

export interface RecordingResource {
  account_sid: string;
  api_version: string;
  call_sid: string;
  conference_sid: string | null;
  channels: number;
  date_created: string;
  date_updated: string;
  start_time: string;
  price: string | null;
  price_unit: string;
  duration: string;
  sid: string;
  source: string;
  status: string;
  error_code: number | null;
  uri: string;
  encryption_details: null;
  subresource_uris: Record<string, string>;
  media_url: string;
}

/** Path of the recording's audio (no extension: WAV); `.json` gives the resource. */
export const recordingPath = (recording: RecordingRecord): string =>
  `${accountPath(recording.accountSid)}/Recordings/${recording.sid}`;

/** The fields a recording has in both of Twilio's shapes. */
function recordingFields(recording: RecordingRecord) {
  return {
    account_sid: recording.accountSid,
    api_version: API_VERSION,
    call_sid: recording.callSid,
    conference_sid: null,
    channels: recording.channels,
    date_created: rfc2822(recording.dateCreated),
    date_updated: rfc2822(recording.dateCreated),
    start_time: rfc2822(recording.startTime),
    price: null,
    price_unit: "USD",
    duration: String(recording.duration),
    sid: recording.sid,
    source: recording.source,
    status: recording.status,
    error_code: null,
    encryption_details: null,
  } as const;
}

export function recordingResource(recording: RecordingRecord, publicUrl: string): RecordingResource {
  const path = recordingPath(recording);
  return {
    ...recordingFields(recording),
    uri: `${path}.json`,
    subresource_uris: {
      add_on_results: `${path}/AddOnResults.json`,
      transcriptions: `${path}/Transcriptions.json`,
    },
    media_url: `${publicUrl}${path}`,
  };
}

export type CallRecordingResource = Omit<RecordingResource, "subresource_uris" | "media_url"> & { track: string };

/**
 * The same recording seen under its call (`Calls/{CallSid}/Recordings`): Twilio's call-recording
 * shape has `track` and a call-scoped `uri`, and no `media_url` or `subresource_uris`.
 */
export function callRecordingResource(recording: RecordingRecord): CallRecordingResource {
  return {
    ...recordingFields(recording),
    // <Record> records what the caller says: the inbound track.
    track: "inbound",
    uri: `${accountPath(recording.accountSid)}/Calls/${recording.callSid}/Recordings/${recording.sid}.json`,
  };
}
