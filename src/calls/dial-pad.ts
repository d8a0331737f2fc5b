import { isEmergencyNumber } from "./policy.js";
import type { E164 } from "../ids.js";
import { parseDialedNumber, parseInternationalNumber } from "../numbers.js";

/**
 * A number typed on Element's dial pad, as an E.164 number, or null. The lookup doesn't say who is
 * dialling, so national numbers are read as dialled from the bridge's first linked number (the
 * common case: one deployment, one country). Emergency numbers resolve to nothing: the bridge is
 * not an emergency service, and Element then says the number can't be called.
 */
export function dialPadNumber(input: string, linkedNumbers: E164[]): E164 | null {
  if (isEmergencyNumber(input)) return null;
  try {
    if (input.trim().startsWith("+") || input.trim().startsWith("00")) return parseInternationalNumber(input);
    const home = linkedNumbers[0];
    return home ? parseDialedNumber(input, home) : null;
  } catch {
    return null;
  }
}
