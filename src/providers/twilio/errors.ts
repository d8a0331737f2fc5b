import { BridgeError } from "../../errors.js";

const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "ECONNABORTED", "EPIPE", "EHOSTUNREACH"]);

interface TwilioFailure {
  status?: number;
  code?: number | string;
  message?: string;
  moreInfo?: string;
}

/**
 * Turns whatever the twilio SDK threw (a RestException with Twilio's code, or a transport error)
 * into a BridgeError whose code tells the link machine what to do next.
 */
export function toBridgeError(err: unknown, action: string): BridgeError {
  const failure = (typeof err === "object" && err !== null ? err : {}) as TwilioFailure;
  const status = typeof failure.status === "number" ? failure.status : undefined;
  const twilioCode = typeof failure.code === "number" ? failure.code : undefined;
  const context = { action, status, twilioCode };
  if (status === 401 || twilioCode === 20003) {
    return new BridgeError("provider-credentials-rejected", `twilio refused the credentials while trying to ${action}`, {
      userMessage: "Twilio rejected these credentials. Check the Account SID and Auth Token in the Twilio console.",
      context,
      cause: err,
    });
  }
  const transport = typeof failure.code === "string" && (NETWORK_CODES.has(failure.code) || failure.code.startsWith("ERR_"));
  if (status === undefined && !transport) {
    // Neither Twilio's answer nor a network failure: a bug on our side, not worth retrying.
    return new BridgeError("internal", `unexpected error while trying to ${action}`, { context, cause: err });
  }
  if (status === 429 || (status !== undefined && status >= 500) || transport) {
    return new BridgeError("provider-unavailable", `twilio could not be reached to ${action}`, {
      userMessage: `Twilio could not be reached (${status ? `HTTP ${status}` : "no response"}). The bridge will keep trying.`,
      context,
      cause: err,
    });
  }
  return new BridgeError("provider-rejected", `twilio refused to ${action}: ${failure.message ?? "no message"}`, {
    userMessage: `Twilio refused to ${action}: ${failure.message ?? `HTTP ${status}`}${twilioCode ? ` (error ${twilioCode})` : ""}.`,
    context,
    cause: err,
  });
}
