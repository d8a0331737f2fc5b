import { describe, expect, it } from "vitest";
import { checkDestination, isEmergencyNumber } from "../../src/calls/policy.js";
import { e164 } from "../../src/ids.js";

const US = e164("+14155550100");

describe("call policy", () => {
  it.each([["911"], ["+1911"], ["112"], ["+44999"], ["000"]])("%s is an emergency number", (n) => expect(isEmergencyNumber(n)).toBe(true));
  it.each([["+14155552671"], ["+447700900123"]])("%s is not", (n) => expect(isEmergencyNumber(n)).toBe(false));

  it("refuses emergency numbers with a message saying the bridge is not an emergency service", () => {
    expect(() => checkDestination(e164("+1911"), US, { allowedCountries: ["*"], allowPremium: true })).toThrow(
      expect.objectContaining({ userMessage: expect.stringContaining("not an emergency service") }),
    );
  });

  it("refuses premium-rate numbers unless allowed", () => {
    expect(() => checkDestination(e164("+19005550100"), US, { allowedCountries: [], allowPremium: false })).toThrow(expect.objectContaining({ userMessage: expect.stringContaining("premium-rate") }));
    expect(() => checkDestination(e164("+19005550100"), US, { allowedCountries: [], allowPremium: true })).not.toThrow();
  });

  it("allows the linked number's own country, other countries only when listed", () => {
    expect(() => checkDestination(e164("+14155552671"), US, { allowedCountries: [], allowPremium: false })).not.toThrow();
    expect(() => checkDestination(e164("+442071234567"), US, { allowedCountries: [], allowPremium: false })).toThrow(expect.objectContaining({ userMessage: expect.stringContaining("another country") }));
    expect(() => checkDestination(e164("+442071234567"), US, { allowedCountries: ["GB"], allowPremium: false })).not.toThrow();
    expect(() => checkDestination(e164("+442071234567"), US, { allowedCountries: ["*"], allowPremium: false })).not.toThrow();
  });
});
