import twilio from "twilio";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SimulatorError, type AccountCredentials, type CarrierSimulator } from "../../../src/sandbox/simulator/index.js";
import { basicAuth, BRIDGE_NUMBER, closeAll, CONTACT, sdkClient, startBridgeSimulator } from "./fixture.js";
import { isSignedBy, single, startReceiver, type Receiver } from "./receiver.js";

const SMS_PATH = "/webhooks/twilio/lnkabcdefghijklmnop/sms";

// Key order of the real inbound webhook captured in protocols.md §1.3.
const CAPTURED_SMS_KEYS = (
  "ToCountry=GB&ToState=&SmsMessageSid=SM2f0c&NumMedia=0&ToCity=&FromZip=&SmsSid=SM2f0c&FromState=" +
  "&SmsStatus=received&FromCity=&Body=Ack&FromCountry=GB&To=%2B447700900000&ToZip=&NumSegments=1" +
  "&MessageSid=SM2f0c&AccountSid=ACxx&From=%2B447700900513&ApiVersion=2010-04-01"
)
  .split("&")
  .map((pair) => pair.split("=")[0]);

let sim: CarrierSimulator;
let account: AccountCredentials;
let receiver: Receiver;

beforeEach(async () => {
  receiver = await startReceiver();
  ({ sim, account } = await startBridgeSimulator({ statusDelayMs: 10, number: { smsUrl: `${receiver.url}${SMS_PATH}` } }));
});

afterEach(() => closeAll(sim, receiver));

const signatureOf = (headers: Record<string, string | string[] | undefined>): string =>
  String(headers["x-twilio-signature"]);

describe("handset → bridge", () => {
  it("posts a signed form webhook shaped like Twilio's captured one", async () => {
    const result = await sim.handset(CONTACT).sendSms(BRIDGE_NUMBER, "Ack");
    expect(result.status).toBe(200);
    expect(result.responseBody).toContain("<Response>");
    expect(result.messageSid).toMatch(/^SM[0-9a-f]{32}$/);

    const [request, ...more] = receiver.at(SMS_PATH);
    expect(more).toEqual([]);
    if (!request) throw new Error("no webhook");
    expect(request.method).toBe("POST");
    expect(request.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(request.url).toBe(`${receiver.url}${SMS_PATH}`);
    expect(isSignedBy(account.authToken, request)).toBe(true);
    expect(isSignedBy("0".repeat(32), request)).toBe(false);

    expect(Object.keys(request.params)).toEqual(CAPTURED_SMS_KEYS);
    expect(request.params).toEqual({
      ToCountry: "US",
      ToState: "",
      SmsMessageSid: result.messageSid,
      NumMedia: "0",
      ToCity: "",
      FromZip: "",
      SmsSid: result.messageSid,
      FromState: "",
      SmsStatus: "received",
      FromCity: "",
      Body: "Ack",
      FromCountry: "US",
      To: BRIDGE_NUMBER,
      ToZip: "",
      NumSegments: "1",
      MessageSid: result.messageSid,
      AccountSid: account.sid,
      From: CONTACT,
      ApiVersion: "2010-04-01",
    });

    const [recorded] = sim.twilio.messages({ from: CONTACT });
    expect(recorded).toMatchObject({ direction: "inbound", status: "received", body: "Ack", to: BRIDGE_NUMBER });
    expect(recorded?.webhook).toMatchObject({ status: 200, method: "POST" });
  });

  it("sends MMS media as MediaUrl{N} on the simulator, fetchable only with Basic auth", async () => {
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4]);
    const gif = Buffer.from("GIF89a-not-really");
    const result = await sim.handset("+447700900513").sendSms(BRIDGE_NUMBER, "pics", {
      media: [
        { contentType: "image/jpeg", data: jpeg },
        { contentType: "image/gif", data: gif },
      ],
    });
    expect(result.messageSid).toMatch(/^MM[0-9a-f]{32}$/);
    const [request] = receiver.at(SMS_PATH);
    if (!request) throw new Error("no webhook");
    const params = request.params;
    expect(isSignedBy(account.authToken, request)).toBe(true);
    expect(params).toMatchObject({
      NumMedia: "2",
      MediaContentType0: "image/jpeg",
      MediaContentType1: "image/gif",
      FromCountry: "GB",
      ToCountry: "US",
      Body: "pics",
    });
    const mediaBase = `${sim.url}/2010-04-01/Accounts/${account.sid}/Messages/${result.messageSid}/Media/`;
    const url0 = single(params, "MediaUrl0") ?? "";
    const url1 = single(params, "MediaUrl1") ?? "";
    expect(url0).toMatch(new RegExp(`^${mediaBase.replaceAll("+", "\\+")}ME[0-9a-f]{32}$`));
    expect(url1.startsWith(mediaBase)).toBe(true);

    expect((await fetch(url0)).status).toBe(401);
    const wrong = await fetch(url0, { headers: { authorization: basicAuth(account.sid, "f".repeat(32)) } });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ code: 20003, status: 401 });
    const other = sim.twilio.createAccount();
    expect((await fetch(url0, { headers: { authorization: basicAuth(other.sid, other.authToken) } })).status).toBe(404);

    const auth = { authorization: basicAuth(account.sid, account.authToken) };
    const first = await fetch(url0, { headers: auth });
    expect(first.status).toBe(200);
    expect(first.headers.get("content-type")).toBe("image/jpeg");
    expect(Buffer.from(await first.arrayBuffer())).toEqual(jpeg);
    const second = await fetch(url1, { headers: auth });
    expect(second.headers.get("content-type")).toBe("image/gif");
    expect(Buffer.from(await second.arrayBuffer())).toEqual(gif);

    const client = sdkClient(sim, account);
    const listed = await client.messages(result.messageSid).media.list();
    expect(listed.map((m) => m.contentType).sort()).toEqual(["image/gif", "image/jpeg"]);
  });

  it("uses GET when sms_method says so, signing the URL with the parameters in it", async () => {
    const client = sdkClient(sim, account);
    const [number] = await client.incomingPhoneNumbers.list({ phoneNumber: BRIDGE_NUMBER });
    await client
      .incomingPhoneNumbers(number?.sid ?? "")
      .update({ smsMethod: "GET", smsUrl: `${receiver.url}/get-sms?x=1` });

    const result = await sim.handset(CONTACT).sendSms(BRIDGE_NUMBER, "via get & co");
    expect(result.status).toBe(200);
    const [request] = receiver.at("/get-sms");
    if (!request) throw new Error("no webhook");
    expect(request.method).toBe("GET");
    expect(request.params).toMatchObject({ x: "1", Body: "via get & co", From: CONTACT });
    expect(twilio.validateRequest(account.authToken, signatureOf(request.headers), request.url, {})).toBe(true);
    expect(isSignedBy(account.authToken, request)).toBe(true);
  });

  it("resolves with status 0, without retrying, when nobody answers or there is no sms_url", async () => {
    const gone = await startReceiver();
    await gone.close();
    sim.twilio.addNumber(account.sid, "+15550002222", { smsUrl: `${gone.url}/sms` });
    const refused = await sim.handset(CONTACT).sendSms("+15550002222", "anyone?");
    expect(refused).toMatchObject({ status: 0, responseBody: "" });
    expect(sim.twilio.messages({ to: "+15550002222" })[0]?.webhook?.error).toBeTruthy();

    sim.twilio.addNumber(account.sid, "+15550003333");
    expect(await sim.handset(CONTACT).sendSms("+15550003333", "no url")).toMatchObject({ status: 0 });

    receiver.answer(SMS_PATH, 500, "oops");
    const failed = await sim.handset(CONTACT).sendSms(BRIDGE_NUMBER, "server error");
    expect(failed).toMatchObject({ status: 500, responseBody: "oops" });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(receiver.at(SMS_PATH)).toHaveLength(1);
  });

  it("texts from short codes and alphanumeric sender ids", async () => {
    await sim.handset("TWILIO").sendSms(BRIDGE_NUMBER, "Your code is 1234");
    await sim.handset("12345").sendSms(BRIDGE_NUMBER, "STOP");
    const [fromName, fromShortCode] = receiver.at(SMS_PATH);
    expect(fromName?.params).toMatchObject({ From: "TWILIO", FromCountry: "" });
    expect(fromShortCode?.params).toMatchObject({ From: "12345", FromCountry: "" });
  });

  it("refuses a destination no account owns and an invalid handset number", async () => {
    const err = await sim.handset(CONTACT).sendSms("+15559990000", "hello?").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SimulatorError);
    expect(err).toMatchObject({ code: "sim-unknown-number" });
    expect(() => sim.handset("not a number!")).toThrow(SimulatorError);
  });

  it("replays and forges webhooks with postSignedWebhook and sign", async () => {
    const url = `${receiver.url}/replay?q=1`;
    const params = { MessageSid: `SM${"a".repeat(32)}`, Body: "replayed", MediaUrl: ["b", "a"] };
    const outcome = await sim.twilio.postSignedWebhook(url, params, account.authToken);
    expect(outcome.status).toBe(200);
    const [request] = receiver.at("/replay");
    if (!request) throw new Error("no webhook");
    expect(signatureOf(request.headers)).toBe(sim.twilio.sign(url, params, account.authToken));
    expect(request.params).toEqual(params);
    expect(twilio.validateRequest(account.authToken, signatureOf(request.headers), url, request.params)).toBe(true);

    const forged = sim.twilio.sign(url, params, "0".repeat(32));
    expect(twilio.validateRequest(account.authToken, forged, url, params)).toBe(false);
  });

  it("delivers a message between two simulated numbers as an inbound webhook", async () => {
    const other = sim.twilio.createAccount();
    sim.twilio.addNumber(other.sid, "+15550005555", { smsUrl: `${receiver.url}/other` });
    const client = sdkClient(sim, account);
    await client.messages.create({ to: "+15550005555", from: BRIDGE_NUMBER, body: "number to number" });
    const [request] = await receiver.waitFor("/other", 1);
    expect(request?.params).toMatchObject({ From: BRIDGE_NUMBER, To: "+15550005555", AccountSid: other.sid });
    expect(request && isSignedBy(other.authToken, request)).toBe(true);
  });

  it("times out waiting for a message that never comes", async () => {
    const err = await sim
      .handset(CONTACT)
      .waitForMessage((m) => m.body === "never", { timeoutMs: 50 })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "sim-wait-timeout" });
  });
});
