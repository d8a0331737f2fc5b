import { describe, expect, it } from "vitest";
import { e164 } from "../../src/ids.js";
import { formatNumber, parseDialedNumber, parseInternationalNumber } from "../../src/numbers.js";

describe("parseInternationalNumber", () => {
  it.each([
    ["+1 555 000 1111", "+15550001111"],
    ["+15550001111", "+15550001111"],
    ["0044 7700 900123", "+447700900123"],
    ["+44 (0)7700 900123", "+447700900123"],
  ])("%s → %s", (input, expected) => expect(parseInternationalNumber(input)).toBe(expected));

  it.each([["555 000 1111"], ["+1 555"], ["hello"], [""], ["+999 1234"]])("refuses %j with the accepted form", (input) => {
    expect(() => parseInternationalNumber(input)).toThrow(expect.objectContaining({ code: "command-usage", userMessage: expect.stringContaining("+1 555 000 1111") }));
  });
});

describe("parseDialedNumber", () => {
  const us = e164("+15550001111");
  const uk = e164("+447700900000");
  it.each([
    ["555 0134", us, "+15555550134"],
    ["(555) 010-0134", us, "+15550100134"],
    ["+44 7700 900123", us, "+447700900123"],
    ["07700 900123", uk, "+447700900123"],
    ["+1 555 010 0134", uk, "+15550100134"],
  ])("%s from %s → %s", (input, from, expected) => expect(parseDialedNumber(input, from)).toBe(expected));

  it.each([["12"], ["call me"], ["555 01"], ["+44 12"]])("refuses %j and shows the accepted forms", (input) => {
    expect(() => parseDialedNumber(input, us)).toThrow(
      expect.objectContaining({ code: "command-usage", userMessage: expect.stringContaining("7-digit local number") }),
    );
  });
});

describe("formatNumber", () => {
  it("writes numbers in international form", () => {
    expect(formatNumber(e164("+15550001111"))).toBe("+1 555 000 1111");
    expect(formatNumber(e164("+447700900123"))).toBe("+44 7700 900123");
  });
});
