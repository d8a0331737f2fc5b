import formbody from "@fastify/formbody";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import twilio from "twilio";
import { isBridgeError } from "../../errors.js";
import { isLinkId, type LinkId } from "../../ids.js";
import type { ProviderAccount, WebhookContext } from "../types.js";
import { acceptTwilioStream } from "./media-stream.js";
import { normalizeCall, normalizeCallStatus, normalizeMessageStatus, normalizeRecording, normalizeSms } from "./normalize.js";
import { planToTwiml, type VoiceUrls } from "./twiml.js";

/** Twilio's SMS webhooks are a few kB even with ten media items; anything bigger is not Twilio. */
const BODY_LIMIT = 64 * 1024;
const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>';
const GOODBYE_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Thank you. Goodbye.</Say><Hangup/></Response>';

declare module "fastify" {
  interface FastifyRequest {
    twilioLink?: { linkId: LinkId; account: ProviderAccount };
  }
}

type Params = Record<string, string | string[]>;

/**
 * Twilio's webhook routes, under /webhooks/twilio/<linkId>/... The link id routes a request
 * before its body is parsed (unknown link: 404); the signature is checked against the public URL
 * Twilio was given (bad or missing: 403, nothing stored); only then is the payload normalised and
 * handed over, and acknowledged once it is stored.
 */
export const twilioWebhooks: FastifyPluginAsync<WebhookContext> = async (app, ctx) => {
  await app.register(formbody, { bodyLimit: BODY_LIMIT });

  app.addHook("onRequest", async (request: FastifyRequest<{ Params: { linkId?: string } }>, reply) => {
    const id = request.params.linkId;
    const account = id && isLinkId(id) ? ctx.accountOf(id) : undefined;
    if (!id || !account) {
      ctx.log.warn({ path: request.routeOptions.url }, "twilio webhook for an unknown link");
      return reply.code(404).send({ error: "unknown link" });
    }
    // Refused before the body is parsed: Twilio signs every request it sends.
    if (typeof request.headers["x-twilio-signature"] !== "string" || !request.headers["x-twilio-signature"]) {
      ctx.log.warn({ linkId: id }, "unsigned twilio webhook");
      return reply.code(403).send({ error: "missing signature" });
    }
    request.twilioLink = { linkId: id as LinkId, account };
  });

  app.addHook("preHandler", async (request, reply) => {
    const link = request.twilioLink!;
    const signature = request.headers["x-twilio-signature"];
    const token = link.account.credentials.reveal().authToken ?? "";
    // The media stream's upgrade is signed over its wss:// URL, with no parameters.
    const websocket = request.headers.upgrade?.toLowerCase() === "websocket";
    const url = (websocket ? toWebSocketUrl(ctx.publicBaseUrl) : ctx.publicBaseUrl) + request.url;
    const params = websocket ? {} : ((request.body ?? {}) as Params);
    if (typeof signature !== "string" || !twilio.validateRequest(token, signature, url, params)) {
      ctx.log.warn({ linkId: link.linkId, signed: typeof signature === "string" }, "twilio webhook with a bad signature");
      return reply.code(403).send({ error: "bad signature" });
    }
  });

  const handle = (
    normalize: (linkId: LinkId, params: Params, query: Params) => Parameters<WebhookContext["deliver"]>[0],
    respond: (reply: FastifyReply) => FastifyReply,
  ) => async (request: FastifyRequest, reply: FastifyReply) => {
    const link = request.twilioLink!;
    let event;
    try {
      event = normalize(link.linkId, (request.body ?? {}) as Params, (request.query ?? {}) as Params);
    } catch (err) {
      if (!isBridgeError(err) || err.code !== "webhook-malformed") throw err;
      ctx.log.warn({ linkId: link.linkId, err: err.message, ...err.context }, "refused a malformed twilio webhook");
      return reply.code(400).send({ error: err.message });
    }
    ctx.deliver(event);
    return respond(reply);
  };

  const twiml = (reply: FastifyReply) => reply.type("text/xml").send(EMPTY_TWIML);
  const options = { bodyLimit: BODY_LIMIT };

  app.post("/:linkId/sms", options, handle(normalizeSms, twiml));
  app.post("/:linkId/message-status", options, handle(normalizeMessageStatus, twiml));
  app.post("/:linkId/call-status", options, handle(normalizeCallStatus, twiml));
  app.post("/:linkId/recording", options, handle(normalizeRecording, (reply) => reply.type("text/xml").send(GOODBYE_TWIML)));

  const urlsOf = (linkId: LinkId): VoiceUrls => {
    const base = `${ctx.publicBaseUrl}/webhooks/twilio/${linkId}`;
    return { stream: `${toWebSocketUrl(ctx.publicBaseUrl)}/webhooks/twilio/${linkId}/media`, afterStream: `${base}/voice-after`, recording: `${base}/recording` };
  };
  const plan = (request: FastifyRequest, reply: FastifyReply, decide: (linkId: LinkId) => ReturnType<WebhookContext["afterStream"]>) => {
    const link = request.twilioLink!;
    return reply.type("text/xml").send(planToTwiml(decide(link.linkId), urlsOf(link.linkId)));
  };

  app.post("/:linkId/voice", options, async (request, reply) => {
    let event;
    try {
      event = normalizeCall(request.twilioLink!.linkId, (request.body ?? {}) as Params);
    } catch (err) {
      if (!isBridgeError(err) || err.code !== "webhook-malformed") throw err;
      return reply.code(400).send({ error: err.message });
    }
    return plan(request, reply, () => ctx.incomingCall(event));
  });
  app.post("/:linkId/voice-out", options, async (request, reply) => {
    const callId = (request.query as { call?: unknown }).call;
    if (typeof callId !== "string") return reply.code(400).send({ error: "no call" });
    return plan(request, reply, (linkId) => ctx.outboundAnswered(linkId, callId));
  });
  app.post("/:linkId/voice-after", options, async (request, reply) => {
    const sid = (request.body as Params | undefined)?.CallSid;
    if (typeof sid !== "string") return reply.code(400).send({ error: "no CallSid" });
    return plan(request, reply, (linkId) => ctx.afterStream(linkId, sid));
  });
  app.get("/:linkId/media", { websocket: true }, (socket, request) => {
    const link = request.twilioLink!;
    acceptTwilioStream(socket, ctx.log.child({ linkId: link.linkId }), (stream) => ctx.mediaStream(link.linkId, stream));
  });
};

/** Twilio opens media streams on the public address with a websocket scheme. */
function toWebSocketUrl(publicBaseUrl: string): string {
  return publicBaseUrl.replace(/^http/, "ws");
}
