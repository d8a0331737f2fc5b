import formbody from "@fastify/formbody";
import Fastify from "fastify";
import twilio from "twilio";

/**
 * A stand-in for the bridge's HTTP side on 127.0.0.1:0: records every webhook it receives
 * (with the full URL it was sent to, for signature checks) and serves media files.
 */

export type FormParams = Record<string, string | string[]>;

export interface ReceivedRequest {
  method: string;
  /** Absolute URL as the sender used it, query included. */
  url: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Form body for POST, query for GET. */
  params: FormParams;
}

export interface Receiver {
  url: string;
  requests: ReceivedRequest[];
  /** Serves `data` at `path` (GET) with `contentType`. */
  serve(path: string, contentType: string, data: Buffer): void;
  /** Every request to `path` from now on answers `status`. */
  answer(path: string, status: number, body?: string): void;
  /** Requests whose path is `path`, in arrival order. */
  at(path: string): ReceivedRequest[];
  /** Polls until `count` requests reached `path`. */
  waitFor(path: string, count: number, timeoutMs?: number): Promise<ReceivedRequest[]>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const app = Fastify();
  await app.register(formbody);
  const requests: ReceivedRequest[] = [];
  const files = new Map<string, { contentType: string; data: Buffer }>();
  const answers = new Map<string, { status: number; body: string }>();
  let base = "";

  app.all("/*", async (request, reply) => {
    const path = request.url.split("?")[0] ?? "";
    const file = files.get(path);
    if (request.method === "GET" && file) return reply.type(file.contentType).send(file.data);
    requests.push({
      method: request.method,
      url: base + request.url,
      path,
      headers: { ...request.headers },
      params: ((request.method === "GET" ? request.query : request.body) ?? {}) as FormParams,
    });
    const answer = answers.get(path);
    if (answer) return reply.code(answer.status).type("text/plain").send(answer.body);
    return reply.type("text/xml").send('<?xml version="1.0" encoding="UTF-8"?><Response></Response>');
  });

  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === "string") throw new Error("receiver has no TCP address");
  base = `http://127.0.0.1:${address.port}`;

  const at = (path: string) => requests.filter((r) => r.path === path);
  return {
    url: base,
    requests,
    serve: (path, contentType, data) => files.set(path, { contentType, data }),
    answer: (path, status, body = "") => answers.set(path, { status, body }),
    at,
    async waitFor(path, count, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (at(path).length < count) {
        if (Date.now() > deadline) {
          throw new Error(`expected ${count} requests to ${path}, got ${at(path).length}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return at(path);
    },
    close: () => app.close(),
  };
}

/**
 * Whether `request` carries a valid `X-Twilio-Signature` for `authToken`, checked by the SDK's
 * own `validateRequest` against the URL it was sent to. GET webhooks sign the URL alone.
 */
export function isSignedBy(authToken: string, request: ReceivedRequest): boolean {
  const signature = request.headers["x-twilio-signature"];
  if (typeof signature !== "string") return false;
  return twilio.validateRequest(authToken, signature, request.url, request.method === "GET" ? {} : request.params);
}

/** The one string value of a form parameter (fails the test on lists). */
export function single(params: FormParams, key: string): string | undefined {
  const value = params[key];
  if (Array.isArray(value)) throw new Error(`${key} was repeated`);
  return value;
}

/** Polls `check` until it returns a value other than undefined. */
export async function eventually<T>(check: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
