import { createServer } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BridgeError, type ErrorCode } from "../../src/errors.js";
import { e164, type E164 } from "../../src/ids.js";
import { createTwilioConnector } from "../../src/providers/twilio/connector.js";
import type { ProviderClient, ProviderConnector, ProviderNumber, WebhookUrls } from "../../src/providers/types.js";
import { TwilioClient } from "../../src/providers/twilio/client.js";
import {
  startCarrierSimulator,
  type AccountCredentials,
  type CarrierSimulator,
  type NumberOptions,
} from "../../src/sandbox/simulator/index.js";
import { Secret } from "../../src/secret.js";

/**
 * The Twilio provider client (layer d of the testing guide): the real twilio SDK, pointed at the
 * carrier simulator on 127.0.0.1, through the connector exactly as the bridge builds it.
 */

const BRIDGE_NUMBER = e164("+15550001111");
const OTHER_NUMBER = e164("+15550002222");

const URLS: WebhookUrls = {
  sms: "https://bridge.example.org/webhooks/twilio/lnk0123456789abcdef/sms",
  voice: "https://bridge.example.org/webhooks/twilio/lnk0123456789abcdef/voice",
  callStatus: "https://bridge.example.org/webhooks/twilio/lnk0123456789abcdef/call-status",
  messageStatus: "https://bridge.example.org/webhooks/twilio/lnk0123456789abcdef/message-status",
};

const hex32 = (digit: string): string => digit.repeat(32);
const MESSAGING_SERVICE_SID = `MG${hex32("a")}`;
const SMS_APP_SID = `AP${hex32("b")}`;
const VOICE_APP_SID = `AP${hex32("c")}`;
const TRUNK_SID = `TK${hex32("d")}`;

let sim: CarrierSimulator;
let account: AccountCredentials;
let connector: ProviderConnector;

beforeEach(async () => {
  sim = await startCarrierSimulator({ statusDelayMs: 10 });
  account = sim.twilio.createAccount({ friendlyName: "Bridge test account", balance: "12.34", currency: "EUR" });
  connector = createTwilioConnector({ apiBaseUrl: sim.url });
});

afterEach(async () => {
  await sim.close();
});

/** A client for `accountRef`/`authToken` (the test account's by default), built as the bridge builds it. */
function clientFor(overrides: Partial<{ accountRef: string; authToken: string; connector: ProviderConnector }> = {}): ProviderClient {
  const { accountRef = account.sid, authToken = account.authToken, connector: which = connector } = overrides;
  return which.createClient({ accountRef, credentials: new Secret({ authToken }) });
}

/** The Twilio client with its optional abilities (the connector returns a `TwilioClient`). */
function twilioClient(): TwilioClient {
  const client = clientFor();
  expect(client).toBeInstanceOf(TwilioClient);
  return client as TwilioClient;
}

/** Adds `number` to the test account and finds it through the client. */
async function numberOnAccount(number: E164, options: NumberOptions = {}): Promise<ProviderNumber> {
  sim.twilio.addNumber(account.sid, number, options);
  return clientFor().findNumber(number);
}

/** The BridgeError `promise` rejects with; fails the test if it resolves or rejects with anything else. */
async function bridgeErrorOf(promise: Promise<unknown>): Promise<BridgeError> {
  const outcome = await promise.then(
    (value: unknown) => ({ resolved: value }),
    (err: unknown) => ({ rejected: err }),
  );
  if (!("rejected" in outcome)) throw new Error(`expected a rejection, got ${JSON.stringify(outcome.resolved)}`);
  expect(outcome.rejected).toBeInstanceOf(BridgeError);
  return outcome.rejected as BridgeError;
}

/** The BridgeError `fn` throws synchronously. */
function thrownBridgeError(fn: () => unknown): BridgeError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BridgeError);
    return err as BridgeError;
  }
  throw new Error("expected a BridgeError to be thrown");
}

/** A loopback port nothing listens on: bound, read, and closed again. */
async function closedLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  return address.port;
}

describe("TwilioClient.verify", () => {
  it("returns the account's sid and friendly name, with no warnings, for valid credentials", async () => {
    // Arrange
    const client = clientFor();

    // Act
    const info = await client.verify();

    // Assert
    expect(info).toEqual({ accountRef: account.sid, name: "Bridge test account", warnings: [] });
  });

  it("rejects a wrong auth token with provider-credentials-rejected and a user message", async () => {
    // Arrange
    const client = clientFor({ authToken: "0123456789abcdef0123456789abcdef" });

    // Act
    const err = await bridgeErrorOf(client.verify());

    // Assert
    expect(err.code).toBe<ErrorCode>("provider-credentials-rejected");
    expect(err.userMessage).toMatch(/Twilio rejected these credentials/);
    expect(err.userMessage).toMatch(/Account SID and Auth Token/);
    expect(err.userMessage).not.toContain(account.authToken);
  });

  it("rejects an account the provider doesn't know with provider-credentials-rejected", async () => {
    // Arrange
    const unknownSid = `AC${hex32("e")}`;
    const client = clientFor({ accountRef: unknownSid });

    // Act
    const err = await bridgeErrorOf(client.verify());

    // Assert
    expect(err.code).toBe<ErrorCode>("provider-credentials-rejected");
    expect(err.userMessage).toContain("Account SID");
  });
});

describe("TwilioClient.findNumber", () => {
  it("finds a number on the account and captures its current webhook settings", async () => {
    // Arrange
    sim.twilio.addNumber(account.sid, OTHER_NUMBER);
    const added = sim.twilio.addNumber(account.sid, BRIDGE_NUMBER, {
      smsUrl: "https://old.example.com/sms",
      voiceUrl: "https://old.example.com/voice",
      voiceMethod: "GET",
    });

    // Act
    const found = await clientFor().findNumber(BRIDGE_NUMBER);

    // Assert
    expect(found).toEqual({
      id: added.sid,
      number: BRIDGE_NUMBER,
      settings: {
        sms_url: "https://old.example.com/sms",
        sms_method: "POST",
        voice_url: "https://old.example.com/voice",
        voice_method: "GET",
        status_callback: "",
        status_callback_method: "POST",
        sms_application_sid: null,
        voice_application_sid: null,
        trunk_sid: null,
      },
    });
  });

  it("captures application and trunk sids that override webhooks", async () => {
    // Arrange
    sim.twilio.addNumber(account.sid, BRIDGE_NUMBER, {
      smsApplicationSid: SMS_APP_SID,
      voiceApplicationSid: VOICE_APP_SID,
      trunkSid: TRUNK_SID,
    });

    // Act
    const found = await clientFor().findNumber(BRIDGE_NUMBER);

    // Assert
    expect(found.settings).toMatchObject({
      sms_application_sid: SMS_APP_SID,
      voice_application_sid: VOICE_APP_SID,
      trunk_sid: TRUNK_SID,
    });
  });

  it("rejects a number that is not on the account with provider-number-not-found", async () => {
    // Arrange
    const someoneElse = sim.twilio.createAccount();
    sim.twilio.addNumber(someoneElse.sid, BRIDGE_NUMBER);
    sim.twilio.addNumber(account.sid, OTHER_NUMBER);

    // Act
    const err = await bridgeErrorOf(clientFor().findNumber(BRIDGE_NUMBER));

    // Assert
    expect(err.code).toBe<ErrorCode>("provider-number-not-found");
    expect(err.userMessage).toContain(BRIDGE_NUMBER);
  });
});

describe("TwilioClient.attachNumber", () => {
  it("points sms, voice and status callback at the bridge and returns the previous settings", async () => {
    // Arrange
    const number = await numberOnAccount(BRIDGE_NUMBER, {
      smsUrl: "https://old.example.com/sms",
      voiceUrl: "https://old.example.com/voice",
      smsMethod: "GET",
    });

    // Act
    const result = await clientFor().attachNumber(number, URLS);

    // Assert
    expect(sim.twilio.getNumber(BRIDGE_NUMBER)).toMatchObject({
      sms_url: URLS.sms,
      sms_method: "POST",
      voice_url: URLS.voice,
      voice_method: "POST",
      status_callback: URLS.callStatus,
      status_callback_method: "POST",
    });
    expect(result.previous).toEqual({
      sms_url: "https://old.example.com/sms",
      sms_method: "GET",
      voice_url: "https://old.example.com/voice",
      voice_method: "POST",
      status_callback: "",
      status_callback_method: "POST",
    });
  });

  it("gives no warnings for a plain number", async () => {
    // Arrange
    const number = await numberOnAccount(BRIDGE_NUMBER);

    // Act
    const { warnings } = await clientFor().attachNumber(number, URLS);

    // Assert
    expect(warnings).toEqual([]);
  });

  it("warns that a Messaging Service (MG…) may keep texts from the bridge", async () => {
    // Arrange: the simulator has no Messaging Services, so the sid is set on the found settings.
    const found = await numberOnAccount(BRIDGE_NUMBER);
    const number: ProviderNumber = { ...found, settings: { ...found.settings, sms_application_sid: MESSAGING_SERVICE_SID } };

    // Act
    const { warnings } = await clientFor().attachNumber(number, URLS);

    // Assert
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`Messaging Service ${MESSAGING_SERVICE_SID}`);
    expect(warnings[0]).toContain("Defer to sender's webhook");
  });

  it.each([
    {
      name: "a TwiML app for SMS (AP…)",
      options: { smsApplicationSid: SMS_APP_SID },
      sid: SMS_APP_SID,
      advice: 'Clear "Messaging: Configure with TwiML app"',
    },
    {
      name: "a TwiML app for voice (AP…)",
      options: { voiceApplicationSid: VOICE_APP_SID },
      sid: VOICE_APP_SID,
      advice: 'Set "A call comes in" to Webhook',
    },
    {
      name: "a SIP trunk (TK…)",
      options: { trunkSid: TRUNK_SID },
      sid: TRUNK_SID,
      advice: "not to the bridge",
    },
  ])("warns about $name, naming the sid and what to do", async ({ options, sid, advice }) => {
    // Arrange
    const number = await numberOnAccount(BRIDGE_NUMBER, options);

    // Act
    const { warnings } = await clientFor().attachNumber(number, URLS);

    // Assert
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(sid);
    expect(warnings[0]).toContain(advice);
  });

  it("warns once per override when a number has all of them", async () => {
    // Arrange
    const number = await numberOnAccount(BRIDGE_NUMBER, {
      smsApplicationSid: SMS_APP_SID,
      voiceApplicationSid: VOICE_APP_SID,
      trunkSid: TRUNK_SID,
    });

    // Act
    const { warnings } = await clientFor().attachNumber(number, URLS);

    // Assert
    expect(warnings).toHaveLength(3);
    expect(warnings.join("\n")).toContain(SMS_APP_SID);
    expect(warnings.join("\n")).toContain(VOICE_APP_SID);
    expect(warnings.join("\n")).toContain(TRUNK_SID);
  });
});

describe("TwilioClient.detachNumber", () => {
  it("restores the previous URLs and methods exactly", async () => {
    // Arrange
    const number = await numberOnAccount(BRIDGE_NUMBER, {
      smsUrl: "https://old.example.com/sms?x=1",
      smsMethod: "GET",
      voiceUrl: "https://old.example.com/voice",
      voiceMethod: "GET",
    });
    const before = sim.twilio.getNumber(BRIDGE_NUMBER)!;
    const client = clientFor();
    const { previous } = await client.attachNumber(number, URLS);

    // Act
    await client.detachNumber(number.id, previous);

    // Assert
    const after = sim.twilio.getNumber(BRIDGE_NUMBER)!;
    expect({
      sms_url: after.sms_url,
      sms_method: after.sms_method,
      voice_url: after.voice_url,
      voice_method: after.voice_method,
      status_callback: after.status_callback,
      status_callback_method: after.status_callback_method,
    }).toEqual({
      sms_url: before.sms_url,
      sms_method: before.sms_method,
      voice_url: before.voice_url,
      voice_method: before.voice_method,
      status_callback: before.status_callback,
      status_callback_method: before.status_callback_method,
    });
    expect(after.sms_url).toBe("https://old.example.com/sms?x=1");
  });

  it("restores an empty sms_url, so the number no longer texts the bridge", async () => {
    // Arrange
    const number = await numberOnAccount(BRIDGE_NUMBER);
    expect(number.settings.sms_url).toBe("");
    const client = clientFor();
    const { previous } = await client.attachNumber(number, URLS);
    expect(sim.twilio.getNumber(BRIDGE_NUMBER)!.sms_url).toBe(URLS.sms);

    // Act
    await client.detachNumber(number.id, previous);

    // Assert
    const after = sim.twilio.getNumber(BRIDGE_NUMBER)!;
    expect(after.sms_url).toBe("");
    expect(after.status_callback).toBe("");
    expect(after.sms_method).toBe("POST");
  });
});

describe("TwilioClient.getBalance", () => {
  it("returns the account balance and its currency", async () => {
    // Arrange
    sim.twilio.setBalance(account.sid, "7.50");

    // Act
    const balance = await twilioClient().getBalance();

    // Assert
    expect(balance).toEqual({ amount: "7.50", currency: "EUR" });
  });
});

describe("TwilioClient REST failures", () => {
  it.each([
    { status: 503, code: 20503, expected: "provider-unavailable" },
    { status: 429, code: 20429, expected: "provider-unavailable" },
    { status: 500, code: 20500, expected: "provider-unavailable" },
  ] as const)("maps HTTP $status (Twilio $code) to $expected", async ({ status, code, expected }) => {
    // Arrange
    sim.faults.failRest({ status, code });
    const client = clientFor();

    // Act
    const err = await bridgeErrorOf(client.verify());

    // Assert
    expect(err.code).toBe<ErrorCode>(expected);
    expect(err.userMessage).toContain(`HTTP ${status}`);
  });

  it("recovers once the fault has been consumed", async () => {
    // Arrange
    sim.faults.failRest({ status: 503, code: 20503 });
    const client = clientFor();
    await bridgeErrorOf(client.verify());

    // Act
    const info = await client.verify();

    // Assert
    expect(info.accountRef).toBe(account.sid);
  });

  it("maps a 400 with a Twilio code to provider-rejected with Twilio's message", async () => {
    // Arrange
    const number = await numberOnAccount(BRIDGE_NUMBER);
    sim.faults.failRest({ status: 400, code: 21402, message: "SmsUrl is not valid: Invalid Url", method: "POST", pathIncludes: "IncomingPhoneNumbers" });

    // Act
    const err = await bridgeErrorOf(clientFor().attachNumber(number, URLS));

    // Assert
    expect(err.code).toBe<ErrorCode>("provider-rejected");
    expect(err.message).toContain("SmsUrl is not valid: Invalid Url");
    expect(err.userMessage).toContain("SmsUrl is not valid: Invalid Url");
    expect(err.userMessage).toContain("21402");
    expect(sim.twilio.getNumber(BRIDGE_NUMBER)!.sms_url).toBe("");
  });

  it("maps a fault on the number lookup to provider-unavailable, not provider-number-not-found", async () => {
    // Arrange
    sim.twilio.addNumber(account.sid, BRIDGE_NUMBER);
    sim.faults.failRest({ status: 503, code: 20503, pathIncludes: "IncomingPhoneNumbers.json" });

    // Act
    const err = await bridgeErrorOf(clientFor().findNumber(BRIDGE_NUMBER));

    // Assert
    expect(err.code).toBe<ErrorCode>("provider-unavailable");
  });

  it("maps a refused connection to provider-unavailable", async () => {
    // Arrange
    const port = await closedLoopbackPort();
    const offline = createTwilioConnector({ apiBaseUrl: `http://127.0.0.1:${port}` });
    const client = clientFor({ connector: offline });

    // Act
    const err = await bridgeErrorOf(client.verify());

    // Assert
    expect(err.code).toBe<ErrorCode>("provider-unavailable");
    expect(err.userMessage).toContain("no response");
  });
});

describe("createTwilioConnector().parseLinkArgs", () => {
  const SID = `AC${"0123456789abcdef".repeat(2)}`;
  const TOKEN = "f".repeat(32);

  it.each([
    { name: "a number in one piece", args: [SID, TOKEN, "+15550001111"], number: "+15550001111" },
    { name: "a number typed with spaces, joined", args: [SID, TOKEN, "+1", "555", "000", "1111"], number: "+1 555 000 1111" },
    { name: "an upper-case sid and a 16-character mixed-case token", args: [SID.toUpperCase(), "abcDEF0123456789", "+447700900123"], number: "+447700900123" },
  ])("accepts $name", ({ args, number }) => {
    // Arrange
    const parse = createTwilioConnector({ apiBaseUrl: null }).parseLinkArgs;

    // Act
    const request = parse(args);

    // Assert
    expect(request.accountRef).toBe(args[0]);
    expect(request.number).toBe(number);
    expect(request.credentials.reveal()).toEqual({ authToken: args[1] });
  });

  it.each([
    { name: "no arguments", args: [] as string[], mentions: "Usage:" },
    { name: "only the AccountSid", args: [SID], mentions: "Usage:" },
    { name: "no number", args: [SID, TOKEN], mentions: "Usage:" },
    { name: "an AccountSid without AC", args: [`XX${"0".repeat(32)}`, TOKEN, "+15550001111"], mentions: "is not a Twilio Account SID" },
    { name: "an AccountSid one digit short", args: [SID.slice(0, -1), TOKEN, "+15550001111"], mentions: "is not a Twilio Account SID" },
    { name: "an AccountSid with non-hex digits", args: [`AC${"z".repeat(32)}`, TOKEN, "+15550001111"], mentions: "is not a Twilio Account SID" },
    { name: "an Auth Token with punctuation", args: [SID, "abc-def-ghi-jkl-mno", "+15550001111"], mentions: "doesn't look like a Twilio Auth Token" },
    { name: "an Auth Token that is too short", args: [SID, "abc123", "+15550001111"], mentions: "doesn't look like a Twilio Auth Token" },
  ])("refuses $name with command-usage and a message showing the usage", ({ args, mentions }) => {
    // Arrange
    const connector = createTwilioConnector({ apiBaseUrl: null });

    // Act
    const err = thrownBridgeError(() => connector.parseLinkArgs(args));

    // Assert
    expect(err.code).toBe<ErrorCode>("command-usage");
    expect(err.userMessage).toContain(mentions);
    expect(err.userMessage).toContain(connector.linkUsage);
    expect(connector.linkUsage).toBe("`link twilio <AccountSid> <AuthToken> <+number>`");
  });

  it("never puts a refused token in the user message", () => {
    // Arrange
    const connector = createTwilioConnector({ apiBaseUrl: null });
    const badToken = "secret-token-value!";

    // Act
    const err = thrownBridgeError(() => connector.parseLinkArgs([SID, badToken, "+15550001111"]));

    // Assert
    expect(err.userMessage).not.toContain(badToken);
  });

  it("never echoes the Auth Token when the arguments are swapped", () => {
    // Arrange: the bridge redacts the `link` message, so its reply must not repeat the secret
    const connector = createTwilioConnector({ apiBaseUrl: null });

    // Act
    const err = thrownBridgeError(() => connector.parseLinkArgs([TOKEN, SID, "+15550001111"]));

    // Assert
    expect(err.code).toBe<ErrorCode>("command-usage");
    expect(err.userMessage).not.toContain(TOKEN);
    expect(err.userMessage).not.toContain(TOKEN.slice(0, 8));
    expect(err.userMessage).toContain(connector.linkUsage);
  });

  it("echoes a mistyped AccountSid so the user can spot the typo", () => {
    // Arrange
    const connector = createTwilioConnector({ apiBaseUrl: null });
    const typo = `${SID}0`;

    // Act
    const err = thrownBridgeError(() => connector.parseLinkArgs([typo, TOKEN, "+15550001111"]));

    // Assert
    expect(err.userMessage).toContain(`\`${typo}\``);
  });

  it("returns credentials that serialise as [redacted]", () => {
    // Arrange
    const connector = createTwilioConnector({ apiBaseUrl: null });

    // Act
    const request = connector.parseLinkArgs([SID, TOKEN, "+15550001111"]);
    const json = JSON.stringify(request);

    // Assert
    expect(JSON.parse(json)).toEqual({ accountRef: SID, credentials: "[redacted]", number: "+15550001111" });
    expect(json).not.toContain(TOKEN);
    expect(String(request.credentials)).toBe("[redacted]");
  });
});
