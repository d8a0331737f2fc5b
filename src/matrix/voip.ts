import { randomBytes } from "node:crypto";
import type { CallEndReason } from "../storage/calls.js";

/**
 * Matrix VoIP events (the spec's "Voice over IP" module, v1.7+ / MSC2746), as the bridge's
 * ghosts send them and as Element's js-sdk sends them to us.
 */

export type CallEventType =
  | "m.call.invite"
  | "m.call.candidates"
  | "m.call.answer"
  | "m.call.select_answer"
  | "m.call.reject"
  | "m.call.negotiate"
  | "m.call.hangup"
  | "m.call.sdp_stream_metadata_changed"
  | "org.matrix.call.sdp_stream_metadata_changed";

export const CALL_EVENT_TYPES = new Set<string>([
  "m.call.invite",
  "m.call.candidates",
  "m.call.answer",
  "m.call.select_answer",
  "m.call.reject",
  "m.call.negotiate",
  "m.call.hangup",
  "m.call.sdp_stream_metadata_changed",
  "org.matrix.call.sdp_stream_metadata_changed",
]);

/** How long a ghost's invite may ring; the spec recommends at least 90 s, js-sdk sends 60 s. */
export const INVITE_LIFETIME_MS = 90_000;

/** A call id for a new Matrix call: opaque, 1–255 characters of [0-9a-zA-Z._~-]. */
export const makeMatrixCallId = (): string => `pstn${Date.now().toString(36)}${randomBytes(6).toString("hex")}`;
/** The spec recommends 8 alphanumeric characters for a party id. */
export const makePartyId = (): string => randomBytes(6).toString("base64url").replace(/[-_]/g, "x").slice(0, 8);

/**
 * The version a call event speaks: "1", or 0 for legacy clients. Any other value is to be read as
 * "1" (spec), including the integer 1 some clients send.
 */
export function callVersion(content: Record<string, unknown>): 0 | "1" {
  return content.version === 0 || content.version === "0" ? 0 : "1";
}

export interface CallContentBase {
  call_id: string;
  party_id: string;
  version: "1";
}

export const base = (callId: string, partyId: string): CallContentBase => ({ call_id: callId, party_id: partyId, version: "1" });

export function inviteContent(callId: string, partyId: string, sdp: string, invitee: string, lifetimeMs = INVITE_LIFETIME_MS) {
  return {
    ...base(callId, partyId),
    lifetime: lifetimeMs,
    invitee,
    offer: { type: "offer", sdp },
    // Tells js-sdk it may send DTMF in this call.
    capabilities: { "m.call.dtmf": true, "m.call.transferee": false },
  };
}

export function answerContent(callId: string, partyId: string, sdp: string) {
  return { ...base(callId, partyId), answer: { type: "answer", sdp }, capabilities: { "m.call.dtmf": true, "m.call.transferee": false } };
}

export const selectAnswerContent = (callId: string, partyId: string, selected: string) => ({ ...base(callId, partyId), selected_party_id: selected });

export function candidatesContent(callId: string, partyId: string, candidates: { candidate: string; sdpMid?: string | null; sdpMLineIndex?: number | null }[]) {
  return { ...base(callId, partyId), candidates };
}

export type HangupReason = "ice_failed" | "invite_timeout" | "user_hangup" | "user_media_failed" | "user_busy" | "unknown_error" | "answered_elsewhere" | "replaced";

export const hangupContent = (callId: string, partyId: string, reason: HangupReason) => ({ ...base(callId, partyId), reason });

/**
 * Ending a call someone placed before we answered it: a reject (a hangup from a party the caller
 * hasn't selected is ignored by js-sdk). The reason is not in the spec's reject, but js-sdk reads
 * it, so Element can say "busy" rather than "declined".
 */
export const rejectContent = (callId: string, partyId: string, reason: HangupReason) => ({ ...base(callId, partyId), reason });

/** How the phone side's end of a call reads as a Matrix hangup reason. */
export function hangupReasonFor(reason: CallEndReason): HangupReason {
  switch (reason) {
    case "busy":
      return "user_busy";
    case "no-answer":
    case "missed":
    case "voicemail":
      return "invite_timeout";
    case "failed":
    case "restart":
      return "unknown_error";
    default:
      return "user_hangup";
  }
}

/** The SDP in an invite, answer or negotiate, if well formed. */
export function sdpOf(content: Record<string, unknown>, field: "offer" | "answer" | "description"): string | null {
  const value = content[field] as { sdp?: unknown } | undefined;
  return typeof value?.sdp === "string" && value.sdp.startsWith("v=0") ? value.sdp : null;
}
