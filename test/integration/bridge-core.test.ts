import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BridgeRuntime } from "../../src/actors/runtime.js";
import { buildAdminApp } from "../../src/http/admin-app.js";
import { roomId, userId } from "../../src/ids.js";
import { silentLogger } from "../../src/log.js";
import type { RawMatrixEvent } from "../../src/matrix/appservice.js";
import { Permissions } from "../../src/matrix/permissions.js";
import { createTwilioConnector } from "../../src/providers/twilio/connector.js";
import { startCarrierSimulator, type CarrierSimulator } from "../../src/sandbox/simulator/index.js";
import { Secret } from "../../src/secret.js";
import type { Storage } from "../../src/storage/index.js";
import { matrixEvents, startCore, type RunningCore } from "../helpers/core.js";
import { eventually, FakeMatrix } from "../helpers/fake-matrix.js";

/**
 * The bridge's core without the network to Matrix: the real event handler, commands, actor
 * runtime, SQLite storage and Twilio client (against the simulator), with a fake homeserver.
 */
const KEY = new Secret("bridge-core-test-key-bridge-core-test-key");
const ROOM = "!control:localhost";
const ALICE = "@alice:localhost";
const NUMBER = "+15550001111";

let sim: CarrierSimulator;
let account: { sid: string; authToken: string };
let dbPath: string;
let storage: Storage;
let matrix: FakeMatrix;
let runtime: BridgeRuntime;
let inbox: RunningCore["inbox"];

let running: RunningCore;

function boot() {
  running = startCore({
    dbPath,
    key: KEY,
    simulatorUrl: sim.url,
    matrix,
    permissions: { localhost: "user", "@mallory:localhost": "none", "@root:localhost": "admin" },
    publicBaseUrl: "https://bridge.example.org",
  });
  ({ storage, inbox } = running);
  runtime = running.core.runtime;
}

const shutdown = () => running.stop();

const event = matrixEvents({ room_id: ROOM, sender: ALICE });
const say = (body: string, sender = ALICE, room = ROOM) => event({ sender, room_id: room, content: { msgtype: "m.text", body } });
const invite = (room = ROOM, sender = ALICE, unsigned: Record<string, unknown> = {}) =>
  event({ type: "m.room.member", state_key: "@_pstn_:localhost", room_id: room, sender, content: { membership: "invite" }, unsigned });

async function deliver(...events: RawMatrixEvent[]) {
  for (const e of events) inbox.accept(e);
  await inbox.drain();
}

beforeEach(async () => {
  sim = await startCarrierSimulator();
  account = sim.twilio.createAccount({ balance: "9.99" });
  sim.twilio.addNumber(account.sid, NUMBER, { smsUrl: "https://old.example/sms" });
  dbPath = path.join(mkdtempSync(path.join(tmpdir(), "pstn-core-")), "bridge.db");
  matrix = new FakeMatrix();
  matrix.setPower(ROOM, { [ALICE]: 100 });
  boot();
});

afterEach(async () => {
  shutdown();
  await sim.close();
});

describe("control rooms", () => {
  it("an invite from a permitted user makes a control room and a welcome", async () => {
    await deliver(invite());
    expect(matrix.joined.has(ROOM)).toBe(true);
    expect(runtime.isControlRoom(roomId(ROOM))).toBe(true);
    await eventually(() => matrix.expectNotice(ROOM, /control room/));
  });

  it("an invite from a user without permission is refused with the reason, and no control room is made", async () => {
    await deliver(invite(ROOM, "@mallory:localhost"));
    matrix.expectNotice(ROOM, /@mallory:localhost is not allowed/);
    expect(matrix.left).toEqual([ROOM]);
    expect(runtime.isControlRoom(roomId(ROOM))).toBe(false);
  });

  it("an invite into an encrypted room (seen in the invite's stripped state) offers an unencrypted room", async () => {
    await deliver(invite(ROOM, ALICE, { invite_room_state: [{ type: "m.room.encryption", state_key: "", content: {} }] }));
    expect(matrix.created).toEqual([{ roomId: "!created1:localhost", invitee: ALICE }]);
    matrix.expectNotice(ROOM, /end-to-end encrypted/);
    expect(runtime.isControlRoom(roomId("!created1:localhost"))).toBe(true);
    expect(runtime.isControlRoom(roomId(ROOM))).toBe(false);
    expect(matrix.left).toEqual([ROOM]);
  });

  it("ignores its own messages and messages in rooms that aren't control rooms", async () => {
    await deliver(invite(), say("help", "@_pstn_:localhost"), say("help", ALICE, "!elsewhere:localhost"));
    await eventually(() => expect(matrix.noticesIn(ROOM)).toHaveLength(1));
    expect(matrix.noticesIn("!elsewhere:localhost")).toEqual([]);
  });

  it("tells a member without permission that it won't serve them", async () => {
    await deliver(invite(), say("status", "@mallory:localhost"));
    await eventually(() => matrix.expectNotice(ROOM, /Sorry @mallory:localhost, you're not allowed/));
  });
});

describe("linking through the real Twilio client and the simulator", () => {
  const linkCommand = () => say(`link twilio ${account.sid} ${account.authToken} ${NUMBER}`);

  it("links, points the number at the bridge, and asks the user to delete the token when it can't", async () => {
    await deliver(invite(), linkCommand());
    await eventually(() => matrix.expectNotice(ROOM, /Linked \+1 555 000 1111/));
    matrix.expectNotice(ROOM, /Please delete your `link` message yourself/);
    expect(matrix.redactions).toEqual([]);
    expect(sim.twilio.getNumber(NUMBER)!.sms_url).toMatch(/^https:\/\/bridge\.example\.org\/webhooks\/twilio\/lnk[0-9a-z]{16}\/sms$/);
  });

  it("redacts the message with the token when it is a moderator", async () => {
    matrix.setPower(ROOM, { [ALICE]: 100, "@_pstn_:localhost": 50 });
    const command = linkCommand();
    await deliver(invite(), command);
    expect(matrix.redactions).toEqual([{ roomId: ROOM, eventId: command.event_id }]);
    await eventually(() => matrix.expectNotice(ROOM, /removed your message/));
  });

  it("even a malformed link with a token is redacted first", async () => {
    matrix.setPower(ROOM, { [ALICE]: 100, "@_pstn_:localhost": 50 });
    const command = say(`link twilio ${account.sid} ${account.authToken}`);
    await deliver(invite(), command);
    expect(matrix.redactions).toHaveLength(1);
    await eventually(() => matrix.expectNotice(ROOM, /Usage: `link twilio/));
  });

  it("only room admins may link; a bridge admin may anywhere", async () => {
    matrix.setPower(ROOM, { [ALICE]: 100, "@bob:localhost": 50, "@root:localhost": 0 }, { events: { "m.room.power_levels": 100 } });
    await deliver(invite(), say(`link twilio ${account.sid} ${account.authToken} ${NUMBER}`, "@bob:localhost"));
    await eventually(() => matrix.expectNotice(ROOM, /Only this room's admins \(power level 100\) can use `link`/));
    await deliver(say(`link twilio ${account.sid} ${account.authToken} ${NUMBER}`, "@root:localhost"));
    await eventually(() => matrix.expectNotice(ROOM, /Linked/));
  });

  it.each([
    ["link", /Usage: `link twilio/],
    ["link vonage a b c", /don't know the provider `vonage`/],
    ["link twilio ACnope token +1555", /not a Twilio Account SID/],
    ["link twilio AC00000000000000000000000000000000 0123456789abcdef0123 555", /not a phone number in international form/],
  ])("%j is answered with what to type instead", async (body, reply) => {
    await deliver(invite(), say(body));
    await eventually(() => matrix.expectNotice(ROOM, reply));
  });

  it("survives a restart: the link is restored from the database without re-linking", async () => {
    await deliver(invite(), linkCommand());
    await eventually(() => matrix.expectNotice(ROOM, /Linked/));
    const smsUrl = sim.twilio.getNumber(NUMBER)!.sms_url;
    shutdown();
    boot();
    await eventually(() =>
      expect(runtime.describe().children.find((c) => c.id === ROOM)?.children[0]).toMatchObject({ machine: "link", state: { linked: { health: "idle" } } }),
    );
    expect(sim.twilio.getNumber(NUMBER)!.sms_url).toBe(smsUrl);
    expect(matrix.noticesIn(ROOM).filter((n) => /Linked/.test(n))).toHaveLength(1);
    await deliver(say("status"));
    await eventually(() => matrix.expectNotice(ROOM, /Balance:\*?\*? 9.99 USD/));
  });

  it("after a restart, points the number back at the bridge if its webhooks were changed meanwhile", async () => {
    await deliver(invite(), linkCommand());
    await eventually(() => matrix.expectNotice(ROOM, /Linked/));
    const smsUrl = sim.twilio.getNumber(NUMBER)!.sms_url;
    shutdown();
    // Someone edits the number in the Twilio console while the bridge is down.
    const client = createTwilioConnector({ apiBaseUrl: sim.url }).createClient({ accountRef: account.sid, credentials: new Secret({ authToken: account.authToken }) });
    const number = await client.findNumber(NUMBER as never);
    await client.detachNumber(number.id, { sms_url: "https://elsewhere.example/sms", voice_url: null });
    boot();
    await eventually(() => matrix.expectNotice(ROOM, /no longer pointed at the bridge/));
    expect(sim.twilio.getNumber(NUMBER)!.sms_url).toBe(smsUrl);
    await deliver(say("unlink"));
    await eventually(() => matrix.expectNotice(ROOM, /Unlinked/));
    expect(sim.twilio.getNumber(NUMBER)!.sms_url).toBe("https://old.example/sms");
  });

  it("handles events a crash left stored but unhandled, once", async () => {
    await deliver(invite());
    // The process "dies" right after the transaction was stored: nothing handled the event.
    const pendingHelp = say("help");
    storage.matrixEvents.accept(pendingHelp, Date.now());
    shutdown();
    boot();
    await inbox.drain();
    await eventually(() => expect(matrix.noticesIn(ROOM).filter((n) => n.includes("Commands"))).toHaveLength(1));
    // The homeserver retries the same transaction: nothing happens twice.
    await deliver(pendingHelp);
    expect(matrix.noticesIn(ROOM).filter((n) => n.includes("Commands"))).toHaveLength(1);
  });

  it("the bot kicked pauses the room; re-invited, it resumes", async () => {
    await deliver(invite(), linkCommand());
    await eventually(() => matrix.expectNotice(ROOM, /Linked/));
    await deliver(event({ type: "m.room.member", state_key: "@_pstn_:localhost", content: { membership: "leave" } }));
    expect(storage.controlRooms.get(roomId(ROOM))!.status).toBe("paused");
    expect(storage.links.byRoom(roomId(ROOM))!.state).toBe("paused");
    await deliver(invite());
    await eventually(() => expect(storage.links.byRoom(roomId(ROOM))!.state).toBe("linked"));
    expect(storage.controlRooms.get(roomId(ROOM))!.status).toBe("active");
  });
});

describe("the admin listener", () => {
  it("answers /debug/actors only with the token, and shows no secret", async () => {
    await deliver(invite(), say(`link twilio ${account.sid} ${account.authToken} ${NUMBER}`));
    await eventually(() => matrix.expectNotice(ROOM, /Linked/));
    const app = await buildAdminApp({ token: "the-admin-token-123", describeActors: () => runtime.describe(), log: silentLogger });
    expect((await app.inject({ url: "/debug/actors" })).statusCode).toBe(401);
    expect((await app.inject({ url: "/debug/actors", headers: { authorization: "Bearer nope" } })).statusCode).toBe(401);
    const ok = await app.inject({ url: "/debug/actors", headers: { authorization: "Bearer the-admin-token-123" } });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).not.toContain(account.authToken);
    expect(ok.json()).toMatchObject({ id: "bridge", machine: "bridge", children: [{ id: ROOM, machine: "controlRoom", state: "active" }] });
    expect((await app.inject({ url: "/debug" })).headers["content-type"]).toMatch(/text\/html/);
    await app.close();
  });

  it("has the debug endpoints disabled without a configured token", async () => {
    const app = await buildAdminApp({ token: null, describeActors: () => runtime.describe(), log: silentLogger });
    const response = await app.inject({ url: "/debug/actors", headers: { authorization: "Bearer anything" } });
    expect(response.statusCode).toBe(401);
    expect(response.json().error).toMatch(/disabled/);
    await app.close();
  });
});

it("user ids in the permission table: exact beats server beats *", () => {
  const permissions = new Permissions({ "*": "user", "evil.org": "none", "@friend:evil.org": "admin" });
  expect(permissions.levelOf(userId("@x:example.org"))).toBe("user");
  expect(permissions.levelOf(userId("@x:evil.org"))).toBe("none");
  expect(permissions.levelOf(userId("@friend:evil.org"))).toBe("admin");
  expect(new Permissions({}).levelOf("@x:y")).toBe("none");
});
