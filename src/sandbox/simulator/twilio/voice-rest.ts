import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { encodeWav } from "../../../media/audio/wav.js";
import type { Carrier } from "./carrier.js";
import { restErrors, TwilioApiError } from "./errors.js";
import { first, paginate, type Query } from "./paging.js";
import { accountPath } from "./resources.js";
import { TwilioState } from "./state.js";
import type { CallRecord, RecordingRecord } from "./voice/records.js";
import { callRecordingResource, callResource, recordingResource } from "./voice/resources.js";

/**
 * The voice part of REST 2010-04-01: Calls (create, fetch, list, update) and Recordings (fetch,
 * list, media). Registered inside `twilioRest`, so Basic auth, faults and error bodies are the
 * messaging routes' own.
 */

interface AccountParams {
  AccountSid: string;
}
interface SidParams extends AccountParams {
  Sid: string;
}

const pathOf = (request: FastifyRequest): string => request.url.split("?")[0] ?? request.url;

/** A `+` sent unencoded in a query string decodes to a space. */
const plusRestored = (value: string | undefined): string | undefined =>
  value !== undefined && /^ \d+$/.test(value) ? `+${value.slice(1)}` : value;

const list = (value: string | string[] | undefined): string[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

export function voiceRoutes(app: FastifyInstance, carrier: Carrier): void {
  const { state, voice } = carrier;

  const callBySid = (request: FastifyRequest, accountSid: string, sid: string): CallRecord => {
    const call = state.calls.get(sid);
    if (!call || call.accountSid !== accountSid) throw restErrors.notFound(pathOf(request));
    return call;
  };
  const callOf = (request: FastifyRequest<{ Params: SidParams }>): CallRecord =>
    callBySid(request, request.params.AccountSid, request.params.Sid);

  app.post<{ Params: AccountParams; Body: Query | undefined }>("/Accounts/:AccountSid/Calls.json", async (request, reply) => {
    const form = request.body ?? {};
    const record = voice.createOutbound(request.params.AccountSid, {
      to: first(form, "To"),
      from: first(form, "From"),
      url: first(form, "Url"),
      twiml: first(form, "Twiml"),
      applicationSid: first(form, "ApplicationSid"),
      method: first(form, "Method"),
      fallbackUrl: first(form, "FallbackUrl"),
      fallbackMethod: first(form, "FallbackMethod"),
      statusCallback: first(form, "StatusCallback"),
      statusCallbackMethod: first(form, "StatusCallbackMethod"),
      statusCallbackEvents: list(form["StatusCallbackEvent"]),
      timeout: first(form, "Timeout"),
    });
    return reply.code(201).send(callResource(record));
  });

  app.get<{ Params: AccountParams; Querystring: Query }>("/Accounts/:AccountSid/Calls.json", async (request) => {
    const accountSid = request.params.AccountSid;
    const query = request.query;
    const to = plusRestored(first(query, "To"));
    const from = plusRestored(first(query, "From"));
    const parent = first(query, "ParentCallSid");
    const status = first(query, "Status");
    const start = timeFilter(query, "StartTime", (c) => c.startTime);
    const end = timeFilter(query, "EndTime", (c) => c.endTime);
    const calls = TwilioState.newestFirst(state.calls.values())
      .filter((c) => c.accountSid === accountSid)
      .filter((c) => to === undefined || c.to === to)
      .filter((c) => from === undefined || c.from === from)
      .filter((c) => parent === undefined || c.parentCallSid === parent)
      .filter((c) => status === undefined || (c.status === "initiated" ? "queued" : c.status) === status)
      .filter(start.matches)
      .filter(end.matches);
    const filters: Array<[string, string]> = [];
    if (to !== undefined) filters.push(["To", to]);
    if (from !== undefined) filters.push(["From", from]);
    if (parent !== undefined) filters.push(["ParentCallSid", parent]);
    if (status !== undefined) filters.push(["Status", status]);
    filters.push(...start.pairs, ...end.pairs);
    const { envelope, items } = paginate(calls, (c) => c.sid, query, `${accountPath(accountSid)}/Calls.json`, filters);
    return { ...envelope, calls: items.map(callResource) };
  });

  app.get<{ Params: SidParams }>("/Accounts/:AccountSid/Calls/:Sid.json", async (request) => callResource(callOf(request)));

  app.post<{ Params: SidParams; Body: Query | undefined }>("/Accounts/:AccountSid/Calls/:Sid.json", async (request) =>
    callResource(voice.update(callOf(request), request.body ?? {})),
  );

  app.get<{ Params: AccountParams & { CallSid: string }; Querystring: Query }>(
    "/Accounts/:AccountSid/Calls/:CallSid/Recordings.json",
    async (request) => {
      const call = callBySid(request, request.params.AccountSid, request.params.CallSid);
      const recordings = TwilioState.newestFirst(state.recordings.values()).filter((r) => r.callSid === call.sid);
      const path = `${accountPath(call.accountSid)}/Calls/${call.sid}/Recordings.json`;
      const { envelope, items } = paginate(recordings, (r) => r.sid, request.query, path, []);
      return { ...envelope, recordings: items.map(callRecordingResource) };
    },
  );

  app.get<{ Params: AccountParams & { CallSid: string; Sid: string } }>(
    "/Accounts/:AccountSid/Calls/:CallSid/Recordings/:Sid.json",
    async (request) => {
      const call = callBySid(request, request.params.AccountSid, request.params.CallSid);
      const recording = state.recordings.get(request.params.Sid);
      if (!recording || recording.callSid !== call.sid) throw restErrors.notFound(pathOf(request));
      return callRecordingResource(recording);
    },
  );

  app.get<{ Params: AccountParams; Querystring: Query }>("/Accounts/:AccountSid/Recordings.json", async (request) => {
    const callSid = first(request.query, "CallSid");
    const recordings = TwilioState.newestFirst(state.recordings.values())
      .filter((r) => r.accountSid === request.params.AccountSid)
      .filter((r) => callSid === undefined || r.callSid === callSid);
    const filters: Array<[string, string]> = callSid === undefined ? [] : [["CallSid", callSid]];
    const path = `${accountPath(request.params.AccountSid)}/Recordings.json`;
    const { envelope, items } = paginate(recordings, (r) => r.sid, request.query, path, filters);
    return { ...envelope, recordings: items.map((r) => recordingResource(r, carrier.publicUrl)) };
  });

  const recordingOf = (request: FastifyRequest<{ Params: SidParams }>): RecordingRecord => {
    const recording = state.recordings.get(request.params.Sid);
    if (!recording || recording.accountSid !== request.params.AccountSid) throw restErrors.notFound(pathOf(request));
    return recording;
  };

  app.get<{ Params: SidParams }>("/Accounts/:AccountSid/Recordings/:Sid.json", async (request) =>
    recordingResource(recordingOf(request), carrier.publicUrl),
  );

  // The media: no extension or `.wav` gives WAV (real Twilio: 16-bit PCM WAV, audio/x-wav);
  // `.mp3` would give MP3, which the simulator cannot encode.
  const wav = async (request: FastifyRequest<{ Params: SidParams }>, reply: FastifyReply) =>
    reply.type("audio/x-wav").send(encodeWav(recordingOf(request).samples, 8000));
  app.get<{ Params: SidParams }>("/Accounts/:AccountSid/Recordings/:Sid", wav);
  app.get<{ Params: SidParams }>("/Accounts/:AccountSid/Recordings/:Sid.wav", wav);
  app.get<{ Params: SidParams }>("/Accounts/:AccountSid/Recordings/:Sid.mp3", async (request) => {
    recordingOf(request);
    throw new TwilioApiError(404, 20404, "The simulator serves recordings as WAV only (no .mp3)");
  });
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** `StartTime`/`EndTime` with `<` and `>` variants: whole UTC days for bare dates, else instants. */
function timeFilter(
  query: Query,
  name: string,
  valueOf: (call: CallRecord) => Date | null,
): { matches: (call: CallRecord) => boolean; pairs: Array<[string, string]> } {
  const checks: Array<(time: Date) => boolean> = [];
  const pairs: Array<[string, string]> = [];
  const dayOf = (date: Date): string => date.toISOString().slice(0, 10);
  for (const key of [name, `${name}<`, `${name}>`]) {
    const value = first(query, key);
    if (value === undefined || value === "") continue;
    const instant = DAY.test(value) ? Date.parse(`${value}T00:00:00Z`) : Date.parse(value);
    if (Number.isNaN(instant)) throw new TwilioApiError(400, 400, `Invalid ${key} value: ${value}`);
    pairs.push([key, value]);
    const day = dayOf(new Date(instant));
    const byDay = key === name || DAY.test(value);
    if (key === name) checks.push((t) => dayOf(t) === day);
    else if (key.endsWith("<")) checks.push((t) => (byDay ? dayOf(t) <= day : t.getTime() <= instant));
    else checks.push((t) => (byDay ? dayOf(t) >= day : t.getTime() >= instant));
  }
  return {
    pairs,
    matches: (call) => {
      const time = valueOf(call);
      return checks.length === 0 || (time !== null && checks.every((check) => check(time)));
    },
  };
}
