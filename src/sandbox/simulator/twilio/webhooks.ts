import { randomUUID } from "node:crypto";
import twilio from "twilio";
import type { Logger } from "pino";
import type { HttpMethod, WebhookOutcome } from "./state.js";

/**
 * Webhooks as Twilio sends them: one request, signed with the account's auth token, no retries
 * and no dedupe (Twilio does not retry a missed SMS webhook). A request that gets no HTTP
 * response at all (refused, reset, timed out) is reported as status 0, never thrown.
 */

/** Webhook parameters in the order they go on the wire; lists become repeated keys. */
export type WebhookParams = Record<string, string | string[]>;

/** Twilio gives up on a webhook after 15 seconds. */
export const WEBHOOK_TIMEOUT_MS = 15_000;

/**
 * `X-Twilio-Signature` for a request to `url` carrying `params` in its form body, computed by
 * the SDK's own code so it can never drift from what `validateRequest` checks.
 */
export function signTwilioRequest(url: string, params: WebhookParams, authToken: string): string {
  return twilio.getExpectedTwilioSignature(authToken, url, params);
}

function encodeForm(params: WebhookParams): string {
  const form = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const v of Array.isArray(value) ? value : [value]) form.append(key, v);
  }
  return form.toString();
}

export interface WebhookRequest {
  url: string;
  method?: HttpMethod;
  params: WebhookParams;
  authToken: string;
  timeoutMs?: number;
  /** Aborts the request when the simulator closes. */
  signal?: AbortSignal;
  logger?: Logger;
  now?: () => Date;
}

export async function sendSignedWebhook(request: WebhookRequest): Promise<WebhookOutcome> {
  const method = request.method ?? "POST";
  const now = request.now ?? (() => new Date());
  // A GET webhook carries its parameters in the query string, and then they are part of the
  // signed URL rather than signed again as form parameters.
  const form = encodeForm(request.params);
  const url =
    method === "GET" && form !== "" ? `${request.url}${request.url.includes("?") ? "&" : "?"}${form}` : request.url;
  const signature = signTwilioRequest(url, method === "GET" ? {} : request.params, request.authToken);
  const headers: Record<string, string> = {
    "X-Twilio-Signature": signature,
    "I-Twilio-Idempotency-Token": randomUUID(),
    "User-Agent": "TwilioProxy/1.1",
    Accept: "*/*",
  };
  if (method === "POST") headers["Content-Type"] = "application/x-www-form-urlencoded";

  const timeout = AbortSignal.timeout(request.timeoutMs ?? WEBHOOK_TIMEOUT_MS);
  const signal = request.signal ? AbortSignal.any([timeout, request.signal]) : timeout;
  const target = safeOrigin(url);
  try {
    const response = await fetch(url, { method, headers, body: method === "POST" ? form : undefined, signal });
    const body = await response.text();
    request.logger?.debug({ target, method, status: response.status }, "webhook delivered");
    const contentType = response.headers.get("content-type");
    return { url, method, status: response.status, body, ...(contentType ? { contentType } : {}), at: now() };
  } catch (err) {
    const error = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    request.logger?.info({ target, method, error }, "webhook got no response");
    return { url, method, status: 0, body: "", error, at: now() };
  }
}

/** Only the origin goes to logs: webhook paths and queries may carry the receiver's secrets. */
function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(invalid url)";
  }
}
