import type { E164, LinkId } from "../ids.js";

/**
 * Provider traffic, normalised at the edge: each provider's webhook plugin turns its own payload
 * into one of these, carrying the bridge's ids. Nothing past the provider folder sees a provider's
 * field names (Twilio's `MessageSid`, `From`, ...).
 */

/**
 * Who sent a text or placed a call: a phone number, a short code or alphanumeric sender id (which
 * can't be called back), or a caller who withheld their number.
 */
export type Sender =
  | { kind: "number"; number: E164 }
  | { kind: "short-code"; code: string }
  | { kind: "alphanumeric"; name: string }
  | { kind: "withheld" };

export interface InboundMedia {
  url: string;
  contentType: string;
}

export interface SmsReceived {
  type: "sms.received";
  linkId: LinkId;
  /** The provider's id for the message: the dedupe key. */
  providerMessageId: string;
  from: Sender;
  to: E164;
  body: string;
  media: InboundMedia[];
}

export type MessageStatus = "queued" | "sending" | "sent" | "delivered" | "undelivered" | "failed" | "read" | "canceled";

export interface MessageStatusChanged {
  type: "message.status";
  linkId: LinkId;
  providerMessageId: string;
  status: MessageStatus;
  errorCode: number | null;
}

export type CallStatus = "queued" | "initiated" | "ringing" | "in-progress" | "completed" | "busy" | "failed" | "no-answer" | "canceled";

export interface CallIncoming {
  type: "call.incoming";
  linkId: LinkId;
  providerCallId: string;
  /** Null for a withheld caller id. */
  from: E164 | null;
  to: E164;
}

export interface CallStatusChanged {
  type: "call.status";
  linkId: LinkId;
  providerCallId: string;
  /** The bridge's id of the call, when the callback URL carried it (outbound calls). */
  callId: string | null;
  status: CallStatus;
  durationSeconds: number | null;
}

/** A voicemail recording is ready at the provider. */
export interface CallRecording {
  type: "call.recording";
  linkId: LinkId;
  providerCallId: string;
  url: string;
  durationSeconds: number;
}

export type ProviderEvent = SmsReceived | MessageStatusChanged | CallIncoming | CallStatusChanged | CallRecording;
