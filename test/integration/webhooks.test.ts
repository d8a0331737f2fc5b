import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import twilio from "twilio";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildWebhookApp } from "../../src/http/webhook-app.js";
import { linkId, type LinkId } from "../../src/ids.js";
import { silentLogger } from "../../src/log.js";
import type { ProviderEvent } from "../../src/providers/events.js";
import { ProviderRegistry } from "../../src/providers/registry.js";
import { createTwilioConnector } from "../../src/providers/twilio/connector.js";
import type { ProviderAccount } from "../../src/providers/types.js";
import { Secret } from "../../src/secret.js";

/**
 * The public webhook listener with the Twilio plugin (layer c of the testing guide): requests go
 * through `app.inject()`, signed with the real twilio SDK's own signing function, so the check is
 * against what Twilio actually sends and not against our reading of it.
 */

const PUBLIC_BASE_URL = "https://bridge.example.org";
const KNOWN: LinkId = linkId("lnk0123456789abcdef");
/** Well-formed, but no link has it. */
const UNKNOWN: LinkId = linkId("lnkzzzzzzzzzzzzzzzz");
const ACCOUNT_SID = "AC5e1c0a9f3b2d4e6f8a0b1c2d3e4f5a6b";
const AUTH_TOKEN = "9f86d081884c7d659a2feaa0c55ad015";
const OTHER_TOKEN = "2c26b46b68ffc68ff99b453c1d304134";
const MESSAGE_SID = "SM2f0c7b1e9d3a4c5b6e8f0a1b2c3d2a10";
const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>';

type Params = Record<string, string>;

/**
 * A real inbound SMS webhook body, as captured from Twilio (protocols.md §1.3), with the elided
 * sids filled in to their full 34 characters.
 */
const CAPTURED_SMS: Params = {
  ToCountry: "GB",
  ToState: "",
  SmsMessageSid: MESSAGE_SID,
  NumMedia: "0",
  ToCity: "",
  FromZip: "",
  SmsSid: MESSAGE_SID,
  FromState: "",
  SmsStatus: "received",
  FromCity: "",
  Body: "Ack",
  FromCountry: "GB",
  To: "+447700900000",
  ToZip: "",
  NumSegments: "1",
  MessageSid: MESSAGE_SID,
  AccountSid: ACCOUNT_SID,
  From: "+447700900513",
  ApiVersion: "2010-04-01",
};

/** The status callback for an outbound text that could not be delivered (protocols.md §1.4). */
const UNDELIVERED_STATUS: Params = {
  SmsSid: MESSAGE_SID,
  SmsStatus: "undelivered",
  MessageStatus: "undelivered",
  To: "+447700900513",
  MessageSid: MESSAGE_SID,
  AccountSid: ACCOUNT_SID,
  From: "+447700900000",
  ApiVersion: "2010-04-01",
  ErrorCode: "30003",
};

/** NumMedia and `count` well-formed MediaUrl{N}/MediaContentType{N} pairs. */
function mediaParams(count: number): Params {
  const params: Params = { NumMedia: String(count) };
  for (let i = 0; i < count; i++) {
    params[`MediaUrl${i}`] = `https://api.twilio.com/2010-04-01/Accounts/${ACCOUNT_SID}/Messages/${MESSAGE_SID}/Media/ME${String(i).padStart(32, "0")}`;
    params[`MediaContentType${i}`] = "image/png";
  }
  return params;
}

const smsPath = (link: string = KNOWN): string => `/webhooks/twilio/${link}/sms`;
const statusPath = (link: string = KNOWN): string => `/webhooks/twilio/${link}/message-status`;

let delivered: ProviderEvent[];
let accountLookups: string[];
let app: FastifyInstance;

/** The listener as the bridge builds it; `deliver` may be replaced to make storing fail. */
async function buildApp(deliver: (event: ProviderEvent) => void = (event) => delivered.push(event)): Promise<FastifyInstance> {
  const account: ProviderAccount = { accountRef: ACCOUNT_SID, credentials: new Secret({ authToken: AUTH_TOKEN }) };
  return buildWebhookApp({
    providers: new ProviderRegistry([createTwilioConnector({ apiBaseUrl: null })]),
    publicBaseUrl: PUBLIC_BASE_URL,
    accountOf: (id) => {
      accountLookups.push(id);
      return id === KNOWN ? account : undefined;
    },
    deliver,
    incomingCall: (event) => {
      delivered.push(event);
      return { kind: "stream", parameters: { callId: "call0000000000000001", token: "one-time" } };
    },
    outboundAnswered: (_linkId, callId) => (callId === "call0000000000000002" ? { kind: "stream", parameters: { callId, token: "t2" } } : { kind: "hangup" }),
    afterStream: () => ({ kind: "voicemail", greeting: "Leave a message.", maxLengthSeconds: 60 }),
    mediaStream: () => {},
    log: silentLogger,
  });
}

beforeEach(async () => {
  delivered = [];
  accountLookups = [];
  app = await buildApp();
});

afterEach(async () => {
  await app.close();
});

interface PostOptions {
  /** Token to sign with; default the link's own. */
  token?: string;
  /** URL to sign; default the public URL of `path`. */
  signedUrl?: string;
  /** Params to sign, when they differ from the ones sent. */
  signedParams?: Params;
  /** Send no X-Twilio-Signature at all. */
  unsigned?: boolean;
  /** Use this app instead of the shared one. */
  on?: FastifyInstance;
}

/** POSTs `params` form-encoded to `path`, signed the way Twilio signs (unless told otherwise). */
async function post(path: string, params: Params, options: PostOptions = {}): Promise<LightMyRequestResponse> {
  const signature = twilio.getExpectedTwilioSignature(
    options.token ?? AUTH_TOKEN,
    options.signedUrl ?? PUBLIC_BASE_URL + path,
    options.signedParams ?? params,
  );
  return (options.on ?? app).inject({
    method: "POST",
    url: path,
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      ...(options.unsigned ? {} : { "x-twilio-signature": signature }),
    },
    payload: new URLSearchParams(params).toString(),
  });
}

/** Asserts the request was refused with `status` and that nothing reached the bridge. */
function expectRefused(response: LightMyRequestResponse, status: number): void {
  expect(response.statusCode).toBe(status);
  expect(response.body).not.toContain("<Response>");
  expect(delivered).toEqual([]);
}

describe("inbound SMS webhook", () => {
  it("acknowledges the captured Twilio body with empty TwiML and delivers one sms.received", async () => {
    // Arrange
    const params = CAPTURED_SMS;

    // Act
    const response = await post(smsPath(), params);

    // Assert
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toMatch(/^text\/xml/);
    expect(response.body).toBe(EMPTY_TWIML);
    expect(delivered).toEqual([
      {
        type: "sms.received",
        linkId: KNOWN,
        providerMessageId: MESSAGE_SID,
        from: { kind: "number", number: "+447700900513" },
        to: "+447700900000",
        body: "Ack",
        media: [],
      },
    ]);
  });

  it("keeps a body with spaces, symbols, newlines and emoji intact through parsing and signing", async () => {
    // Arrange
    const text = "Hello wörld 👍 & a=b+c %20\nsecond line";
    const params = { ...CAPTURED_SMS, Body: text };

    // Act
    const response = await post(smsPath(), params);

    // Assert
    expect(response.statusCode).toBe(200);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]).toMatchObject({ type: "sms.received", body: text });
  });

  it("delivers an MMS with both media items in order", async () => {
    // Arrange
    const mediaBase = `https://api.twilio.com/2010-04-01/Accounts/${ACCOUNT_SID}/Messages/MM2f0c7b1e9d3a4c5b6e8f0a1b2c3d2a10/Media`;
    const params: Params = {
      ...CAPTURED_SMS,
      MessageSid: "MM2f0c7b1e9d3a4c5b6e8f0a1b2c3d2a10",
      SmsMessageSid: "MM2f0c7b1e9d3a4c5b6e8f0a1b2c3d2a10",
      SmsSid: "MM2f0c7b1e9d3a4c5b6e8f0a1b2c3d2a10",
      Body: "Look",
      NumMedia: "2",
      MediaUrl0: `${mediaBase}/ME00000000000000000000000000000001`,
      MediaContentType0: "image/jpeg",
      MediaUrl1: `${mediaBase}/ME00000000000000000000000000000002`,
      MediaContentType1: "video/mp4",
    };

    // Act
    const response = await post(smsPath(), params);

    // Assert
    expect(response.statusCode).toBe(200);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]).toMatchObject({
      type: "sms.received",
      providerMessageId: "MM2f0c7b1e9d3a4c5b6e8f0a1b2c3d2a10",
      body: "Look",
      media: [
        { url: `${mediaBase}/ME00000000000000000000000000000001`, contentType: "image/jpeg" },
        { url: `${mediaBase}/ME00000000000000000000000000000002`, contentType: "video/mp4" },
      ],
    });
  });

  it.each([
    { from: "+447700900513", sender: { kind: "number", number: "+447700900513" } },
    { from: "12345", sender: { kind: "short-code", code: "12345" } },
    { from: "ACME", sender: { kind: "alphanumeric", name: "ACME" } },
  ])("reads From $from as a $sender.kind sender", async ({ from, sender }) => {
    // Arrange
    const params = { ...CAPTURED_SMS, From: from };

    // Act
    const response = await post(smsPath(), params);

    // Assert
    expect(response.statusCode).toBe(200);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]).toMatchObject({ type: "sms.received", from: sender });
  });
});

describe("inbound SMS webhook limits", () => {
  it("accepts the maximum of 10 media items", async () => {
    // Arrange
    const params = { ...CAPTURED_SMS, ...mediaParams(10) };

    // Act
    const response = await post(smsPath(), params);

    // Assert
    expect(response.statusCode).toBe(200);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]).toMatchObject({ type: "sms.received" });
    expect(delivered[0]?.type === "sms.received" ? delivered[0].media : []).toHaveLength(10);
  });
});

describe("message status callback", () => {
  it("delivers message.status with Twilio's error code for an undelivered text", async () => {
    // Arrange
    const params = UNDELIVERED_STATUS;

    // Act
    const response = await post(statusPath(), params);

    // Assert
    expect(response.statusCode).toBe(200);
    expect(delivered).toEqual([
      { type: "message.status", linkId: KNOWN, providerMessageId: MESSAGE_SID, status: "undelivered", errorCode: 30003 },
    ]);
  });

  it("delivers message.status without an error code for a delivered text", async () => {
    // Arrange
    const { ErrorCode: _dropped, ...rest } = UNDELIVERED_STATUS;
    const params = { ...rest, SmsStatus: "delivered", MessageStatus: "delivered" };

    // Act
    const response = await post(statusPath(), params);

    // Assert
    expect(response.statusCode).toBe(200);
    expect(delivered).toEqual([
      { type: "message.status", linkId: KNOWN, providerMessageId: MESSAGE_SID, status: "delivered", errorCode: null },
    ]);
  });

  it("refuses an unknown MessageStatus with 400", async () => {
    // Arrange
    const params = { ...UNDELIVERED_STATUS, MessageStatus: "exploded" };

    // Act
    const response = await post(statusPath(), params);

    // Assert
    expectRefused(response, 400);
  });
});

describe("routing by link id", () => {
  it("answers 404 for an unknown link id without parsing the body", async () => {
    // Arrange: a body the parser would refuse (413), sent where no link is
    const oversized = { ...CAPTURED_SMS, Body: "x".repeat(100 * 1024) };

    // Act
    const response = await post(smsPath(UNKNOWN), oversized);

    // Assert
    expectRefused(response, 404);
    expect(response.json()).toEqual({ error: "unknown link" });
    expect(accountLookups).toEqual([UNKNOWN]);
  });

  it("answers 404 for an unknown link id even with a content type no parser accepts", async () => {
    // Arrange
    const request = {
      method: "POST" as const,
      url: smsPath(UNKNOWN),
      headers: { "content-type": "application/x-unknown" },
      payload: "whatever",
    };

    // Act
    const response = await app.inject(request);

    // Assert
    expectRefused(response, 404);
    expect(response.json()).toEqual({ error: "unknown link" });
  });

  it.each([
    { name: "too short", id: "lnk0123" },
    { name: "upper case", id: "lnk0123456789ABCDEF" },
    { name: "wrong prefix", id: "abc0123456789abcdef" },
    { name: "too long", id: `${KNOWN}0` },
  ])("answers 404 for a malformed link id ($name) without looking it up", async ({ id }) => {
    // Arrange
    const params = CAPTURED_SMS;

    // Act
    const response = await post(smsPath(id), params);

    // Assert
    expectRefused(response, 404);
    expect(response.json()).toEqual({ error: "unknown link" });
    expect(accountLookups).toEqual([]);
  });

  it.each([
    { name: "the SMS route", path: smsPath() },
    { name: "the status route", path: statusPath() },
  ])("does not serve GET on $name", async ({ path }) => {
    // Arrange
    const request = { method: "GET" as const, url: path };

    // Act
    const response = await app.inject(request);

    // Assert
    expect([404, 405]).toContain(response.statusCode);
    expect(delivered).toEqual([]);
  });

  it("answers 404 for a route the plugin does not have", async () => {
    // Arrange
    const path = `/webhooks/twilio/${KNOWN}/nothing-here`;

    // Act
    const response = await post(path, CAPTURED_SMS);

    // Assert
    expectRefused(response, 404);
  });
});

describe("signature check", () => {
  it("refuses a request without X-Twilio-Signature with 403", async () => {
    // Arrange
    const params = CAPTURED_SMS;

    // Act
    const response = await post(smsPath(), params, { unsigned: true });

    // Assert
    expectRefused(response, 403);
  });

  it("refuses an empty X-Twilio-Signature with 403", async () => {
    // Arrange
    const request = {
      method: "POST" as const,
      url: smsPath(),
      headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": "" },
      payload: new URLSearchParams(CAPTURED_SMS).toString(),
    };

    // Act
    const response = await app.inject(request);

    // Assert
    expectRefused(response, 403);
  });

  it.each([
    { name: "signed with another account's token", options: { token: OTHER_TOKEN } },
    { name: "Body altered after signing", options: { signedParams: { ...CAPTURED_SMS, Body: "Nack" } } },
    { name: "a parameter added after signing", options: { signedParams: (({ ApiVersion: _v, ...rest }) => rest)(CAPTURED_SMS) } },
    { name: "signed for another link's URL", options: { signedUrl: `${PUBLIC_BASE_URL}/webhooks/twilio/lnkaaaaaaaaaaaaaaaa/sms` } },
    { name: "signed for another host", options: { signedUrl: `https://evil.example.net${smsPath()}` } },
    { name: "signed over the internal URL", options: { signedUrl: `http://127.0.0.1:8080${smsPath()}` } },
    { name: "signed over the internal URL without a port", options: { signedUrl: `http://localhost${smsPath()}` } },
    { name: "signed for the status route", options: { signedUrl: PUBLIC_BASE_URL + statusPath() } },
  ])("refuses a request $name with 403 and delivers nothing", async ({ options }) => {
    // Arrange
    const params = CAPTURED_SMS;

    // Act
    const response = await post(smsPath(), params, options);

    // Assert
    expectRefused(response, 403);
  });

  it("accepts a signature Twilio computed with the default port in the URL", async () => {
    // Arrange: twilio-node's validator tries the URL with and without :443
    const signedUrl = `https://bridge.example.org:443${smsPath()}`;

    // Act
    const response = await post(smsPath(), CAPTURED_SMS, { signedUrl });

    // Assert
    expect(response.statusCode).toBe(200);
    expect(delivered).toHaveLength(1);
  });

  it("checks the signature before the payload, so a forged malformed body gets 403, not 400", async () => {
    // Arrange
    const { MessageSid: _sid, ...malformed } = CAPTURED_SMS;

    // Act
    const response = await post(smsPath(), malformed, { token: OTHER_TOKEN });

    // Assert
    expectRefused(response, 403);
  });
});

describe("payload validation", () => {
  it.each([
    { name: "no MessageSid", params: (({ MessageSid: _s, ...rest }) => rest)(CAPTURED_SMS) },
    { name: "an empty MessageSid", params: { ...CAPTURED_SMS, MessageSid: "" } },
    { name: "a MessageSid that is not a sid", params: { ...CAPTURED_SMS, MessageSid: "SM2f0c...2a10" } },
    { name: "a To without +", params: { ...CAPTURED_SMS, To: "447700900000" } },
    { name: "a To with letters", params: { ...CAPTURED_SMS, To: "+44770090000O" } },
    { name: "no From", params: (({ From: _f, ...rest }) => rest)(CAPTURED_SMS) },
    { name: "From +1 (555)<script>", params: { ...CAPTURED_SMS, From: "+1 (555)<script>" } },
    { name: "NumMedia=abc", params: { ...CAPTURED_SMS, NumMedia: "abc" } },
    { name: "NumMedia=-1", params: { ...CAPTURED_SMS, NumMedia: "-1" } },
    { name: "NumMedia=11, over Twilio's maximum of 10", params: { ...CAPTURED_SMS, ...mediaParams(11) } },
    { name: "NumMedia=1 without MediaUrl0", params: { ...CAPTURED_SMS, NumMedia: "1" } },
  ])("refuses a signed SMS webhook with $name with 400 and delivers nothing", async ({ params }) => {
    // Arrange: validly signed, so only the payload is at fault

    // Act
    const response = await post(smsPath(), params);

    // Assert
    expectRefused(response, 400);
  });

  it("refuses a body over 64 kB with 413 and delivers nothing", async () => {
    // Arrange
    const params = { ...CAPTURED_SMS, Body: "x".repeat(65 * 1024) };

    // Act
    const response = await post(smsPath(), params);

    // Assert
    expectRefused(response, 413);
  });

  it("accepts a long but normal body just under the limit", async () => {
    // Arrange: 1600 characters of multi-byte text, the most Twilio sends
    const params = { ...CAPTURED_SMS, Body: "ü".repeat(1600) };

    // Act
    const response = await post(smsPath(), params);

    // Assert
    expect(response.statusCode).toBe(200);
    expect(delivered).toHaveLength(1);
  });
});

describe("when the bridge cannot store the event", () => {
  it("answers 5xx, not the TwiML acknowledgement, so Twilio retries", async () => {
    // Arrange
    const failing = await buildApp(() => {
      throw new Error("database is locked");
    });

    try {
      // Act
      const response = await post(smsPath(), CAPTURED_SMS, { on: failing });

      // Assert
      expect(response.statusCode).toBe(500);
      expect(response.body).not.toContain("<Response>");
      expect(response.body).not.toContain("database is locked");
    } finally {
      await failing.close();
    }
  });

  it("answers 5xx for a status callback it could not store", async () => {
    // Arrange
    const attempts: ProviderEvent[] = [];
    const failing = await buildApp((event) => {
      attempts.push(event);
      throw new Error("disk full");
    });

    try {
      // Act
      const response = await post(statusPath(), UNDELIVERED_STATUS, { on: failing });

      // Assert
      expect(response.statusCode).toBe(500);
      expect(attempts).toHaveLength(1);
    } finally {
      await failing.close();
    }
  });
});

describe("health", () => {
  it("answers /health with 200", async () => {
    // Arrange
    const request = { method: "GET" as const, url: "/health" };

    // Act
    const response = await app.inject(request);

    // Assert
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: "ok" });
  });
});

describe("voice webhooks", () => {
  const CALL_SID = "CA2f0c7b1e9d3a4c5b6e8f0a1b2c3d2a10";
  const voice = (from: string): Params => ({
    CallSid: CALL_SID, AccountSid: ACCOUNT_SID, From: from, To: "+447700900000",
    CallStatus: "ringing", ApiVersion: "2010-04-01", Direction: "inbound",
  });

  it("answers a call with a bidirectional media stream carrying the call's id and one-time token", async () => {
    const response = await post(`/webhooks/twilio/${KNOWN}/voice`, voice("+447700900513"));
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain(`<Connect action="${PUBLIC_BASE_URL}/webhooks/twilio/${KNOWN}/voice-after" method="POST">`);
    expect(response.body).toContain(`<Stream url="wss://bridge.example.org/webhooks/twilio/${KNOWN}/media">`);
    expect(response.body).toContain('<Parameter name="callId" value="call0000000000000001"/>');
    expect(response.body).toContain('<Parameter name="token" value="one-time"/>');
    expect(delivered).toEqual([{ type: "call.incoming", linkId: KNOWN, providerCallId: CALL_SID, from: "+447700900513", to: "+447700900000" }]);
  });

  it.each([["anonymous"], ["restricted"], [""]])("a withheld caller id (%j) becomes from: null", async (from) => {
    await post(`/webhooks/twilio/${KNOWN}/voice`, voice(from));
    expect(delivered).toEqual([expect.objectContaining({ type: "call.incoming", from: null })]);
  });

  it("when the stream ends, asks the bridge what next and renders voicemail as Say + Record", async () => {
    const response = await post(`/webhooks/twilio/${KNOWN}/voice-after`, voice("+447700900513"));
    expect(response.body).toMatch(/<Say>Leave a message\.<\/Say><Record action="https:\/\/bridge\.example\.org\/webhooks\/twilio\/lnk0123456789abcdef\/recording" method="POST" maxLength="60" playBeep="true"/);
  });

  it("an outbound call's answer URL gets a stream for that call, or a hangup for an unknown one", async () => {
    const known = await post(`/webhooks/twilio/${KNOWN}/voice-out?call=call0000000000000002`, voice("+447700900513"));
    expect(known.body).toContain('<Parameter name="token" value="t2"/>');
    const unknown = await post(`/webhooks/twilio/${KNOWN}/voice-out?call=call0000000000000009`, voice("+447700900513"));
    expect(unknown.body).toContain("<Hangup/>");
  });

  it("delivers call status callbacks (with the call id from the URL) and refuses unknown statuses", async () => {
    const ok = await post(`/webhooks/twilio/${KNOWN}/call-status?call=call0000000000000002`, { ...voice("+447700900513"), CallStatus: "completed", CallDuration: "42" });
    expect(ok.statusCode).toBe(200);
    expect(delivered).toEqual([{ type: "call.status", linkId: KNOWN, providerCallId: CALL_SID, callId: "call0000000000000002", status: "completed", durationSeconds: 42 }]);
    delivered = [];
    expectRefused(await post(`/webhooks/twilio/${KNOWN}/call-status`, { ...voice("+447700900513"), CallStatus: "exploded" }), 400);
  });

  it("delivers the voicemail recording and says goodbye", async () => {
    const response = await post(`/webhooks/twilio/${KNOWN}/recording`, { ...voice("+447700900513"), RecordingUrl: "https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE1", RecordingDuration: "7", Digits: "hangup" });
    expect(response.body).toContain("<Hangup/>");
    expect(delivered).toEqual([{ type: "call.recording", linkId: KNOWN, providerCallId: CALL_SID, url: "https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE1", durationSeconds: 7 }]);
  });

  it("refuses an unsigned or wrongly signed call", async () => {
    expectRefused(await post(`/webhooks/twilio/${KNOWN}/voice`, voice("+447700900513"), { unsigned: true }), 403);
    expectRefused(await post(`/webhooks/twilio/${KNOWN}/voice`, voice("+447700900513"), { token: OTHER_TOKEN }), 403);
  });
});
