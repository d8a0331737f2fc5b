import type { FastifyError, FastifyInstance, FastifyRequest } from "fastify";
import { matchesFilter } from "./controls.js";
import { SimCallHandle, SimHandset } from "./handset.js";
import type { Carrier } from "./twilio/carrier.js";
import { SimulatorError, type SimulatorErrorCode } from "./twilio/errors.js";
import { incomingPhoneNumberResource, rfc2822 } from "./twilio/resources.js";
import type { MediaRecord, MessageRecord } from "./twilio/state.js";
import type { AnswerBehaviour, LiveCall } from "./twilio/voice/network.js";
import type { CallLogEntry } from "./twilio/voice/records.js";
import { callDuration } from "./twilio/voice/resources.js";
import { wsBytes, type WsData, type WsSocket } from "./twilio/voice/ws.js";

/**
 * The simulator's own JSON API under `/_sim/api`, for the phone page and for other processes
 * (the sandbox script, e2e tests). Loopback tooling: no auth, never any auth tokens in answers.
 *
 *   GET  /accounts                       { accounts: [{ sid, friendlyName, status, balance, currency }] }
 *   GET  /numbers                        { numbers: [IncomingPhoneNumber resource] }
 *   GET  /messages?to=&from=&number=     { messages: [ControlMessage] }, oldest first; `number` = to or from
 *   POST /handsets/:number/sms           { to, body?, media?: [{ contentType, base64 }] }
 *                                        → { messageSid, status, responseBody }
 *   GET  /handsets/:number/inbox         { messages: [ControlMessage] } delivered to that handset
 *   GET  /media/:sid                     the media bytes
 *
 * Calls (a ControlCall is `{ sid, role, direction, from, to, status, parentCallSid, dateCreated,
 * answeredAt, endTime, duration, said }`, plus `log` when fetched alone):
 *   GET  /calls?number=                  { calls: [ControlCall] }, oldest first; `number` = a party
 *   GET  /calls/:sid                     ControlCall with its log
 *   POST /handsets/:number/calls         { to, withheld?, tone? } → ControlCall: the handset calls `to`
 *   GET  /handsets/:number/calls         { calls: [ControlCall] } the handset placed or received
 *   POST /calls/:sid/answer              { tone? } picks up a ringing call (answer mode "manual")
 *   POST /calls/:sid/reject              declines a ringing call (busy)
 *   POST /calls/:sid/hangup              hangs up (or gives up, or declines)
 *   POST /calls/:sid/keys                { keys } presses keypad keys on a connected call
 *   POST /calls/:sid/tone                { frequency } the microphone's tone (0 = silence)
 *   GET  /handsets/:number/answer-mode   { mode, after?, tone? }
 *   PUT  /handsets/:number/answer-mode   { mode: "auto"|"manual"|"busy"|"no-answer"|"fail"|"reject", after?, tone? }
 *   GET  /handsets/:number/audio         websocket: binary frames of 8 kHz µ-law both ways (160
 *                                        bytes = 20 ms); while attached, the handset's microphone
 *                                        is the browser's and its earpiece audio goes to the browser
 *
 * Errors: `{ error: { code, message } }` with a `sim-…` code.
 */

export interface ControlApiOptions {
  carrier: Carrier;
}

/** A message as the control API shows it; media are links, not bytes. */
export interface ControlMessage {
  sid: string;
  direction: string;
  from: string;
  to: string;
  body: string;
  status: string;
  errorCode: number | null;
  dateCreated: string;
  media: Array<{ sid: string; contentType: string; size: number; url: string }>;
}

interface SmsRequest {
  to: string;
  body?: string;
  media?: Array<{ contentType: string; base64: string }>;
}

const smsRequestSchema = {
  type: "object",
  required: ["to"],
  additionalProperties: false,
  properties: {
    to: { type: "string", minLength: 1 },
    body: { type: "string", maxLength: 1600 },
    media: {
      type: "array",
      maxItems: 10,
      items: {
        type: "object",
        required: ["contentType", "base64"],
        additionalProperties: false,
        properties: {
          contentType: { type: "string", pattern: "^[\\w.+-]+/[\\w.+-]+$" },
          base64: { type: "string", minLength: 1 },
        },
      },
    },
  },
} as const;

/** A call as the control API shows it. */
export interface ControlCall {
  sid: string;
  /** The handset's part: "caller" (it placed the call) or "callee" (it was called). */
  role: "caller" | "callee";
  /** The handset's number. */
  handset: string;
  direction: string;
  from: string;
  to: string;
  status: string;
  parentCallSid: string | null;
  dateCreated: string;
  answeredAt: string | null;
  endTime: string | null;
  duration: number | null;
  said: string[];
  log?: Array<Omit<CallLogEntry, "at"> & { at: string }>;
}

const callRequestSchema = {
  type: "object",
  required: ["to"],
  additionalProperties: false,
  properties: {
    to: { type: "string", minLength: 1 },
    withheld: { type: "boolean" },
    tone: { type: "number", minimum: 0, maximum: 3999 },
  },
} as const;

const answerModeSchema = {
  type: "object",
  required: ["mode"],
  additionalProperties: false,
  properties: {
    mode: { type: "string", enum: ["auto", "manual", "busy", "no-answer", "fail", "reject"] },
    after: { type: "number", minimum: 0 },
    tone: { type: "number", minimum: 0, maximum: 3999 },
  },
} as const;

interface AnswerModeRequest {
  mode: "auto" | "manual" | "busy" | "no-answer" | "fail" | "reject";
  after?: number;
  tone?: number;
}

const STATUS_FOR: Partial<Record<SimulatorErrorCode, number>> = {
  "sim-unknown-number": 404,
  "sim-unknown-call": 404,
  "sim-unknown-account": 404,
  "sim-closed": 503,
};

/** Up to 10 media files of a few MB each arrive base64-encoded. */
const CONTROL_BODY_LIMIT = 64 * 1024 * 1024;

export async function controlApi(app: FastifyInstance, { carrier }: ControlApiOptions): Promise<void> {
  const { state } = carrier;

  const mediaJson = (media: MediaRecord[]): ControlMessage["media"] =>
    media.map((m) => ({
      sid: m.sid,
      contentType: m.contentType,
      size: m.data.length,
      url: `/_sim/api/media/${m.sid}`,
    }));

  const messageJson = (m: MessageRecord): ControlMessage => ({
    sid: m.sid,
    direction: m.direction,
    from: m.from,
    to: m.to,
    body: m.body,
    status: m.status,
    errorCode: m.errorCode,
    dateCreated: rfc2822(m.dateCreated),
    media: mediaJson(m.media),
  });

  app.setErrorHandler((err: FastifyError | SimulatorError, _request, reply) => {
    if (err instanceof SimulatorError) {
      return reply.code(STATUS_FOR[err.code] ?? 400).send({ error: { code: err.code, message: err.message } });
    }
    const status = err.statusCode ?? 500;
    if (status >= 500) reply.log.error({ err }, "simulator control API failed");
    return reply
      .code(status)
      .send({ error: { code: status < 500 ? "sim-invalid-input" : "sim-internal", message: err.message } });
  });

  app.get("/accounts", async () => ({
    accounts: [...state.accounts.values()].map((a) => ({
      sid: a.sid,
      friendlyName: a.friendlyName,
      status: a.status,
      balance: a.balance,
      currency: a.currency,
    })),
  }));

  app.get("/numbers", async () => ({ numbers: [...state.numbers.values()].map(incomingPhoneNumberResource) }));

  app.get<{ Querystring: { to?: string; from?: string; number?: string } }>("/messages", async (request) => {
    const { to, from, number } = request.query;
    const messages = [...state.messages.values()]
      .filter((m) => matchesFilter(m, { to, from }))
      .filter((m) => number === undefined || m.to === number || m.from === number);
    return { messages: messages.map(messageJson) };
  });

  app.post<{ Params: { number: string }; Body: SmsRequest }>(
    "/handsets/:number/sms",
    { schema: { body: smsRequestSchema }, bodyLimit: CONTROL_BODY_LIMIT },
    async (request) => {
      const handset = new SimHandset(request.params.number, carrier);
      const media = (request.body.media ?? []).map((m) => ({
        contentType: m.contentType,
        data: Buffer.from(m.base64, "base64"),
      }));
      return handset.sendSms(request.body.to, request.body.body ?? "", { media });
    },
  );

  app.get<{ Params: { number: string } }>("/handsets/:number/inbox", async (request) => {
    const handset = new SimHandset(request.params.number, carrier);
    const messages = handset
      .inbox()
      .map((received) => state.messages.get(received.sid))
      .filter((m): m is MessageRecord => m !== undefined);
    return { messages: messages.map(messageJson) };
  });

  const { voice } = carrier;
  const iso = (date: Date | null): string | null => (date ? date.toISOString() : null);
  const callJson = (call: LiveCall, withLog = false): ControlCall => {
    const r = call.record;
    const json: ControlCall = {
      sid: r.sid,
      role: call.party.role,
      handset: call.party.line.number,
      direction: r.direction,
      from: r.from,
      to: r.to,
      status: r.status,
      parentCallSid: r.parentCallSid,
      dateCreated: r.dateCreated.toISOString(),
      answeredAt: iso(r.answeredAt),
      endTime: iso(r.endTime),
      duration: callDuration(r),
      said: r.log.flatMap((e) => (e.type === "say" ? [e.text] : [])),
    };
    if (withLog) json.log = r.log.map((e) => ({ ...e, at: e.at.toISOString() }));
    return json;
  };
  const callOf = (request: FastifyRequest<{ Params: { sid: string } }>): LiveCall => {
    const call = voice.all.get(request.params.sid);
    if (!call) throw new SimulatorError("sim-unknown-call", `no call ${request.params.sid}`);
    return call;
  };
  const handleOf = (call: LiveCall): SimCallHandle => new SimCallHandle(call, voice);

  app.get<{ Querystring: { number?: string } }>("/calls", async (request) => {
    const { number } = request.query;
    const calls = [...voice.all.values()].filter(
      (c) => number === undefined || c.record.from === number || c.record.to === number || c.party.line.number === number,
    );
    return { calls: calls.map((c) => callJson(c)) };
  });

  app.get<{ Params: { sid: string } }>("/calls/:sid", async (request) => callJson(callOf(request), true));

  app.post<{ Params: { number: string }; Body: { to: string; withheld?: boolean; tone?: number } }>(
    "/handsets/:number/calls",
    { schema: { body: callRequestSchema } },
    async (request) => {
      const handset = new SimHandset(request.params.number, carrier);
      const placed = handset.call(request.body.to, {
        ...(request.body.withheld !== undefined ? { withheld: request.body.withheld } : {}),
        ...(request.body.tone !== undefined ? { tone: request.body.tone } : {}),
      });
      return callJson(voice.all.get(placed.sid)!);
    },
  );

  app.get<{ Params: { number: string } }>("/handsets/:number/calls", async (request) => {
    new SimHandset(request.params.number, carrier);
    return { calls: voice.line(request.params.number).calls.map((c) => callJson(c)) };
  });

  app.post<{ Params: { sid: string }; Body: { tone?: number } | undefined }>("/calls/:sid/answer", async (request) => {
    const call = callOf(request);
    handleOf(call).answer(request.body?.tone !== undefined ? { tone: request.body.tone } : {});
    return callJson(call);
  });

  app.post<{ Params: { sid: string } }>("/calls/:sid/reject", async (request) => {
    const call = callOf(request);
    handleOf(call).reject();
    return callJson(call);
  });

  app.post<{ Params: { sid: string } }>("/calls/:sid/hangup", async (request) => {
    const call = callOf(request);
    handleOf(call).hangup();
    return callJson(call);
  });

  app.post<{ Params: { sid: string }; Body: { keys: string } }>(
    "/calls/:sid/keys",
    {
      schema: {
        body: {
          type: "object",
          required: ["keys"],
          additionalProperties: false,
          properties: { keys: { type: "string", pattern: "^[0-9*#A-Da-d]{1,32}$" } },
        },
      },
    },
    async (request) => {
      const call = callOf(request);
      if (call.record.status !== "in-progress") {
        throw new SimulatorError("sim-invalid-input", `call ${call.record.sid} is ${call.record.status}, not in progress`);
      }
      // Played in the background; the answer comes at once.
      void handleOf(call)
        .pressKeys(request.body.keys)
        .catch(() => undefined);
      return callJson(call);
    },
  );

  app.post<{ Params: { sid: string }; Body: { frequency: number } }>(
    "/calls/:sid/tone",
    {
      schema: {
        body: {
          type: "object",
          required: ["frequency"],
          additionalProperties: false,
          properties: { frequency: { type: "number", minimum: 0, maximum: 3999 } },
        },
      },
    },
    async (request) => {
      const call = callOf(request);
      handleOf(call).setTone(request.body.frequency);
      return callJson(call);
    },
  );

  const modeJson = (behaviour: AnswerBehaviour): Record<string, unknown> =>
    typeof behaviour === "string" ? { mode: behaviour } : { mode: "auto", ...behaviour };

  app.get<{ Params: { number: string } }>("/handsets/:number/answer-mode", async (request) => {
    new SimHandset(request.params.number, carrier);
    return modeJson(voice.line(request.params.number).behaviour);
  });

  app.put<{ Params: { number: string }; Body: AnswerModeRequest }>(
    "/handsets/:number/answer-mode",
    { schema: { body: answerModeSchema } },
    async (request) => {
      const handset = new SimHandset(request.params.number, carrier);
      const { mode, after, tone } = request.body;
      handset.answerCalls(
        mode === "auto" ? { ...(after !== undefined ? { after } : {}), ...(tone !== undefined ? { tone } : {}) } : mode,
      );
      return modeJson(voice.line(request.params.number).behaviour);
    },
  );

  app.get<{ Params: { number: string } }>(
    "/handsets/:number/audio",
    { websocket: true },
    (socket: WsSocket, request: FastifyRequest<{ Params: { number: string } }>) => {
      let detach: () => void = () => undefined;
      try {
        const handset = new SimHandset(request.params.number, carrier);
        const line = voice.line(handset.number);
        detach = line.attachBrowser(socket);
        socket.on("message", (data: WsData, isBinary: boolean) => {
          if (isBinary) line.fromBrowser(wsBytes(data));
        });
      } catch (err) {
        socket.close(1008, err instanceof Error ? err.message.slice(0, 100) : "invalid handset");
        return;
      }
      socket.on("close", () => detach());
    },
  );

  app.get<{ Params: { sid: string } }>("/media/:sid", async (request, reply) => {
    for (const message of state.messages.values()) {
      const media = message.media.find((m) => m.sid === request.params.sid);
      if (media) return reply.type(media.contentType).send(media.data);
    }
    return reply.code(404).send({ error: { code: "sim-unknown-media", message: "no such media" } });
  });
}
