import twilio from "twilio";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AccountCredentials, CarrierSimulator } from "../../../src/sandbox/simulator/index.js";
import { basicAuth, BRIDGE_NUMBER, closeAll, CONTACT, sdkClient, startBridgeSimulator } from "./fixture.js";
import { eventually, isSignedBy, single, startReceiver, type Receiver } from "./receiver.js";

let sim: CarrierSimulator;
let account: AccountCredentials;
let client: twilio.Twilio;
let receiver: Receiver;

beforeEach(async () => {
  ({ sim, account } = await startBridgeSimulator({ statusDelayMs: 10, account: { friendlyName: "Bridge test" } }));
  // The one knob: sdkClient sets client.api.baseUrl, from which twilio-node builds every api-domain URL.
  client = sdkClient(sim, account);
  receiver = await startReceiver();
});

afterEach(() => closeAll(sim, receiver));

/** The rejection of `promise`, which must reject. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected the request to fail");
    },
    (err: unknown) => err,
  );
}

describe("carrier simulator through the real twilio SDK", () => {
  it("receives every SDK request when client.api.baseUrl points at it, paging included", async () => {
    const seen: string[] = [];
    sim.app.server.on("request", (req: { method?: string; url?: string }) => seen.push(`${req.method} ${req.url}`));
    sim.twilio.addNumber(account.sid, "+15550002222");
    sim.twilio.addNumber(account.sid, "+15550003333");

    await client.api.v2010.account.fetch();
    await client.balance.fetch();
    await client.incomingPhoneNumbers.list({ pageSize: 2 });
    const message = await client.messages.create({ to: CONTACT, from: BRIDGE_NUMBER, body: "hi" });
    await client.messages(message.sid).fetch();

    const base = `/2010-04-01/Accounts/${account.sid}`;
    expect(seen).toEqual([
      `GET ${base}.json`,
      `GET ${base}/Balance.json`,
      `GET ${base}/IncomingPhoneNumbers.json?PageSize=2`,
      expect.stringMatching(
        new RegExp(`^GET ${base}/IncomingPhoneNumbers\\.json\\?PageSize=2&Page=1&PageToken=PAPN[0-9a-f]{32}$`),
      ),
      `POST ${base}/Messages.json`,
      `GET ${base}/Messages/${message.sid}.json`,
    ]);
  });

  it("fetches the account and its balance", async () => {
    const fetched = await client.api.v2010.account.fetch();
    expect(fetched).toMatchObject({
      sid: account.sid,
      ownerAccountSid: account.sid,
      friendlyName: "Bridge test",
      status: "active",
      type: "Full",
      authToken: account.authToken,
      uri: `/2010-04-01/Accounts/${account.sid}.json`,
    });
    expect(fetched.dateCreated).toBeInstanceOf(Date);
    expect(fetched.subresourceUris["messages"]).toBe(`/2010-04-01/Accounts/${account.sid}/Messages.json`);

    expect(await client.balance.fetch()).toMatchObject({ accountSid: account.sid, balance: "20.00", currency: "USD" });
    sim.twilio.setBalance(account.sid, "1.23");
    expect((await client.balance.fetch()).balance).toBe("1.23");
  });

  it("lists numbers filtered by phoneNumber", async () => {
    sim.twilio.addNumber(account.sid, "+15550002222", { friendlyName: "Second" });
    const [number, ...rest] = await client.incomingPhoneNumbers.list({ phoneNumber: BRIDGE_NUMBER });
    expect(rest).toEqual([]);
    expect(number).toMatchObject({
      phoneNumber: BRIDGE_NUMBER,
      friendlyName: "(555) 000-1111",
      accountSid: account.sid,
      smsUrl: "",
      smsMethod: "POST",
      voiceUrl: null,
      capabilities: { voice: true, sms: true, mms: true, fax: false },
      status: "in-use",
    });
    expect(number?.sid).toMatch(/^PN[0-9a-f]{32}$/);
    expect(await client.incomingPhoneNumbers.list({ phoneNumber: "+15559999999" })).toEqual([]);
    expect((await client.incomingPhoneNumbers.list({ friendlyName: "Second" })).map((n) => n.phoneNumber)).toEqual([
      "+15550002222",
    ]);
  });

  it("pages across numbers with a small page size, forwards and backwards", async () => {
    const numbers = [BRIDGE_NUMBER];
    for (let i = 0; i < 5; i += 1) {
      numbers.push(`+1555000300${i}`);
      sim.twilio.addNumber(account.sid, `+1555000300${i}`);
    }
    const all = await client.incomingPhoneNumbers.list({ pageSize: 2 });
    expect(all.map((n) => n.phoneNumber)).toEqual(numbers);
    expect(await client.incomingPhoneNumbers.list({ pageSize: 2, limit: 3 })).toHaveLength(3);

    const first = await client.incomingPhoneNumbers.page({ pageSize: 2 });
    expect(first.instances.map((n) => n.phoneNumber)).toEqual(numbers.slice(0, 2));
    expect(first.nextPageUrl).toMatch(new RegExp(`^${sim.url}/2010-04-01/`));
    const second = await first.nextPage();
    expect(second?.instances.map((n) => n.phoneNumber)).toEqual(numbers.slice(2, 4));
    const back = await second?.previousPage();
    expect(back?.instances.map((n) => n.phoneNumber)).toEqual(numbers.slice(0, 2));
  });

  it("updates a number's SMS and voice URLs, reads them back, clears them, refuses bad values", async () => {
    const [number] = await client.incomingPhoneNumbers.list({ phoneNumber: BRIDGE_NUMBER });
    if (!number) throw new Error("number missing");
    const updated = await client.incomingPhoneNumbers(number.sid).update({
      smsUrl: `${receiver.url}/sms`,
      smsMethod: "GET",
      voiceUrl: `${receiver.url}/voice`,
      friendlyName: "Bridge line",
    });
    expect(updated).toMatchObject({
      smsUrl: `${receiver.url}/sms`,
      smsMethod: "GET",
      voiceUrl: `${receiver.url}/voice`,
    });
    expect(await client.incomingPhoneNumbers(number.sid).fetch()).toMatchObject({
      smsUrl: `${receiver.url}/sms`,
      voiceUrl: `${receiver.url}/voice`,
      friendlyName: "Bridge line",
    });
    expect(sim.twilio.getNumber(BRIDGE_NUMBER)).toMatchObject({ sms_url: `${receiver.url}/sms`, sms_method: "GET" });

    await client.incomingPhoneNumbers(number.sid).update({ smsUrl: "", voiceUrl: "" });
    expect(sim.twilio.getNumber(BRIDGE_NUMBER)).toMatchObject({ sms_url: "", voice_url: "" });

    expect(await rejection(client.incomingPhoneNumbers(number.sid).update({ smsUrl: "not a url" }))).toMatchObject({
      status: 400,
      code: 21402,
    });
    expect(
      await rejection(client.incomingPhoneNumbers(number.sid).update({ smsMethod: "PUT" as "POST" })),
    ).toMatchObject({ status: 400, code: 21403 });
    expect(
      await rejection(client.incomingPhoneNumbers(`PN${"0".repeat(32)}`).fetch()),
    ).toMatchObject({ status: 404, code: 20404 });
  });

  it("sends a message: the handset gets it and signed callbacks report queued, sent, delivered", async () => {
    const statusCallback = `${receiver.url}/status/lnk123?attempt=1`;
    const message = await client.messages.create({
      to: CONTACT,
      from: BRIDGE_NUMBER,
      body: "hello from the bridge",
      statusCallback,
    });
    expect(message).toMatchObject({
      status: "queued",
      direction: "outbound-api",
      numSegments: "1",
      numMedia: "0",
      price: null,
      errorCode: null,
      errorMessage: null,
      from: BRIDGE_NUMBER,
      to: CONTACT,
      apiVersion: "2010-04-01",
    });
    expect(message.sid).toMatch(/^SM[0-9a-f]{32}$/);

    const received = await sim.handset(CONTACT).waitForMessage((m) => m.body === "hello from the bridge");
    expect(received).toMatchObject({ sid: message.sid, from: BRIDGE_NUMBER, status: "delivered", media: [] });

    const callbacks = await receiver.waitFor("/status/lnk123", 3);
    expect(callbacks.map((c) => single(c.params, "MessageStatus"))).toEqual(["queued", "sent", "delivered"]);
    for (const callback of callbacks) {
      const signature = callback.headers["x-twilio-signature"];
      expect(typeof signature).toBe("string");
      expect(callback.url).toBe(statusCallback);
      expect(twilio.validateRequest(account.authToken, String(signature), callback.url, callback.params)).toBe(true);
      expect(isSignedBy("0".repeat(32), callback)).toBe(false);
      expect(callback.params).toMatchObject({
        AccountSid: account.sid,
        From: BRIDGE_NUMBER,
        To: CONTACT,
        MessageSid: message.sid,
        SmsSid: message.sid,
        SmsStatus: single(callback.params, "MessageStatus"),
        ApiVersion: "2010-04-01",
      });
      expect(callback.params).not.toHaveProperty("ErrorCode");
    }
    expect(Object.keys(callbacks[2]?.params ?? {}).sort()).toEqual([
      "AccountSid",
      "ApiVersion",
      "From",
      "MessageSid",
      "MessageStatus",
      "RawDlrDoneDate",
      "SmsSid",
      "SmsStatus",
      "To",
    ]);
    expect(single(callbacks[2]?.params ?? {}, "RawDlrDoneDate")).toMatch(/^\d{10}$/);

    const fetched = await client.messages(message.sid).fetch();
    expect(fetched.status).toBe("delivered");
    expect(fetched.dateSent).toBeInstanceOf(Date);
    expect(sim.twilio.messages({ to: CONTACT })[0]?.history.map((s) => s.status)).toEqual([
      "queued",
      "sent",
      "delivered",
    ]);
  });

  it("counts segments like a carrier: GSM-7 160/153, UCS-2 70/67", async () => {
    const send = async (body: string) =>
      (await client.messages.create({ to: CONTACT, from: BRIDGE_NUMBER, body })).numSegments;
    expect(await send("a".repeat(160))).toBe("1");
    expect(await send("a".repeat(161))).toBe("2");
    expect(await send("a".repeat(306))).toBe("2");
    expect(await send("a".repeat(307))).toBe("3");
    expect(await send("é".repeat(160))).toBe("1");
    expect(await send("ł".repeat(70))).toBe("1");
    expect(await send("ł".repeat(71))).toBe("2");
    expect(await send("👍".repeat(34))).toBe("1");
  });

  it("throws RestException 401 / 20003 for a wrong token", async () => {
    const wrong = twilio(account.sid, "f".repeat(32));
    wrong.api.baseUrl = sim.url;
    const err = await rejection(wrong.api.v2010.account.fetch());
    expect(err).toBeInstanceOf(twilio.RestException);
    expect(err).toMatchObject({
      status: 401,
      code: 20003,
      message: "Authenticate",
      moreInfo: "https://www.twilio.com/docs/errors/20003",
    });

    const response = await fetch(`${sim.url}/2010-04-01/Accounts/${account.sid}/Balance.json`);
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({
      code: 20003,
      message: "Authenticate",
      more_info: "https://www.twilio.com/docs/errors/20003",
      status: 401,
    });
  });

  it("hides an account from another account's valid credentials", async () => {
    const other = sim.twilio.createAccount();
    const intruder = twilio(other.sid, other.authToken, { accountSid: account.sid });
    intruder.api.baseUrl = sim.url;
    expect(await rejection(intruder.api.v2010.account.fetch())).toMatchObject({ status: 404, code: 20404 });
  });

  it.each([
    ["a To that is not a phone number", { to: "12345", from: BRIDGE_NUMBER, body: "x" }, 21211],
    ["neither Body nor MediaUrl", { to: CONTACT, from: BRIDGE_NUMBER }, 21602],
    ["no From", { to: CONTACT, body: "x" }, 21603],
    ["a From the account does not own", { to: CONTACT, from: "+15559999999", body: "x" }, 21606],
    ["a Body over 1600 characters", { to: CONTACT, from: BRIDGE_NUMBER, body: "x".repeat(1601) }, 21617],
    [
      "more than 10 media URLs",
      { to: CONTACT, from: BRIDGE_NUMBER, mediaUrl: Array.from({ length: 11 }, (_, i) => `http://127.0.0.1/${i}`) },
      21623,
    ],
  ])("refuses a message with %s", async (_case, params, code) => {
    const err = await rejection(client.messages.create(params));
    expect(err).toBeInstanceOf(twilio.RestException);
    expect(err).toMatchObject({ status: 400, code, moreInfo: `https://www.twilio.com/docs/errors/${code}` });
    expect(sim.twilio.messages()).toEqual([]);
  });

  it("refuses a message without To (21604), which the SDK itself would not send", async () => {
    const response = await fetch(`${sim.url}/2010-04-01/Accounts/${account.sid}/Messages.json`, {
      method: "POST",
      headers: {
        authorization: basicAuth(account.sid, account.authToken),
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ From: BRIDGE_NUMBER, Body: "x" }).toString(),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: 21604, status: 400 });
  });

  it("refuses a From that belongs to another account (21606)", async () => {
    const other = sim.twilio.createAccount();
    sim.twilio.addNumber(other.sid, "+15550008888");
    expect(
      await rejection(client.messages.create({ to: CONTACT, from: "+15550008888", body: "x" })),
    ).toMatchObject({ status: 400, code: 21606 });
  });

  it("rejects a send to an opted-out recipient synchronously (21610), once", async () => {
    sim.faults.failMessagesTo(CONTACT, { errorCode: 21610, mode: "reject" });
    expect(await rejection(client.messages.create({ to: CONTACT, from: BRIDGE_NUMBER, body: "x" }))).toMatchObject({
      status: 400,
      code: 21610,
      message: "Attempt to send to unsubscribed recipient",
    });
    const next = await client.messages.create({ to: CONTACT, from: BRIDGE_NUMBER, body: "y" });
    expect(next.status).toBe("queued");
  });

  it.each([
    ["undelivered", 30003, ["queued", "sent", "undelivered"]],
    ["failed", 30005, ["queued", "failed"]],
    ["failed", 21610, ["queued", "failed"]],
  ] as const)("ends a message %s with ErrorCode %i when told to", async (mode, errorCode, statuses) => {
    sim.faults.failMessagesTo(CONTACT, { errorCode, mode });
    const message = await client.messages.create({
      to: CONTACT,
      from: BRIDGE_NUMBER,
      body: "x",
      statusCallback: `${receiver.url}/status`,
    });
    const callbacks = await receiver.waitFor("/status", statuses.length);
    expect(callbacks.map((c) => single(c.params, "MessageStatus"))).toEqual(statuses);
    const last = callbacks.at(-1);
    expect(last?.params).toMatchObject({ ErrorCode: String(errorCode), MessageSid: message.sid });
    expect(Boolean(last?.params["RawDlrDoneDate"])).toBe(mode === "undelivered");
    expect(last && isSignedBy(account.authToken, last)).toBe(true);
    const fetched = await client.messages(message.sid).fetch();
    expect(fetched).toMatchObject({ status: mode, errorCode });
    expect(sim.handset(CONTACT).inbox()).toEqual([]);
  });

  it("injects REST failures: next N requests, optionally by method and path", async () => {
    sim.faults.failRest({ status: 503, code: 20503 });
    const outage = await rejection(client.balance.fetch());
    expect(outage).toBeInstanceOf(twilio.RestException);
    expect(outage).toMatchObject({ status: 503, code: 20503, message: "Service Unavailable" });
    expect((await client.balance.fetch()).balance).toBe("20.00");

    sim.faults.failRest({ status: 429, code: 20429, times: 2, method: "POST", pathIncludes: "/Messages.json" });
    await client.balance.fetch();
    const send = () => client.messages.create({ to: CONTACT, from: BRIDGE_NUMBER, body: "x" });
    expect(await rejection(send())).toMatchObject({ status: 429, code: 20429, message: "Too Many Requests" });
    expect(await rejection(send())).toMatchObject({ status: 429, code: 20429 });
    expect((await send()).status).toBe("queued");

    sim.faults.failRest({ status: 500, code: 20500, message: "Boom", times: Infinity });
    expect(await rejection(client.balance.fetch())).toMatchObject({ status: 500, code: 20500, message: "Boom" });
    expect(await rejection(client.balance.fetch())).toMatchObject({ status: 500 });
    sim.faults.clear();
    await client.balance.fetch();
  });

  it("adds latency to REST responses", async () => {
    sim.faults.setRestLatency(150);
    const started = performance.now();
    await client.balance.fetch();
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    sim.faults.setRestLatency(0);
    const quick = performance.now();
    await client.balance.fetch();
    expect(performance.now() - quick).toBeLessThan(140);
  });

  it("holds creates to one number without blocking sends to another", async () => {
    const stalledNumber = "+15551110000";
    const release = sim.faults.hangMessagesTo(stalledNumber);
    let stalledSettled = false;
    const stalled = client.messages
      .create({ to: stalledNumber, from: BRIDGE_NUMBER, body: "stuck" })
      .finally(() => {
        stalledSettled = true;
      });

    const other = await client.messages.create({ to: CONTACT, from: BRIDGE_NUMBER, body: "flows" });
    expect(other.status).toBe("queued");
    await sim.handset(CONTACT).waitForMessage((m) => m.body === "flows");
    expect(stalledSettled).toBe(false);
    expect(sim.twilio.messages({ to: stalledNumber })).toEqual([]);

    release();
    expect((await stalled).to).toBe(stalledNumber);
    await sim.handset(stalledNumber).waitForMessage((m) => m.body === "stuck");
  });

  it("fetches outbound media from the bridge and hands the bytes to the handset", async () => {
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 7)]);
    receiver.serve("/media/cat.png", "image/png", png);
    const message = await client.messages.create({
      to: CONTACT,
      from: BRIDGE_NUMBER,
      body: "look",
      mediaUrl: [`${receiver.url}/media/cat.png`],
    });
    expect(message.sid).toMatch(/^MM[0-9a-f]{32}$/);
    expect(message.numMedia).toBe("1");

    const received = await sim.handset(CONTACT).waitForMessage((m) => m.sid === message.sid);
    expect(received.media).toEqual([{ contentType: "image/png", data: png }]);

    const [media] = await client.messages(message.sid).media.list();
    expect(media).toMatchObject({ contentType: "image/png", parentSid: message.sid, accountSid: account.sid });
    const bytesUrl = `${sim.url}${media?.uri.replace(/\.json$/, "")}`;
    const unauthenticated = await fetch(bytesUrl);
    expect(unauthenticated.status).toBe(401);
    expect(await unauthenticated.json()).toMatchObject({ code: 20003 });
    const authenticated = await fetch(bytesUrl, {
      headers: { authorization: basicAuth(account.sid, account.authToken) },
    });
    expect(authenticated.status).toBe(200);
    expect(authenticated.headers.get("content-type")).toBe("image/png");
    expect(Buffer.from(await authenticated.arrayBuffer())).toEqual(png);
  });

  it("fails a message whose media cannot be fetched (63019)", async () => {
    receiver.answer("/media/gone.png", 404);
    const message = await client.messages.create({
      to: CONTACT,
      from: BRIDGE_NUMBER,
      mediaUrl: [`${receiver.url}/media/gone.png`],
      statusCallback: `${receiver.url}/status`,
    });
    const callbacks = await receiver.waitFor("/status", 2);
    expect(callbacks.map((c) => c.params["MessageStatus"])).toEqual(["queued", "failed"]);
    expect(callbacks[1]?.params["ErrorCode"]).toBe("63019");
    expect(await client.messages(message.sid).fetch()).toMatchObject({ status: "failed", errorCode: 63019 });
  });

  it("lists messages newest first, with To/From/DateSent filters and paging", async () => {
    const first = await client.messages.create({ to: CONTACT, from: BRIDGE_NUMBER, body: "one" });
    const second = await client.messages.create({ to: CONTACT, from: BRIDGE_NUMBER, body: "two" });
    await client.messages.create({ to: "+15550004444", from: BRIDGE_NUMBER, body: "elsewhere" });
    const reply = await sim.handset(CONTACT).sendSms(BRIDGE_NUMBER, "back to you");
    const settled = (status: string) => status === "delivered" || status === "received";
    await eventually(() => (sim.twilio.messages().every((m) => settled(m.status)) ? true : undefined));

    expect((await client.messages.list({ to: CONTACT })).map((m) => m.sid)).toEqual([second.sid, first.sid]);
    const inbound = await client.messages.list({ from: CONTACT });
    expect(inbound.map((m) => [m.sid, m.direction, m.status, m.body])).toEqual([
      [reply.messageSid, "inbound", "received", "back to you"],
    ]);
    expect(await client.messages.list({ pageSize: 1 })).toHaveLength(4);

    const now = Date.now();
    expect(await client.messages.list({ dateSentAfter: new Date(now - 60_000) })).toHaveLength(4);
    expect(await client.messages.list({ dateSentBefore: new Date(now - 86_400_000) })).toHaveLength(0);

    const today = new Date(now).toISOString().slice(0, 10);
    const listByDay = async (query: string) => {
      const response = await fetch(`${sim.url}/2010-04-01/Accounts/${account.sid}/Messages.json?${query}`, {
        headers: { authorization: basicAuth(account.sid, account.authToken) },
      });
      return ((await response.json()) as { messages: unknown[] }).messages.length;
    };
    expect(await listByDay(`DateSent=${today}`)).toBe(4);
    expect(await listByDay(`DateSent%3E=${today}&To=%2B15557654321`)).toBe(2);
    expect(await listByDay(`DateSent%3C=2000-01-01`)).toBe(0);
    const minuteAgo = encodeURIComponent(new Date(now - 60_000).toUTCString().replace("GMT", "-0000"));
    expect(await listByDay(`DateSent%3E=${minuteAgo}`)).toBe(4);

    expect(await rejection(client.messages(`SM${"0".repeat(32)}`).fetch())).toMatchObject({ status: 404, code: 20404 });
  });
});
