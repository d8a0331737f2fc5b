import type { FastifyError, FastifyInstance } from "fastify";
import { matchesFilter } from "./controls.js";
import { SimHandset } from "./handset.js";
import type { Carrier } from "./twilio/carrier.js";
import { SimulatorError, type SimulatorErrorCode } from "./twilio/errors.js";
import { incomingPhoneNumberResource, rfc2822 } from "./twilio/resources.js";
import type { MediaRecord, MessageRecord } from "./twilio/state.js";

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

const STATUS_FOR: Partial<Record<SimulatorErrorCode, number>> = {
  "sim-unknown-number": 404,
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

  app.get<{ Params: { sid: string } }>("/media/:sid", async (request, reply) => {
    for (const message of state.messages.values()) {
      const media = message.media.find((m) => m.sid === request.params.sid);
      if (media) return reply.type(media.contentType).send(media.data);
    }
    return reply.code(404).send({ error: { code: "sim-unknown-media", message: "no such media" } });
  });
}
