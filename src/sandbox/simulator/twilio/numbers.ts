import type { NumberOptions } from "../types.js";
import { restErrors, SimulatorError } from "./errors.js";
import { first, type Query } from "./paging.js";
import { makeSid, type HttpMethod, type NumberRecord, type TwilioState } from "./state.js";

/** IncomingPhoneNumbers: giving an account a number, and the REST update of its configuration. */

const E164 = /^\+[1-9]\d{1,14}$/;

export const isE164 = (value: string): boolean => E164.test(value);

/**
 * Adds `phoneNumber` to the account, configured as Twilio configures a fresh number. Throws
 * `SimulatorError` (`sim-unknown-account`, `sim-invalid-number`, `sim-number-taken`,
 * `sim-invalid-input`).
 */
export function createNumber(
  state: TwilioState,
  accountSid: string,
  phoneNumber: string,
  options: NumberOptions = {},
): NumberRecord {
  state.account(accountSid);
  for (const [name, value, prefix] of [
    ["smsApplicationSid", options.smsApplicationSid, "AP"],
    ["voiceApplicationSid", options.voiceApplicationSid, "AP"],
    ["trunkSid", options.trunkSid, "TK"],
  ] as const) {
    if (value !== undefined && !new RegExp(`^${prefix}[0-9a-fA-F]{32}$`).test(value)) {
      throw new SimulatorError("sim-invalid-input", `${name} must be ${prefix} followed by 32 hex digits`);
    }
  }
  if (!isE164(phoneNumber)) throw new SimulatorError("sim-invalid-number", `not an E.164 number: ${phoneNumber}`);
  if (state.numberByPhone(phoneNumber)) {
    throw new SimulatorError("sim-number-taken", `${phoneNumber} already belongs to an account`);
  }
  const now = state.now();
  const number: NumberRecord = {
    sid: makeSid("PN"),
    accountSid,
    phoneNumber,
    friendlyName: options.friendlyName ?? defaultFriendlyName(phoneNumber),
    smsUrl: options.smsUrl ?? "",
    smsMethod: options.smsMethod ?? "POST",
    smsFallbackUrl: "",
    smsFallbackMethod: "POST",
    voiceUrl: options.voiceUrl ?? null,
    voiceMethod: options.voiceMethod ?? "POST",
    voiceFallbackUrl: options.voiceFallbackUrl ?? null,
    voiceFallbackMethod: "POST",
    statusCallback: options.statusCallback ?? "",
    statusCallbackMethod: options.statusCallbackMethod ?? "POST",
    smsApplicationSid: options.smsApplicationSid ?? null,
    voiceApplicationSid: options.voiceApplicationSid ?? null,
    trunkSid: options.trunkSid ?? null,
    dateCreated: now,
    dateUpdated: now,
  };
  state.numbers.set(number.sid, number);
  return number;
}

/**
 * Applies an IncomingPhoneNumbers update form; an empty string clears a field. Throws
 * `TwilioApiError` 21402 (URL), 21403 (method) or 21420 (application sid).
 */
export function applyNumberUpdate(state: TwilioState, number: NumberRecord, form: Query): void {
  const url = (param: string): string | undefined => {
    const value = first(form, param);
    if (value === undefined || value === "") return value;
    if (!/^https?:\/\/[^\s/?#]+/i.test(value)) throw restErrors.invalidUrl(param);
    return value;
  };
  const method = (param: string): HttpMethod | undefined => {
    const value = first(form, param);
    if (value === undefined || value === "") return undefined;
    const upper = value.toUpperCase();
    if (upper !== "GET" && upper !== "POST") throw restErrors.invalidMethod(param);
    return upper;
  };
  const applicationSid = (param: string): string | null | undefined => {
    const value = first(form, param);
    if (value === undefined) return undefined;
    // Twilio's examples show "" for an unset application sid, but its schema only allows a sid
    // or null, so the simulator answers null.
    if (value === "") return null;
    if (!/^AP[0-9a-fA-F]{32}$/.test(value)) throw restErrors.applicationNotAccessible(param);
    return value;
  };
  // Validate everything before changing anything: a refused request must leave no trace.
  const update = {
    smsUrl: url("SmsUrl"),
    smsMethod: method("SmsMethod"),
    smsFallbackUrl: url("SmsFallbackUrl"),
    smsFallbackMethod: method("SmsFallbackMethod"),
    voiceUrl: url("VoiceUrl"),
    voiceMethod: method("VoiceMethod"),
    voiceFallbackUrl: url("VoiceFallbackUrl"),
    voiceFallbackMethod: method("VoiceFallbackMethod"),
    statusCallback: url("StatusCallback"),
    statusCallbackMethod: method("StatusCallbackMethod"),
    friendlyName: first(form, "FriendlyName"),
    smsApplicationSid: applicationSid("SmsApplicationSid"),
    voiceApplicationSid: applicationSid("VoiceApplicationSid"),
  };
  if (update.smsUrl !== undefined) number.smsUrl = update.smsUrl;
  if (update.smsMethod) number.smsMethod = update.smsMethod;
  if (update.smsFallbackUrl !== undefined) number.smsFallbackUrl = update.smsFallbackUrl;
  if (update.smsFallbackMethod) number.smsFallbackMethod = update.smsFallbackMethod;
  if (update.voiceUrl !== undefined) number.voiceUrl = update.voiceUrl;
  if (update.voiceMethod) number.voiceMethod = update.voiceMethod;
  if (update.voiceFallbackUrl !== undefined) number.voiceFallbackUrl = update.voiceFallbackUrl;
  if (update.voiceFallbackMethod) number.voiceFallbackMethod = update.voiceFallbackMethod;
  if (update.statusCallback !== undefined) number.statusCallback = update.statusCallback;
  if (update.statusCallbackMethod) number.statusCallbackMethod = update.statusCallbackMethod;
  if (update.friendlyName !== undefined) {
    number.friendlyName = update.friendlyName || defaultFriendlyName(number.phoneNumber);
  }
  if (update.smsApplicationSid !== undefined) number.smsApplicationSid = update.smsApplicationSid;
  if (update.voiceApplicationSid !== undefined) number.voiceApplicationSid = update.voiceApplicationSid;
  number.dateUpdated = state.now();
}

/** Twilio's default friendly name: national format for NANP numbers, else the number itself. */
function defaultFriendlyName(phoneNumber: string): string {
  const nanp = /^\+1(\d{3})(\d{3})(\d{4})$/.exec(phoneNumber);
  return nanp ? `(${nanp[1]}) ${nanp[2]}-${nanp[3]}` : phoneNumber;
}
