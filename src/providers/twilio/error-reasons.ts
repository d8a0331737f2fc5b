/**
 * Twilio's messaging error codes, in words a person in the room understands. Codes not listed
 * get a generic sentence with the code, which Twilio's error dictionary explains.
 */
const REASONS: Record<number, string> = {
  21211: "the number is not a valid phone number",
  21408: "the Twilio account is not allowed to send to that country (Geo Permissions)",
  21610: "the recipient has opted out of texts from this number (they replied STOP); they can reply START to opt back in",
  21612: "Twilio can't route a text to that number",
  21614: "the number can't receive texts (it is not a mobile number)",
  21617: "the text is too long",
  21623: "too many attachments for one message",
  30003: "the phone is unreachable (switched off or out of coverage)",
  30004: "the message was blocked (the recipient or their carrier blocks it)",
  30005: "the number is unknown or no longer in service",
  30006: "the number is a landline or its carrier can't take texts",
  30007: "the carrier filtered the message as spam",
  30008: "the carrier reported an unknown error",
  30019: "the message content is too large for the carrier",
  63019: "the attachment could not be downloaded",
};

export function twilioReason(code: number | null | undefined): string {
  if (!code) return "the carrier did not say why";
  return REASONS[code] ?? `Twilio error ${code} (see twilio.com/docs/api/errors/${code})`;
}
