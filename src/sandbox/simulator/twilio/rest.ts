import { timingSafeEqual } from "node:crypto";
import formbody from "@fastify/formbody";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Carrier } from "./carrier.js";
import { restErrors, TwilioApiError } from "./errors.js";
import { applyNumberUpdate } from "./numbers.js";
import { first, paginate, type Query } from "./paging.js";
import {
  accountPath,
  accountResource,
  balanceResource,
  incomingPhoneNumberResource,
  mediaResource,
  messageResource,
} from "./resources.js";
import { makeSid, type AccountRecord, type MessageRecord } from "./state.js";
import { voiceRoutes } from "./voice-rest.js";

/**
 * Twilio's REST API 2010-04-01, messaging part (voice: voice-rest.ts), mounted under `/2010-04-01`. Every
 * route needs HTTP Basic auth as the account in the path; bodies are form-encoded with repeated
 * keys for lists; responses are JSON, errors in Twilio's legacy shape.
 */

export interface TwilioRestOptions {
  carrier: Carrier;
}

interface AccountParams {
  AccountSid: string;
}
interface SidParams extends AccountParams {
  Sid: string;
}
interface MediaParams extends AccountParams {
  MessageSid: string;
  Sid: string;
}

type Form = Query;

const ACCOUNT_IN_PATH = /^\/2010-04-01\/Accounts\/([^/.?]+)/;

const pathOf = (request: FastifyRequest): string => request.url.split("?")[0] ?? request.url;

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function twilioRest(app: FastifyInstance, { carrier }: TwilioRestOptions): Promise<void> {
  const { state, faults } = carrier;
  await app.register(formbody);

  /** The account the request authenticated as; its sid must be the one in the path. */
  function authenticate(request: FastifyRequest): AccountRecord {
    const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(request.headers.authorization ?? "");
    const decoded = match?.[1] ? Buffer.from(match[1], "base64").toString("utf8") : "";
    const colon = decoded.indexOf(":");
    const account = colon > 0 ? state.accounts.get(decoded.slice(0, colon)) : undefined;
    if (!account || !sameSecret(decoded.slice(colon + 1), account.authToken)) throw restErrors.authenticate();
    // Valid credentials for another account see nothing here, like a resource that isn't there.
    if (ACCOUNT_IN_PATH.exec(pathOf(request))?.[1] !== account.sid) throw restErrors.notFound(pathOf(request));
    return account;
  }

  app.addHook("onRequest", async (request, reply) => {
    void reply.header("Twilio-Request-Id", makeSid("RQ"));
    if (faults.latencyMs > 0) await carrier.sleep(faults.latencyMs);
    const fault = faults.takeRestFault(request.method, pathOf(request));
    if (fault) throw new TwilioApiError(fault.status, fault.code, fault.message ?? defaultFaultMessage(fault.status));
    authenticate(request);
  });

  app.setErrorHandler((err: FastifyError | TwilioApiError, request, reply) => {
    if (err instanceof TwilioApiError) return sendTwilioError(reply, err);
    const status = err.statusCode ?? 500;
    if (status < 500) return sendTwilioError(reply, new TwilioApiError(status, status, err.message));
    request.log.error({ err, method: request.method, path: pathOf(request) }, "simulator REST handler failed");
    return sendTwilioError(reply, restErrors.internal());
  });

  app.setNotFoundHandler((request, reply) => sendTwilioError(reply, restErrors.notFound(pathOf(request))));

  const accountOf = (request: FastifyRequest<{ Params: AccountParams }>): AccountRecord =>
    state.account(request.params.AccountSid);

  app.get<{ Params: AccountParams }>("/Accounts/:AccountSid.json", async (request) =>
    accountResource(accountOf(request)),
  );

  app.get<{ Params: AccountParams }>("/Accounts/:AccountSid/Balance.json", async (request) =>
    balanceResource(accountOf(request)),
  );

  app.get<{ Params: AccountParams; Querystring: Query }>(
    "/Accounts/:AccountSid/IncomingPhoneNumbers.json",
    async (request) => {
      const account = accountOf(request);
      const phoneNumber = plusRestored(first(request.query, "PhoneNumber"));
      const friendlyName = first(request.query, "FriendlyName");
      const numbers = state
        .numbersOf(account.sid)
        .filter((n) => phoneNumber === undefined || n.phoneNumber === phoneNumber)
        .filter((n) => friendlyName === undefined || n.friendlyName === friendlyName);
      const filters: Array<[string, string]> = [];
      if (friendlyName !== undefined) filters.push(["FriendlyName", friendlyName]);
      if (phoneNumber !== undefined) filters.push(["PhoneNumber", phoneNumber]);
      const { envelope, items } = paginate(
        numbers,
        (n) => n.sid,
        request.query,
        `${accountPath(account.sid)}/IncomingPhoneNumbers.json`,
        filters,
      );
      return { ...envelope, incoming_phone_numbers: items.map(incomingPhoneNumberResource) };
    },
  );

  const numberOf = (request: FastifyRequest<{ Params: SidParams }>) => {
    const number = state.numbers.get(request.params.Sid);
    if (!number || number.accountSid !== request.params.AccountSid) throw restErrors.notFound(pathOf(request));
    return number;
  };

  app.get<{ Params: SidParams }>("/Accounts/:AccountSid/IncomingPhoneNumbers/:Sid.json", async (request) =>
    incomingPhoneNumberResource(numberOf(request)),
  );

  app.post<{ Params: SidParams; Body: Form | undefined }>(
    "/Accounts/:AccountSid/IncomingPhoneNumbers/:Sid.json",
    async (request) => {
      const number = numberOf(request);
      applyNumberUpdate(state, number, request.body ?? {});
      return incomingPhoneNumberResource(number);
    },
  );

  app.post<{ Params: AccountParams; Body: Form | undefined }>(
    "/Accounts/:AccountSid/Messages.json",
    async (request, reply) => {
      const form = request.body ?? {};
      const mediaUrl = form["MediaUrl"];
      const message = await carrier.createMessage(accountOf(request).sid, {
        to: first(form, "To"),
        from: first(form, "From"),
        body: first(form, "Body"),
        mediaUrls: mediaUrl === undefined ? [] : Array.isArray(mediaUrl) ? mediaUrl : [mediaUrl],
        statusCallback: first(form, "StatusCallback"),
      });
      return reply.code(201).send(messageResource(message));
    },
  );

  app.get<{ Params: AccountParams; Querystring: Query }>("/Accounts/:AccountSid/Messages.json", async (request) => {
    const account = accountOf(request);
    const to = plusRestored(first(request.query, "To"));
    const from = plusRestored(first(request.query, "From"));
    const sentFilter = dateSentFilter(request.query);
    const messages = state
      .messagesNewestFirst()
      .filter((m) => m.accountSid === account.sid)
      .filter((m) => to === undefined || m.to === to)
      .filter((m) => from === undefined || m.from === from)
      .filter(sentFilter.matches);
    const filters: Array<[string, string]> = [];
    if (to !== undefined) filters.push(["To", to]);
    if (from !== undefined) filters.push(["From", from]);
    filters.push(...sentFilter.pairs);
    const { envelope, items } = paginate(
      messages,
      (m) => m.sid,
      request.query,
      `${accountPath(account.sid)}/Messages.json`,
      filters,
    );
    return { ...envelope, messages: items.map(messageResource) };
  });

  const messageOf = (request: FastifyRequest<{ Params: AccountParams }>, sid: string): MessageRecord => {
    const message = state.messages.get(sid);
    if (!message || message.accountSid !== request.params.AccountSid) throw restErrors.notFound(pathOf(request));
    return message;
  };

  app.get<{ Params: SidParams }>("/Accounts/:AccountSid/Messages/:Sid.json", async (request) =>
    messageResource(messageOf(request, request.params.Sid)),
  );

  app.get<{ Params: AccountParams & { MessageSid: string }; Querystring: Query }>(
    "/Accounts/:AccountSid/Messages/:MessageSid/Media.json",
    async (request) => {
      const message = messageOf(request, request.params.MessageSid);
      const { envelope, items } = paginate(
        message.media,
        (m) => m.sid,
        request.query,
        `${accountPath(message.accountSid)}/Messages/${message.sid}/Media.json`,
        [],
      );
      return { ...envelope, media_list: items.map(mediaResource) };
    },
  );

  const mediaOf = (request: FastifyRequest<{ Params: MediaParams }>) => {
    const media = messageOf(request, request.params.MessageSid).media.find((m) => m.sid === request.params.Sid);
    if (!media) throw restErrors.notFound(pathOf(request));
    return media;
  };

  app.get<{ Params: MediaParams }>("/Accounts/:AccountSid/Messages/:MessageSid/Media/:Sid.json", async (request) =>
    mediaResource(mediaOf(request)),
  );

  app.get<{ Params: MediaParams }>("/Accounts/:AccountSid/Messages/:MessageSid/Media/:Sid", async (request, reply) => {
    const media = mediaOf(request);
    return reply.type(media.contentType).send(media.data);
  });

  voiceRoutes(app, carrier);
}

function sendTwilioError(reply: FastifyReply, error: TwilioApiError): FastifyReply {
  if (error.status === 401) void reply.header("WWW-Authenticate", 'Basic realm="Twilio API"');
  return reply.code(error.status).type("application/json").send(error.toBody());
}

function defaultFaultMessage(status: number): string {
  if (status === 429) return restErrors.tooManyRequests().message;
  if (status === 503) return restErrors.unavailable().message;
  return "Simulated failure";
}

/**
 * A `+` sent unencoded in a query string decodes to a space; Twilio's clients encode it, but
 * curl users often don't, and Twilio still finds the number.
 */
function plusRestored(value: string | undefined): string | undefined {
  return value !== undefined && /^ \d+$/.test(value) ? `+${value.slice(1)}` : value;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * `DateSent`, `DateSent<` and `DateSent>` (sent on, on or before, on or after). A bare date
 * (YYYY-MM-DD) compares whole UTC days; anything else Twilio accepts is a point in time
 * (twilio-node sends `YYYY-MM-DDTHH:MM:SSZ`, Twilio's examples also show RFC 2822 and US forms),
 * which compares instants, except that an exact `DateSent` still means its day.
 */
function dateSentFilter(query: Query): {
  matches: (message: MessageRecord) => boolean;
  pairs: Array<[string, string]>;
} {
  const checks: Array<(sent: Date) => boolean> = [];
  const pairs: Array<[string, string]> = [];
  const dayOf = (date: Date): string => date.toISOString().slice(0, 10);
  for (const key of ["DateSent", "DateSent<", "DateSent>"] as const) {
    const value = first(query, key);
    if (value === undefined || value === "") continue;
    const instant = DAY.test(value) ? Date.parse(`${value}T00:00:00Z`) : Date.parse(value);
    if (Number.isNaN(instant)) throw new TwilioApiError(400, 400, `Invalid ${key} value: ${value}`);
    pairs.push([key, value]);
    const day = dayOf(new Date(instant));
    const byDay = key === "DateSent" || DAY.test(value);
    if (key === "DateSent") checks.push((sent) => dayOf(sent) === day);
    else if (key === "DateSent<") checks.push((sent) => (byDay ? dayOf(sent) <= day : sent.getTime() <= instant));
    else checks.push((sent) => (byDay ? dayOf(sent) >= day : sent.getTime() >= instant));
  }
  return {
    pairs,
    matches: (message) => {
      const sent = message.dateSent;
      return checks.length === 0 || (sent !== null && checks.every((check) => check(sent)));
    },
  };
}
