import { parsePhoneNumberFromString, type CountryCode, type PhoneNumber } from "libphonenumber-js";
import { BridgeError } from "./errors.js";
import { e164, type E164 } from "./ids.js";

/**
 * Phone numbers as people type them. Numbers are accepted when they are *possible* (the right
 * length for their country), not only when *valid* (assigned ranges), so fictional test ranges
 * like 555-0100 to 555-0199 and the UK's 07700 900000 to 900999 work.
 */

const clean = (input: string) => input.trim().replace(/^00/, "+");

function accepted(parsed: PhoneNumber | undefined): E164 | null {
  return parsed && parsed.isPossible() ? e164(parsed.number) : null;
}

/** A number in international form, as `link` takes it: "+1 555 000 1111", "+447700900123". */
export function parseInternationalNumber(input: string): E164 {
  const text = clean(input);
  const number = text.startsWith("+") ? accepted(parsePhoneNumberFromString(text)) : null;
  if (!number) {
    throw new BridgeError("command-usage", "not an international phone number", {
      userMessage: `\`${input}\` is not a phone number in international form. Write it with its country code, like \`+1 555 000 1111\` or \`+44 7700 900123\`.`,
    });
  }
  return number;
}

/**
 * A number as a user dials it from a linked number: international form, or national form read
 * in the linked number's country, or (North America) a 7-digit local number in its area code.
 */
export function parseDialedNumber(input: string, from: E164): E164 {
  const text = clean(input);
  const home = parsePhoneNumberFromString(from);
  const country: CountryCode | undefined = home?.country ?? home?.getPossibleCountries()[0];
  let number: E164 | null = null;
  if (text.startsWith("+")) {
    number = accepted(parsePhoneNumberFromString(text));
  } else if (home) {
    const digits = text.replace(/[^\d]/g, "");
    const local = home.countryCallingCode === "1" && digits.length === 7 ? home.nationalNumber.slice(0, 3) + digits : text;
    number = accepted(
      country ? parsePhoneNumberFromString(local, country) : parsePhoneNumberFromString(local, { defaultCallingCode: home.countryCallingCode }),
    );
  }
  if (!number) {
    const example = home ? home.formatNational() : "555 0134";
    throw new BridgeError("command-usage", "not a phone number", {
      userMessage: `\`${input}\` is not a phone number I can dial. Write it in international form (\`+44 7700 900123\`), or as you would dial it from ${from} (\`${example}\`${home?.countryCallingCode === "1" ? " or a 7-digit local number" : ""}).`,
    });
  }
  return number;
}

/** "+1 555 000 1111": how numbers are shown to people. */
export function formatNumber(number: E164): string {
  return parsePhoneNumberFromString(number)?.formatInternational() ?? number;
}
