import type { HttpMethod, WebhookOutcome } from "../state.js";

/** What the simulated Twilio remembers about calls and recordings. */

/**
 * Call progress as Twilio reports it in callbacks. The REST resource never shows `initiated`
 * (its enum has no such value): an initiated call reads `queued` there.
 */
export type CallStatus =
  | "queued"
  | "initiated"
  | "ringing"
  | "in-progress"
  | "completed"
  | "busy"
  | "failed"
  | "no-answer"
  | "canceled";

export type CallDirection = "inbound" | "outbound-api" | "outbound-dial";

/** `StatusCallbackEvent` values; `answered` reports `CallStatus=in-progress`. */
export type CallEvent = "initiated" | "ringing" | "answered" | "completed";

export const TERMINAL_STATUSES: readonly CallStatus[] = ["completed", "busy", "failed", "no-answer", "canceled"];
export const isTerminal = (status: CallStatus): boolean => TERMINAL_STATUSES.includes(status);

export interface CallStatusStep {
  status: CallStatus;
  at: Date;
  /** The `SequenceNumber` this step has in status callbacks (Twilio counts every progress event). */
  sequenceNumber: number;
  /** The status callback sent for this step, once it completed (absent when none was requested). */
  callback?: WebhookOutcome;
}

/** Why the simulator made a request for a call. */
export type CallWebhookPurpose =
  | "voice"
  | "fallback"
  | "redirect"
  | "action"
  | "status-callback"
  | "stream-status-callback"
  | "recording-status-callback";

/** One thing that happened on a call, for tests and the phone page. */
export type CallLogEntry = { at: Date } & CallLogEvent;

export type CallLogEvent =
  | { type: "status"; status: CallStatus }
  | { type: "webhook"; purpose: CallWebhookPurpose; url: string; method: HttpMethod; status: number; error?: string }
  /** A TwiML verb started (its attributes as written). */
  | { type: "verb"; verb: string; attributes: Record<string, string> }
  /** Speech played to the handset: `<Say>` text, or Twilio's own announcements (source "twilio"). */
  | { type: "say"; text: string; source: "twiml" | "twilio" }
  /** A verb or noun the simulator did not run, as Twilio skips what it doesn't understand. */
  | { type: "skipped"; verb: string; reason: string }
  /**
   * A Twilio warning or error code, as the Twilio console's debugger would show it; code 0 for
   * the simulator's own notes (a limitation, a fault it injected, a repeated warning).
   */
  | { type: "warning"; code: number; message: string }
  /** A key the handset pressed (sent as a DTMF event and played in band). */
  | { type: "dtmf"; digit: string }
  | {
      type: "stream";
      event: "connected" | "closed-by-server" | "stopped" | "failed";
      url: string;
      streamSid: string;
      detail?: string;
    }
  | { type: "recording"; recordingSid: string; duration: number; digits: string | null }
  | { type: "dial"; callSid: string; to: string; dialCallStatus: CallStatus };

export interface CallRecord {
  sid: string;
  accountSid: string;
  parentCallSid: string | null;
  direction: CallDirection;
  from: string;
  to: string;
  /** The Twilio number involved: the one called (inbound) or calling (outbound). */
  phoneNumberSid: string | null;
  status: CallStatus;
  dateCreated: Date;
  dateUpdated: Date;
  startTime: Date | null;
  answeredAt: Date | null;
  endTime: Date | null;
  /** Where the call's TwiML comes from once answered (outbound), or came from (inbound). */
  url: string | null;
  method: HttpMethod;
  twiml: string | null;
  fallbackUrl: string | null;
  fallbackMethod: HttpMethod;
  statusCallback: string | null;
  statusCallbackMethod: HttpMethod;
  statusCallbackEvents: CallEvent[];
  /** Seconds to let it ring before giving up (`Timeout`, `<Dial timeout>`). */
  timeoutSeconds: number;
  sipResponseCode: number | null;
  /** Progress events so far, the source of `SequenceNumber`. */
  events: number;
  history: CallStatusStep[];
  log: CallLogEntry[];
  recordingSids: string[];
}

export interface RecordingRecord {
  sid: string;
  accountSid: string;
  callSid: string;
  source: "RecordVerb";
  status: "completed";
  channels: 1;
  dateCreated: Date;
  startTime: Date;
  /** Whole seconds, as Twilio reports them. */
  duration: number;
  /** 8 kHz 16-bit mono PCM. */
  samples: Int16Array;
}
