import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AccountCredentials, CarrierSimulator } from "../../../src/sandbox/simulator/index.js";
import { BRIDGE_NUMBER, closeAll, CONTACT, sdkClient, startBridgeSimulator } from "./fixture.js";
import { isSignedBy, startReceiver, type Receiver } from "./receiver.js";

const HANDSET_PATH = `/_sim/api/handsets/${encodeURIComponent(CONTACT)}`;

interface ControlMessage {
  sid: string;
  direction: string;
  from: string;
  to: string;
  body: string;
  status: string;
  media: Array<{ sid: string; contentType: string; size: number; url: string }>;
}

let sim: CarrierSimulator;
let account: AccountCredentials;
let receiver: Receiver;

beforeEach(async () => {
  receiver = await startReceiver();
  ({ sim, account } = await startBridgeSimulator({ statusDelayMs: 5, number: { smsUrl: `${receiver.url}/sms` } }));
});

afterEach(() => closeAll(sim, receiver));

async function postJson(path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${sim.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(`${sim.url}${path}`);
  expect(response.status).toBe(200);
  return (await response.json()) as T;
}

describe("the phone page and the control API", () => {
  it("serves the phone as one self-contained HTML page, and / leads to it", async () => {
    const page = await fetch(`${sim.url}/phone`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const html = await page.text();
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<form id="compose">');
    expect(html).toContain('type="file"');
    expect(html).toContain('"/_sim/api"');
    expect(html).not.toMatch(/(src|href)="https?:/);
    expect(html).not.toContain("innerHTML");

    const root = await fetch(`${sim.url}/`, { redirect: "manual" });
    expect(root.status).toBe(302);
    expect(root.headers.get("location")).toBe("/phone");
  });

  it("round-trips a text: handset to bridge, bridge to handset inbox", async () => {
    const sent = await postJson(`${HANDSET_PATH}/sms`, { to: BRIDGE_NUMBER, body: "hi from the page" });
    expect(sent.status).toBe(200);
    expect(sent.json).toMatchObject({ status: 200, messageSid: expect.stringMatching(/^SM[0-9a-f]{32}$/) });
    const [webhook] = receiver.at("/sms");
    expect(webhook?.params).toMatchObject({ From: CONTACT, To: BRIDGE_NUMBER, Body: "hi from the page" });
    expect(webhook && isSignedBy(account.authToken, webhook)).toBe(true);

    const png = Buffer.from("\x89PNG fake image bytes", "latin1");
    receiver.serve("/media/reply.png", "image/png", png);
    const client = sdkClient(sim, account);
    const reply = await client.messages.create({
      to: CONTACT,
      from: BRIDGE_NUMBER,
      body: "reply from Matrix",
      mediaUrl: [`${receiver.url}/media/reply.png`],
    });

    const messages = await waitForInbox(1);
    expect(messages[0]).toMatchObject({
      sid: reply.sid,
      from: BRIDGE_NUMBER,
      to: CONTACT,
      body: "reply from Matrix",
      status: "delivered",
      media: [{ contentType: "image/png", size: png.length }],
    });
    const media = await fetch(`${sim.url}${messages[0]?.media[0]?.url}`);
    expect(media.headers.get("content-type")).toBe("image/png");
    expect(Buffer.from(await media.arrayBuffer())).toEqual(png);

    const conversation = await getJson<{ messages: ControlMessage[] }>(
      `/_sim/api/messages?number=${encodeURIComponent(CONTACT)}`,
    );
    expect(conversation.messages.map((m) => [m.direction, m.body])).toEqual([
      ["inbound", "hi from the page"],
      ["outbound-api", "reply from Matrix"],
    ]);
  });

  it("sends page attachments as MMS", async () => {
    const data = Buffer.from([1, 2, 3, 4, 5]);
    const sent = await postJson(`${HANDSET_PATH}/sms`, {
      to: BRIDGE_NUMBER,
      media: [{ contentType: "image/jpeg", base64: data.toString("base64") }],
    });
    expect(sent.json).toMatchObject({ status: 200, messageSid: expect.stringMatching(/^MM/) });
    expect(receiver.at("/sms")[0]?.params).toMatchObject({ NumMedia: "1", MediaContentType0: "image/jpeg", Body: "" });
    expect(sim.twilio.messages({ from: CONTACT })[0]?.media[0]?.data).toEqual(data);
  });

  it("lists accounts and numbers without ever showing an auth token", async () => {
    const accounts = await fetch(`${sim.url}/_sim/api/accounts`).then((r) => r.text());
    const numbers = await fetch(`${sim.url}/_sim/api/numbers`).then((r) => r.text());
    expect(JSON.parse(accounts)).toEqual({
      accounts: [
        { sid: account.sid, friendlyName: expect.any(String), status: "active", balance: "20.00", currency: "USD" },
      ],
    });
    expect((JSON.parse(numbers) as { numbers: unknown[] }).numbers).toEqual([
      expect.objectContaining({ phone_number: BRIDGE_NUMBER, sms_url: `${receiver.url}/sms` }),
    ]);
    expect(accounts + numbers).not.toContain(account.authToken);
  });

  it("answers control API mistakes with a coded error", async () => {
    expect(await postJson(`${HANDSET_PATH}/sms`, { to: "+15559990000", body: "x" })).toMatchObject({
      status: 404,
      json: { error: { code: "sim-unknown-number" } },
    });
    expect(await postJson(`${HANDSET_PATH}/sms`, { body: "no to" })).toMatchObject({
      status: 400,
      json: { error: { code: "sim-invalid-input" } },
    });
    const badHandset = `/_sim/api/handsets/${encodeURIComponent("not!a!number")}/sms`;
    expect(await postJson(badHandset, { to: BRIDGE_NUMBER, body: "x" })).toMatchObject({
      status: 400,
      json: { error: { code: "sim-invalid-number" } },
    });
  });
});

async function waitForInbox(count: number): Promise<ControlMessage[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const { messages } = await getJson<{ messages: ControlMessage[] }>(`${HANDSET_PATH}/inbox`);
    if (messages.length >= count) return messages;
    if (Date.now() > deadline) throw new Error(`inbox has ${messages.length} messages, expected ${count}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
