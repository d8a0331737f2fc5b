import twilio from "twilio";

export type TwilioSdk = twilio.Twilio;

/** How long one REST call may take before it counts as the provider being unavailable. */
const REQUEST_TIMEOUT_MS = 15_000;

/**
 * Builds the real twilio SDK client. `apiBaseUrl` (config `providers.twilio.apiBaseUrl`) replaces
 * https://api.twilio.com and nothing else: the carrier simulator is reached through the same code
 * path as Twilio itself.
 */
export function createTwilioSdk(accountSid: string, authToken: string, apiBaseUrl: string | null): TwilioSdk {
  const client = twilio(accountSid, authToken, { timeout: REQUEST_TIMEOUT_MS, autoRetry: false });
  if (apiBaseUrl) client.api.baseUrl = apiBaseUrl.replace(/\/+$/, "");
  return client;
}
