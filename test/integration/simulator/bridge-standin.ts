import formbody from "@fastify/formbody";
import websocket from "@fastify/websocket";
import Fastify, { type FastifyRequest } from "fastify";
import twilio from "twilio";
import { fromMulaw } from "../../../src/media/audio/tones.js";
import { wsBytes, type WsData, type WsSocket } from "../../../src/sandbox/simulator/twilio/voice/ws.js";
import type { FormParams, ReceivedRequest } from "./receiver.js";

/**
 * A stand-in for the bridge's voice side on 127.0.0.1:0: answers webhooks with the TwiML each
 * test sets per path, records every request, and accepts Media Streams websockets under
 * `/media/...`, recording what Twilio (the simulator) sends and letting the test answer.
 */

export type TwimlAnswer = string | ((request: ReceivedRequest) => string);

/** One Media Streams message as received (parsed JSON) with its arrival time. */
export interface StreamMessage {
  at: number;
  json: Record<string, unknown> & { event: string };
}

export interface StreamConnection {
  path: string;
  /** Absolute ws:// URL the simulator connected to (what it signed). */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  messages: StreamMessage[];
  socket: WsSocket;
  closed: boolean;
  /** The `start` message's streamSid. */
  streamSid(): string;
  events(event: string): StreamMessage[];
  /** Polls until `count` messages of `event` arrived. */
  waitFor(event: string, count?: number, timeoutMs?: number): Promise<StreamMessage[]>;
  /** Inbound audio so far: every `media` payload decoded, in order. */
  inboundAudio(): Int16Array;
  send(message: unknown): void;
  close(code?: number): void;
  waitClosed(timeoutMs?: number): Promise<void>;
}

export interface StandIn {
  url: string;
  wsUrl: string;
  requests: ReceivedRequest[];
  streams: StreamConnection[];
  /** Answers requests to `path` with this TwiML (text/xml). Unset paths get `<Response/>`. */
  twiml(path: string, answer: TwimlAnswer): void;
  /** Answers requests to `path` with a raw status, body and content type. */
  raw(path: string, status: number, body: string, contentType?: string): void;
  at(path: string): ReceivedRequest[];
  waitFor(path: string, count?: number, timeoutMs?: number): Promise<ReceivedRequest[]>;
  waitForStream(index?: number, timeoutMs?: number): Promise<StreamConnection>;
  close(): Promise<void>;
}

export async function poll<T>(check: () => T | undefined, timeoutMs = 5000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} not met in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export async function startStandIn(): Promise<StandIn> {
  const app = Fastify();
  await app.register(formbody);
  await app.register(websocket);
  const requests: ReceivedRequest[] = [];
  const streams: StreamConnection[] = [];
  const answers = new Map<string, TwimlAnswer>();
  const raws = new Map<string, { status: number; body: string; contentType: string }>();
  let base = "";
  let wsBase = "";

  app.get("/media/*", { websocket: true }, (socket: WsSocket, request: FastifyRequest) => {
    const path = request.url.split("?")[0] ?? request.url;
    const connection: StreamConnection = {
      path,
      url: wsBase + request.url,
      headers: { ...request.headers },
      messages: [],
      socket,
      closed: false,
      streamSid() {
        const start = connection.messages.find((m) => m.json.event === "start");
        const sid = start?.json["streamSid"];
        if (typeof sid !== "string") throw new Error("no start message yet");
        return sid;
      },
      events: (event) => connection.messages.filter((m) => m.json.event === event),
      waitFor: (event, count = 1, timeoutMs = 5000) =>
        poll(
          () => {
            const found = connection.events(event);
            return found.length >= count ? found : undefined;
          },
          timeoutMs,
          `${count} ${event} message(s)`,
        ),
      inboundAudio() {
        const parts = connection.events("media").map((m) => {
          const media = m.json["media"] as { payload: string };
          return fromMulaw(Buffer.from(media.payload, "base64"));
        });
        const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
        let at = 0;
        for (const part of parts) {
          out.set(part, at);
          at += part.length;
        }
        return out;
      },
      send: (message) => socket.send(JSON.stringify(message)),
      close: (code = 1000) => socket.close(code),
      waitClosed: (timeoutMs = 5000) => poll(() => (connection.closed ? true : undefined), timeoutMs, "socket closed").then(() => undefined),
    };
    socket.on("message", (data: WsData) => {
      connection.messages.push({ at: Date.now(), json: JSON.parse(wsBytes(data).toString("utf8")) as StreamMessage["json"] });
    });
    socket.on("close", () => {
      connection.closed = true;
    });
    streams.push(connection);
  });

  app.all("/*", async (request, reply) => {
    const path = request.url.split("?")[0] ?? "";
    const received: ReceivedRequest = {
      method: request.method,
      url: base + request.url,
      path,
      headers: { ...request.headers },
      params: ((request.method === "GET" ? request.query : request.body) ?? {}) as FormParams,
    };
    requests.push(received);
    const raw = raws.get(path);
    if (raw) return reply.code(raw.status).type(raw.contentType).send(raw.body);
    const answer = answers.get(path);
    const xml = answer === undefined ? "<Response/>" : typeof answer === "string" ? answer : answer(received);
    return reply.type("text/xml").send(`<?xml version="1.0" encoding="UTF-8"?>${xml}`);
  });

  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === "string") throw new Error("stand-in has no TCP address");
  base = `http://127.0.0.1:${address.port}`;
  wsBase = `ws://127.0.0.1:${address.port}`;

  const at = (path: string): ReceivedRequest[] => requests.filter((r) => r.path === path);
  return {
    url: base,
    wsUrl: wsBase,
    requests,
    streams,
    twiml: (path, answer) => answers.set(path, answer),
    raw: (path, status, body, contentType = "text/plain") => raws.set(path, { status, body, contentType }),
    at,
    waitFor: (path, count = 1, timeoutMs = 5000) =>
      poll(() => (at(path).length >= count ? at(path) : undefined), timeoutMs, `${count} request(s) to ${path}`),
    waitForStream: (index = 0, timeoutMs = 5000) =>
      poll(() => streams[index], timeoutMs, `media stream #${index + 1}`),
    close: async () => {
      for (const stream of streams) if (!stream.closed) stream.socket.terminate();
      await app.close();
    },
  };
}

/** Whether the upgrade request carried a valid lowercase `x-twilio-signature` for its URL. */
export function streamSignedBy(authToken: string, stream: StreamConnection): boolean {
  const signature = stream.headers["x-twilio-signature"];
  return typeof signature === "string" && twilio.validateRequest(authToken, signature, stream.url, {});
}
