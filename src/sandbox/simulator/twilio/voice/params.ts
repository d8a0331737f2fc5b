import { randomBytes } from "node:crypto";
import { countryOf } from "../inbound.js";
import { API_VERSION, rfc2822 } from "../resources.js";
import type { WebhookParams } from "../webhooks.js";
import type { CallRecord, CallStatus } from "./records.js";

/**
 * The parameters of Twilio's voice requests, in the order real requests carry them (captured
 * status callbacks show this order; the signature does not depend on it). City, state and zip
 * are empty strings, as Twilio often sends them; countries come from the numbers.
 */

/** Standard call parameters: every TwiML request (voice URL, action, redirect) carries them. */
export function callParams(call: CallRecord, status: CallStatus = call.status): WebhookParams {
  const fromCountry = countryOf(call.from);
  const toCountry = countryOf(call.to);
  const params: WebhookParams = {
    Called: call.to,
    ToState: "",
    CallerCountry: fromCountry,
    Direction: call.direction,
    CallerState: "",
    ToZip: "",
    CallSid: call.sid,
    To: call.to,
    CallerZip: "",
    ToCountry: toCountry,
  };
  if (call.direction === "inbound") params["CallToken"] = callToken(call);
  Object.assign(params, {
    CalledZip: "",
    ApiVersion: API_VERSION,
    CalledCity: "",
    CallStatus: status,
    From: call.from,
    AccountSid: call.accountSid,
    CalledCountry: toCountry,
    CallerCity: "",
    ToCity: "",
    FromCountry: fromCountry,
    Caller: call.from,
    FromCity: "",
    CalledState: "",
    FromZip: "",
    FromState: "",
  });
  if (call.parentCallSid) params["ParentCallSid"] = call.parentCallSid;
  return params;
}

export interface StatusCallbackExtra {
  sequenceNumber: number;
  at: Date;
  /** Seconds connected; terminal events only. */
  callDuration?: number;
  sipResponseCode?: number | null;
}

/** A call progress status callback (`CallbackSource=call-progress-events`). */
export function statusCallbackParams(call: CallRecord, status: CallStatus, extra: StatusCallbackExtra): WebhookParams {
  const fromCountry = countryOf(call.from);
  const toCountry = countryOf(call.to);
  const terminal = extra.callDuration !== undefined;
  const params: WebhookParams = {
    Called: call.to,
    ToState: "",
    CallerCountry: fromCountry,
    Direction: call.direction,
    Timestamp: rfc2822(extra.at),
    CallbackSource: "call-progress-events",
  };
  if (terminal && extra.sipResponseCode) params["SipResponseCode"] = String(extra.sipResponseCode);
  Object.assign(params, {
    CallerState: "",
    ToZip: "",
    SequenceNumber: String(extra.sequenceNumber),
    CallSid: call.sid,
  });
  if (call.parentCallSid) params["ParentCallSid"] = call.parentCallSid;
  Object.assign(params, {
    To: call.to,
    CallerZip: "",
    ToCountry: toCountry,
    CalledZip: "",
    ApiVersion: API_VERSION,
    CalledCity: "",
    CallStatus: status,
  });
  // Duration is in minutes, rounded up; CallDuration in seconds (captured: busy gives 0 and 0).
  if (terminal) params["Duration"] = String(Math.ceil((extra.callDuration ?? 0) / 60));
  params["From"] = call.from;
  if (terminal) params["CallDuration"] = String(extra.callDuration ?? 0);
  Object.assign(params, {
    AccountSid: call.accountSid,
    CalledCountry: toCountry,
    CallerCity: "",
    ToCity: "",
    FromCountry: fromCountry,
    Caller: call.from,
    FromCity: "",
    CalledState: "",
    FromZip: "",
    FromState: "",
  });
  return params;
}

const tokens = new WeakMap<CallRecord, string>();

/**
 * `CallToken`, sent with inbound calls so the receiver can forward the caller's identity. Real
 * ones are opaque signed blobs; the simulator sends an opaque random string of similar use.
 */
function callToken(call: CallRecord): string {
  let token = tokens.get(call);
  if (!token) {
    token = `%7B%22parentCallInfoToken%22%3A%22${randomBytes(24).toString("base64url")}%22%7D`;
    tokens.set(call, token);
  }
  return token;
}
