import { BridgeError } from "../../errors.js";
import { isE164, type E164, type LinkId } from "../../ids.js";
import type { CallIncoming, CallRecording, CallStatus, CallStatusChanged, InboundMedia, MessageStatus, MessageStatusChanged, Sender, SmsReceived } from "../events.js";

type Params = Record<string, string | string[] | undefined>;

const one = (params: Params, key: string): string | undefined => {
  const value = params[key];
  return Array.isArray(value) ? value[0] : value;
};

function required(params: Params, key: string): string {
  const value = one(params, key);
  if (value === undefined || value === "") {
    throw new BridgeError("webhook-malformed", `twilio webhook without ${key}`, { context: { key } });
  }
  return value;
}

const SID = /^[A-Z]{2}[0-9a-fA-F]{32}$/;
const SHORT_CODE = /^\d{3,8}$/;
const ALPHANUMERIC = /^(?=.*[A-Za-z])[A-Za-z0-9 &'+,.-]{1,11}$/;

/**
 * Who a text came from. Twilio sends E.164 for phone numbers, bare digits for short codes and the
 * sender name for alphanumeric ids; anything else is refused so a malformed sender can't become a
 * ghost user.
 */
export function parseSender(from: string): Sender {
  if (isE164(from)) return { kind: "number", number: from };
  if (SHORT_CODE.test(from)) return { kind: "short-code", code: from };
  if (ALPHANUMERIC.test(from)) return { kind: "alphanumeric", name: from };
  throw new BridgeError("webhook-malformed", "twilio webhook with an unusable sender", { context: { reason: "bad-from" } });
}

export function normalizeSms(linkId: LinkId, params: Params): SmsReceived {
  const sid = required(params, "MessageSid");
  if (!SID.test(sid)) throw new BridgeError("webhook-malformed", "twilio webhook with a malformed MessageSid");
  const to = required(params, "To");
  if (!isE164(to)) throw new BridgeError("webhook-malformed", "twilio webhook with a malformed To");
  const count = Number(one(params, "NumMedia") ?? "0");
  if (!Number.isInteger(count) || count < 0 || count > 10) {
    throw new BridgeError("webhook-malformed", "twilio webhook with a bad NumMedia");
  }
  const media: InboundMedia[] = [];
  for (let i = 0; i < count; i++) {
    media.push({ url: required(params, `MediaUrl${i}`), contentType: one(params, `MediaContentType${i}`) ?? "application/octet-stream" });
  }
  return {
    type: "sms.received",
    linkId,
    providerMessageId: sid,
    from: parseSender(required(params, "From")),
    to: to as E164,
    body: one(params, "Body") ?? "",
    media,
  };
}

const STATUSES: readonly MessageStatus[] = ["queued", "sending", "sent", "delivered", "undelivered", "failed", "read", "canceled"];

export function normalizeMessageStatus(linkId: LinkId, params: Params): MessageStatusChanged {
  const sid = required(params, "MessageSid");
  if (!SID.test(sid)) throw new BridgeError("webhook-malformed", "twilio status callback with a malformed MessageSid");
  const status = required(params, "MessageStatus") as MessageStatus;
  if (!STATUSES.includes(status)) throw new BridgeError("webhook-malformed", "twilio status callback with an unknown status");
  const code = one(params, "ErrorCode");
  return { type: "message.status", linkId, providerMessageId: sid, status, errorCode: code ? Number(code) || null : null };
}

function callSid(params: Params): string {
  const sid = required(params, "CallSid");
  if (!SID.test(sid)) throw new BridgeError("webhook-malformed", "twilio call webhook with a malformed CallSid");
  return sid;
}

/** Twilio writes a withheld caller id as a word ("anonymous", "restricted", ...), not a number. */
export function normalizeCall(linkId: LinkId, params: Params): CallIncoming {
  const from = one(params, "From") ?? "";
  const to = required(params, "To");
  if (!isE164(to)) throw new BridgeError("webhook-malformed", "twilio call webhook with a malformed To");
  return { type: "call.incoming", linkId, providerCallId: callSid(params), from: isE164(from) ? from : null, to };
}

const CALL_STATUSES: readonly CallStatus[] = ["queued", "initiated", "ringing", "in-progress", "completed", "busy", "failed", "no-answer", "canceled"];

export function normalizeCallStatus(linkId: LinkId, params: Params, query: Params = {}): CallStatusChanged {
  const status = required(params, "CallStatus") as CallStatus;
  if (!CALL_STATUSES.includes(status)) throw new BridgeError("webhook-malformed", "twilio call status with an unknown status");
  const duration = one(params, "CallDuration");
  const callId = one(query, "call");
  return {
    type: "call.status",
    linkId,
    providerCallId: callSid(params),
    callId: callId && /^call[0-9a-z]{16}$/.test(callId) ? callId : null,
    status,
    durationSeconds: duration ? Number(duration) || 0 : null,
  };
}

/** `<Record action>`: the recording is ready (its URL has no extension; `.wav` gets the file). */
export function normalizeRecording(linkId: LinkId, params: Params): CallRecording {
  const url = required(params, "RecordingUrl");
  if (!/^https?:\/\//.test(url)) throw new BridgeError("webhook-malformed", "twilio recording callback with a bad RecordingUrl");
  return {
    type: "call.recording",
    linkId,
    providerCallId: callSid(params),
    url,
    durationSeconds: Number(one(params, "RecordingDuration") ?? "0") || 0,
  };
}
