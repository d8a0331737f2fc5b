import { parsePhoneNumberFromString } from "libphonenumber-js/max";
import { BridgeError } from "../errors.js";
import type { E164 } from "../ids.js";

/**
 * Where outbound calls may go. Emergency services never (this bridge can't give a location or
 * keep a line open for them), premium-rate numbers and other countries only when the config
 * allows: toll fraud through a hijacked Matrix account is the risk.
 */
const EMERGENCY = new Set(["112", "911", "999", "000", "110", "119", "118", "117", "113", "100", "101", "102", "108", "15", "17", "18", "933"]);

export interface CallPolicy {
  allowedCountries: string[];
  allowPremium: boolean;
}

export function isEmergencyNumber(number: string): boolean {
  const digits = number.replace(/[^\d]/g, "");
  const parsed = parsePhoneNumberFromString(number.startsWith("+") ? number : `+${digits}`);
  return EMERGENCY.has(digits) || (parsed ? EMERGENCY.has(parsed.nationalNumber) : false);
}

/** Throws a BridgeError with a user message when `to` may not be called from `from`. */
export function checkDestination(to: E164, from: E164, policy: CallPolicy): void {
  if (isEmergencyNumber(to)) {
    throw new BridgeError("permission-denied", "emergency number refused", {
      userMessage: "This bridge is not an emergency service and can't call emergency numbers. Use a phone.",
    });
  }
  const target = parsePhoneNumberFromString(to);
  const home = parsePhoneNumberFromString(from);
  if (target?.getType() === "PREMIUM_RATE" && !policy.allowPremium) {
    throw new BridgeError("permission-denied", "premium-rate number refused", {
      userMessage: `${target.formatInternational()} is a premium-rate number; calls to those are not allowed on this bridge.`,
    });
  }
  const allowed = policy.allowedCountries.includes("*") || target?.countryCallingCode === home?.countryCallingCode ||
    (target?.country !== undefined && policy.allowedCountries.includes(target.country));
  if (!allowed) {
    throw new BridgeError("permission-denied", "destination country not allowed", {
      userMessage: `Calls to ${target?.formatInternational() ?? to} (another country) are not allowed on this bridge; its administrator can allow them in calls.allowedCountries.`,
    });
  }
}
