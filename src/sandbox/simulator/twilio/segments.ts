/**
 * SMS segment counting the way carriers bill it: GSM-7 when every character is in the GSM 03.38
 * basic or extension table (160 septets alone, 153 per part when concatenated, extension
 * characters cost two septets), otherwise UCS-2 (70 UTF-16 units alone, 67 per part).
 */

const GSM_BASIC =
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
  "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENSION = "^{}\\[~]|€\f";

const basic = new Set(GSM_BASIC);
const extension = new Set(GSM_EXTENSION);

export type SmsEncoding = "GSM-7" | "UCS-2";

export interface SegmentCount {
  encoding: SmsEncoding;
  segments: number;
}

export function countSegments(body: string): SegmentCount {
  let septets = 0;
  for (const ch of body) {
    if (basic.has(ch)) septets += 1;
    else if (extension.has(ch)) septets += 2;
    else return { encoding: "UCS-2", segments: parts(body.length, 70, 67) };
  }
  return { encoding: "GSM-7", segments: parts(septets, 160, 153) };
}

function parts(units: number, single: number, perPart: number): number {
  if (units <= single) return 1;
  return Math.ceil(units / perPart);
}
