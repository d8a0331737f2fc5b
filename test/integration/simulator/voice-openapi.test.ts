import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AccountCredentials, CarrierSimulator } from "../../../src/sandbox/simulator/index.js";
import { listedProperties, operationExamples, operationSchema, validateResponse } from "./openapi.js";
import { startStandIn, type StandIn } from "./bridge-standin.js";
import { basicAuth, BRIDGE_NUMBER, closeAll, CONTACT, startBridgeSimulator } from "./fixture.js";
import { sleep } from "./voice-helpers.js";

/** Voice resources (Calls, Recordings) against Twilio's own OpenAPI description. */

const CALLS = "/2010-04-01/Accounts/{AccountSid}/Calls.json";
const CALL = "/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json";
const RECORDINGS = "/2010-04-01/Accounts/{AccountSid}/Recordings.json";
const RECORDING = "/2010-04-01/Accounts/{AccountSid}/Recordings/{Sid}.json";
const CALL_RECORDINGS = "/2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}/Recordings.json";
const CALL_RECORDING = "/2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}/Recordings/{Sid}.json";

type Body = Record<string, unknown>;

let sim: CarrierSimulator;
let account: AccountCredentials;
let bridge: StandIn;
let base: string;

beforeEach(async () => {
  bridge = await startStandIn();
  ({ sim, account } = await startBridgeSimulator({ statusDelayMs: 5, number: { voiceUrl: `${bridge.url}/voice` } }));
  base = `/2010-04-01/Accounts/${account.sid}`;
});

afterEach(() => closeAll(sim, bridge));

async function call(method: "GET" | "POST", path: string, form?: Record<string, string | string[]>) {
  const pairs = Object.entries(form ?? {}).flatMap(([k, v]) => [v].flat().map((x): [string, string] => [k, x]));
  const response = await fetch(`${sim.url}${path}`, {
    method,
    headers: {
      authorization: basicAuth(account.sid, account.authToken),
      ...(form ? { "content-type": "application/x-www-form-urlencoded" } : {}),
    },
    ...(form ? { body: new URLSearchParams(pairs).toString() } : {}),
  });
  return { status: response.status, body: (await response.json()) as Body };
}

function expectConforms(path: string, method: "get" | "post", status: string, body: Body, itemsKey?: string): void {
  const result = validateResponse(path, method, status, body);
  expect(result.errors).toEqual([]);
  expect(result.valid).toBe(true);
  const schema = operationSchema(path, method, status);
  expect(Object.keys(body)).toEqual(expect.arrayContaining(listedProperties(schema)));
  if (!itemsKey) return;
  const items = body[itemsKey];
  if (!Array.isArray(items) || items.length === 0) throw new Error(`expected items under ${itemsKey}`);
  const itemSchema = (schema["properties"] as Record<string, { items: Record<string, unknown> }>)[itemsKey]?.items;
  const itemProperties = listedProperties((itemSchema ?? {}) as Parameters<typeof listedProperties>[0]);
  expect(itemProperties.length).toBeGreaterThan(5);
  for (const item of items as Body[]) expect(Object.keys(item)).toEqual(expect.arrayContaining(itemProperties));
}

async function waitForStatus(sid: string, status: string): Promise<void> {
  const deadline = Date.now() + 8000;
  while (sim.twilio.call(sid)?.status !== status) {
    if (Date.now() > deadline) throw new Error(`${sid} never reached ${status}`);
    await sleep(10);
  }
}

describe("voice responses against Twilio's OpenAPI description", () => {
  it("Calls create (201), fetch, update and list, in every state", async () => {
    const created = await call("POST", `${base}/Calls.json`, {
      To: CONTACT,
      From: BRIDGE_NUMBER,
      Twiml: '<Response><Pause length="20"/></Response>',
      StatusCallbackEvent: ["initiated", "answered"],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ status: "queued", duration: null, start_time: null, price: null });
    expectConforms(CALLS, "post", "201", created.body);
    const sid = String(created.body["sid"]);

    await waitForStatus(sid, "in-progress");
    const live = await call("GET", `${base}/Calls/${sid}.json`);
    expect(live.body).toMatchObject({ status: "in-progress", duration: null, end_time: null });
    expectConforms(CALL, "get", "200", live.body);

    const ended = await call("POST", `${base}/Calls/${sid}.json`, { Status: "completed" });
    expect(ended.status).toBe(200);
    expect(ended.body).toMatchObject({ status: "completed", duration: expect.stringMatching(/^\d+$/) });
    expectConforms(CALL, "post", "200", ended.body);

    await call("POST", `${base}/Calls.json`, { To: CONTACT, From: BRIDGE_NUMBER, Url: `${bridge.url}/answer` });
    const list = await call("GET", `${base}/Calls.json?PageSize=1`);
    expect(list.body["next_page_uri"]).toEqual(expect.stringContaining("PageToken=PA"));
    expectConforms(CALLS, "get", "200", list.body, "calls");
    const next = await call("GET", String(list.body["next_page_uri"]));
    expect((next.body["calls"] as Body[])[0]?.["sid"]).toBe(sid);
    expectConforms(CALLS, "get", "200", next.body, "calls");
  });

  it("inbound and dialled calls", async () => {
    bridge.twiml("/voice", `<Response><Dial timeout="2">${CONTACT}</Dial></Response>`);
    sim.handset(CONTACT).answerCalls({ after: 100 });
    const inbound = sim.handset("+15557650000").call(BRIDGE_NUMBER);
    const leg = await sim.handset(CONTACT).waitForCall();
    await leg.waitForStatus("in-progress");
    leg.hangup();
    await inbound.waitForStatus("completed");
    const parent = await call("GET", `${base}/Calls/${inbound.sid}.json`);
    expect(parent.body).toMatchObject({ direction: "inbound", phone_number_sid: expect.stringMatching(/^PN/) });
    expectConforms(CALL, "get", "200", parent.body);
    const child = await call("GET", `${base}/Calls/${leg.sid}.json`);
    expect(child.body).toMatchObject({ direction: "outbound-dial", parent_call_sid: inbound.sid, status: "completed" });
    expectConforms(CALL, "get", "200", child.body);
  });

  it("Recordings fetch and lists", async () => {
    // A relative action resolves against the document's URL.
    bridge.twiml("/voice", '<Response><Record maxLength="1" playBeep="false" action="recorded"/></Response>');
    bridge.twiml("/recorded", "<Response><Hangup/></Response>");
    const inbound = sim.handset(CONTACT).call(BRIDGE_NUMBER);
    await inbound.waitForStatus("completed", { timeoutMs: 8000 });
    expect(bridge.at("/recorded")).toHaveLength(1);
    const [recording, ...others] = sim.twilio.recordings();
    expect(others).toEqual([]);
    if (!recording) throw new Error("no recording");
    const fetched = await call("GET", `${base}/Recordings/${recording.sid}.json`);
    expect(fetched.status).toBe(200);
    expect(fetched.body["media_url"]).toBe(`${sim.url}${base}/Recordings/${recording.sid}`);
    expectConforms(RECORDING, "get", "200", fetched.body);
    const list = await call("GET", `${base}/Recordings.json`);
    expectConforms(RECORDINGS, "get", "200", list.body, "recordings");
    const ofCall = await call("GET", `${base}/Calls/${inbound.sid}/Recordings.json`);
    expect((ofCall.body["recordings"] as Body[]).map((r) => r["sid"])).toEqual([recording.sid]);
    expectConforms(CALL_RECORDINGS, "get", "200", ofCall.body, "recordings");
    const one = await call("GET", `${base}/Calls/${inbound.sid}/Recordings/${recording.sid}.json`);
    expect(one.body).toMatchObject({ sid: recording.sid, track: "inbound", call_sid: inbound.sid });
    expectConforms(CALL_RECORDING, "get", "200", one.body);
    expect((await call("GET", `${base}/Recordings/RE${"0".repeat(32)}.json`)).status).toBe(404);
  });

  it("the validator bites on broken calls but accepts Twilio's own examples", async () => {
    const { body } = await call("POST", `${base}/Calls.json`, {
      To: CONTACT,
      From: BRIDGE_NUMBER,
      Twiml: "<Response><Hangup/></Response>",
    });
    expect(validateResponse(CALLS, "post", "201", body).valid).toBe(true);
    for (const broken of [
      { status: "initiated" },
      { sid: `XX${"a".repeat(32)}` },
      { date_created: "2023-08-24T05:01:45Z" },
      { parent_call_sid: "CA123" },
      { price_unit: "usd" },
    ]) {
      expect(validateResponse(CALLS, "post", "201", { ...body, ...broken }).valid).toBe(false);
    }
    let checked = 0;
    for (const [path, method, status] of [
      [CALLS, "post", "201"],
      [CALLS, "get", "200"],
      [CALL, "get", "200"],
      [CALL, "post", "200"],
      [RECORDING, "get", "200"],
      [RECORDINGS, "get", "200"],
      [CALL_RECORDINGS, "get", "200"],
    ] as const) {
      for (const [name, example] of Object.entries(operationExamples(path, method, status))) {
        const { errors } = validateResponse(path, method, status, example);
        // Twilio's recording examples use +0100 dates (the test's RFC 2822 format wants +0000,
        // which is all Twilio sends), and its call-recording example has a string price where its
        // own schema says number.
        const unexplained = errors.filter((e) => !/date_(created|updated) |start_time |\/price must be number/.test(e));
        expect({ example: `${method} ${path} ${name}`, unexplained }).toEqual({ example: `${method} ${path} ${name}`, unexplained: [] });
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(5);
  });
});
