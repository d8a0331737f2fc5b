import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BridgeRuntime } from "../../src/actors/runtime.js";
import type { Core } from "../../src/core.js";
import { mediaRoutes } from "../../src/http/media-route.js";
import { buildWebhookApp } from "../../src/http/webhook-app.js";
import type { MediaUrlSigner } from "../../src/media/signed-urls.js";
import { roomId, type LinkId } from "../../src/ids.js";
import { createLogger, silentLogger } from "../../src/log.js";
import type { RawMatrixEvent } from "../../src/matrix/appservice.js";
import { ProviderRegistry } from "../../src/providers/registry.js";
import { createTwilioConnector } from "../../src/providers/twilio/connector.js";
import { startCarrierSimulator, type CarrierSimulator } from "../../src/sandbox/simulator/index.js";
import { freeLoopbackPort } from "../../src/sandbox/synapse.js";
import { Secret } from "../../src/secret.js";
import type { Storage } from "../../src/storage/index.js";
import { matrixEvents, startCore, type RunningCore } from "../helpers/core.js";
import { eventually, FakeMatrix } from "../helpers/fake-matrix.js";
import { png } from "../helpers/png.js";

/**
 * Texting through the bridge's core: real storage, actors, Twilio client and carrier simulator;
 * a fake homeserver that records what the ghosts do. Webhooks are fed to the intake as the
 * webhook listener would (that listener has its own tests).
 */
const KEY = new Secret("texting-test-key-texting-test-key-texting");
/** DEBUG_TEXTING=1 shows the bridge's log while these tests run. */
const LOG = process.env.DEBUG_TEXTING ? createLogger({ level: "debug", pretty: false }) : silentLogger;
const ROOM = "!control:localhost";
const ALICE = "@alice:localhost";
const BOB = "@bob:localhost";
const NUMBER = "+15550001111";
const CONTACT = "+15557654321";
const GHOST = "@_pstn_15557654321:localhost";

let sim: CarrierSimulator;
let account: { sid: string; authToken: string };
let dbPath: string;
let storage: Storage;
let matrix: FakeMatrix;
let runtime: BridgeRuntime;
let inbox: RunningCore["inbox"];
let linkId: LinkId;
let webhooks: FastifyInstance;
let publicBaseUrl: string;
let signer: MediaUrlSigner;
let currentCore: Core | undefined;
const core = () => currentCore;

/**
 * The public listener, on loopback, so Twilio's status callbacks and media fetches reach the
 * bridge as they would in production; it forwards to whichever core is running.
 */
async function listen() {
  const port = await freeLoopbackPort();
  publicBaseUrl = `http://127.0.0.1:${port}`;
  webhooks = await buildWebhookApp({
    providers: new ProviderRegistry([createTwilioConnector({ apiBaseUrl: sim.url })]),
    publicBaseUrl,
    accountOf: (id) => storage.links.get(id),
    deliver: (event) => runtime.deliver(event),
    incomingCall: (event) => core()!.calls.incomingCall(event),
    outboundAnswered: (linkId, callId) => core()!.calls.outboundAnswered(linkId, callId),
    afterStream: (linkId, sid) => core()!.calls.afterStream(linkId, sid),
    mediaStream: (linkId, stream) => core()!.calls.mediaStream(linkId, stream),
    log: LOG,
  });
  await webhooks.register(mediaRoutes, {
    prefix: "/media",
    signer: { verify: (token: string) => signer.verify(token) } as MediaUrlSigner,
    media: { download: (mxc: string) => matrix.download(mxc) },
    maxBytes: 10 * 1024 * 1024,
    log: LOG,
  });
  await webhooks.listen({ host: "127.0.0.1", port });
}

let running: RunningCore;

function boot() {
  running = startCore({ dbPath, key: KEY, simulatorUrl: sim.url, matrix, permissions: { localhost: "user" }, publicBaseUrl, log: LOG });
  ({ storage, inbox } = running);
  runtime = running.core.runtime;
  signer = running.core.signer;
  currentCore = running.core;
}

const shutdown = () => running.stop();

const event = matrixEvents({ room_id: ROOM, sender: ALICE });
const say = (body: string, room = ROOM, sender = ALICE) => event({ room_id: room, sender, content: { msgtype: "m.text", body } });

async function deliver(...events: RawMatrixEvent[]) {
  for (const e of events) inbox.accept(e);
  await inbox.drain();
}

/** A text from the contact's phone, as Twilio's webhook would bring it. */
async function textFromPhone(body: string, from = CONTACT) {
  const result = await sim.handset(from).sendSms(NUMBER, body);
  const message = sim.twilio.messages({ from }).find((m) => m.sid === result.messageSid)!;
  runtime.deliver({ type: "sms.received", linkId, providerMessageId: message.sid, from: { kind: "number", number: from as never }, to: NUMBER as never, body, media: [] });
  return message.sid;
}

const texts = (room: string) => matrix.posted(room).filter((e) => e.type === "m.room.message").map((e) => String(e.content.body));

beforeEach(async () => {
  sim = await startCarrierSimulator({ statusDelayMs: 5 });
  account = sim.twilio.createAccount();
  sim.twilio.addNumber(account.sid, NUMBER);
  dbPath = path.join(mkdtempSync(path.join(tmpdir(), "pstn-texting-")), "bridge.db");
  matrix = new FakeMatrix();
  matrix.setPower(ROOM, { [ALICE]: 100 });
  matrix.room(ROOM).members.set(ALICE, "join");
  await listen();
  boot();
  await deliver(
    event({ type: "m.room.member", state_key: "@_pstn_:localhost", content: { membership: "invite" } }),
    say(`link twilio ${account.sid} ${account.authToken} ${NUMBER}`),
  );
  await eventually(() => matrix.expectNotice(ROOM, /Linked/));
  linkId = storage.links.byRoom(roomId(ROOM))!.id;
});

afterEach(async () => {
  shutdown();
  await webhooks.close();
  await sim.close();
});

describe("inbound texts", () => {
  it("the first text opens a portal room: made by the contact's ghost, members invited, bridge info set", async () => {
    await textFromPhone("hello there");
    await eventually(() => expect(texts(matrix.onlyPortal())).toEqual(["hello there"]));
    const portal = matrix.room(matrix.onlyPortal());
    expect(portal.creator).toBe(GHOST);
    expect(portal.members.get(ALICE)).toBe("invite");
    expect(portal.name).toBe("+1 555 765 4321");
    expect(matrix.ghosts.get(GHOST)).toBe("+1 555 765 4321");
    const bridgeInfo = [...portal.state.entries()].find(([key]) => key.startsWith("m.bridge|"))?.[1];
    expect(bridgeInfo).toMatchObject({ bridgebot: "@_pstn_:localhost", protocol: { id: "pstn" }, channel: { id: CONTACT, external_url: `tel:${CONTACT}` } });
    expect([...portal.state.keys()].some((k) => k.startsWith("uk.half-shot.bridge|"))).toBe(true);
  });

  it("texts from one contact stay in order, in one room", async () => {
    for (const n of [1, 2, 3, 4, 5]) await textFromPhone(`text ${n}`);
    await eventually(() => expect(texts(matrix.onlyPortal())).toEqual(["text 1", "text 2", "text 3", "text 4", "text 5"]));
  });

  it("a replayed webhook shows once", async () => {
    const sid = await textFromPhone("only once");
    runtime.deliver({ type: "sms.received", linkId, providerMessageId: sid, from: { kind: "number", number: CONTACT as never }, to: NUMBER as never, body: "only once", media: [] });
    await eventually(() => expect(texts(matrix.onlyPortal())).toEqual(["only once"]));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(texts(matrix.onlyPortal())).toEqual(["only once"]);
  });

  it("with the homeserver down, texts wait, and arrive in order once it is back", async () => {
    matrix.down = true;
    await textFromPhone("first");
    await textFromPhone("second");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(matrix.rooms.size).toBe(1);
    matrix.down = false;
    await eventually(() => expect(texts(matrix.onlyPortal())).toEqual(["first", "second"]), 10_000);
  });

  it("a blocked number's texts don't reach the rooms; unblocked, new ones do", async () => {
    await deliver(say(`block ${CONTACT}`));
    await eventually(() => matrix.expectNotice(ROOM, /Blocked \+1 555 765 4321/));
    await textFromPhone("spam");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect([...matrix.rooms.values()].filter((r) => r.options)).toEqual([]);
    await deliver(say(`unblock ${CONTACT}`));
    await textFromPhone("let me in");
    await eventually(() => expect(texts(matrix.onlyPortal())).toEqual(["let me in"]));
  });

  it("texts the webhooks missed (bridge down) are recovered from Twilio's message list", async () => {
    shutdown();
    // Nobody listens: Twilio's webhook fails and is not retried, but the text is in its list.
    await sim.handset(CONTACT).sendSms(NUMBER, "sent while you were away");
    boot();
    await eventually(() => expect(texts(matrix.onlyPortal())).toEqual(["sent while you were away"]), 5_000);
  });
});

describe("picture messages", () => {
  it("an MMS from the phone is fetched with Twilio's credentials and posted as an image with its size", async () => {
    const picture = png(2, 3);
    const result = await sim.handset(CONTACT).sendSms(NUMBER, "look", { media: [{ contentType: "image/png", data: picture }] });
    const media = await (async () => {
      const client = createTwilioConnector({ apiBaseUrl: sim.url }).createClient({ accountRef: account.sid, credentials: new Secret({ authToken: account.authToken }) });
      return (client as unknown as { mediaOf(sid: string): Promise<{ url: string; contentType: string }[]> }).mediaOf(result.messageSid);
    })();
    runtime.deliver({ type: "sms.received", linkId, providerMessageId: result.messageSid, from: { kind: "number", number: CONTACT as never }, to: NUMBER as never, body: "look", media });
    await eventually(() => expect(matrix.posted(matrix.onlyPortal())).toHaveLength(2));
    const [text, image] = matrix.posted(matrix.onlyPortal());
    expect(text!.content).toEqual({ msgtype: "m.text", body: "look" });
    expect(image!.content).toMatchObject({ msgtype: "m.image", url: "mxc://localhost/upload1", info: { mimetype: "image/png", size: picture.length, w: 2, h: 3 } });
    expect(matrix.uploads[0]).toMatchObject({ asUser: GHOST, contentType: "image/png" });
    expect(matrix.uploads[0]!.data.equals(picture)).toBe(true);
  });

  it("an image posted in Matrix goes to the phone as MMS through a signed bridge URL", async () => {
    await textFromPhone("send me a picture");
    await eventually(() => expect(texts(matrix.onlyPortal())).toHaveLength(1));
    const portal = matrix.onlyPortal();
    const picture = png(4, 4);
    const mxc = await matrix.upload(picture, "image/png", "cat.png", ALICE as never);
    await deliver(event({ room_id: portal, content: { msgtype: "m.image", body: "cat.png", url: mxc, info: { mimetype: "image/png", size: picture.length } } }));
    const got = await sim.handset(CONTACT).waitForMessage((m) => m.media.length > 0);
    expect(got.media[0]!.contentType).toBe("image/png");
    expect(got.media[0]!.data.equals(picture)).toBe(true);
    const sent = sim.twilio.messages({ to: CONTACT }).find((m) => m.mediaUrls.length > 0)!;
    expect(sent.mediaUrls[0]).toMatch(new RegExp(`^${publicBaseUrl}/media/[^/]+\\.[^/]+/cat\\.png$`));
  });

  it("a file over the MMS limit goes as a link, and the room is told", async () => {
    await textFromPhone("send the video");
    await eventually(() => expect(texts(matrix.onlyPortal())).toHaveLength(1));
    const portal = matrix.onlyPortal();
    await deliver(event({ room_id: portal, content: { msgtype: "m.video", body: "holiday.mp4", url: "mxc://localhost/big", info: { mimetype: "video/mp4", size: 40 * 1024 * 1024 } } }));
    const got = await sim.handset(CONTACT).waitForMessage((m) => m.body.includes("holiday.mp4"));
    expect(got.body).toMatch(new RegExp(`📎 holiday\\.mp4 \\(40\\.0 MB\\): ${publicBaseUrl}/media/`));
    expect(got.media).toEqual([]);
    await eventually(() => expect(texts(portal).some((t) => /more than a picture message can carry/.test(t))).toBe(true));
  });
});

describe("delivery statuses", () => {
  it("out-of-order status callbacks never move a text backwards", async () => {
    await textFromPhone("hi");
    await eventually(() => expect(texts(matrix.onlyPortal())).toHaveLength(1));
    const portal = matrix.onlyPortal();
    const message = say("ordered", portal);
    await deliver(message);
    await eventually(() => expect(matrix.room(portal).receipts).toHaveLength(1));
    const row = storage.db.prepare("SELECT provider_message_id AS sid FROM messages WHERE body = 'ordered'").get() as { sid: string };
    runtime.deliver({ type: "message.status", linkId, providerMessageId: row.sid, status: "sent", errorCode: null });
    runtime.deliver({ type: "message.status", linkId, providerMessageId: row.sid, status: "queued", errorCode: null });
    expect((storage.db.prepare("SELECT status FROM messages WHERE body = 'ordered'").get() as { status: string }).status).toBe("delivered");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(matrix.room(portal).receipts).toHaveLength(1);
  });
});

describe("outbound texts", () => {
  async function portalWithText() {
    await textFromPhone("hi");
    await eventually(() => expect(texts(matrix.onlyPortal())).toEqual(["hi"]));
    const portal = matrix.onlyPortal();
    matrix.room(portal).members.set(ALICE, "join");
    return portal;
  }

  it("a member's message reaches the phone from the linked number, and delivery shows as a read receipt", async () => {
    const portal = await portalWithText();
    const message = say("hello from matrix", portal);
    await deliver(message);
    const received = await sim.handset(CONTACT).waitForMessage((m) => m.body === "hello from matrix");
    expect(received.from).toBe(NUMBER);
    await eventually(() => expect(matrix.room(portal).receipts).toEqual([{ user: GHOST, eventId: message.event_id }]));
  });

  it("a replayed homeserver transaction does not send twice", async () => {
    const portal = await portalWithText();
    const message = say("exactly once", portal);
    await deliver(message);
    await sim.handset(CONTACT).waitForMessage((m) => m.body === "exactly once");
    inbox.accept(message);
    await inbox.drain();
    storage.matrixEvents.prune(Date.now() + 1);
    inbox.accept(message);
    await inbox.drain();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sim.handset(CONTACT).inbox().filter((m) => m.body === "exactly once")).toHaveLength(1);
  });

  it("an undelivered text shows Twilio's code and a human reason", async () => {
    const portal = await portalWithText();
    sim.faults.failMessagesTo(CONTACT, { errorCode: 30003, mode: "undelivered" });
    const message = say("are you there?", portal);
    await deliver(message);
    await eventually(() => expect(texts(portal).at(-1)).toMatch(/Not delivered to \+1 555 765 4321: the phone is unreachable .*Twilio error 30003/));
    const notice = matrix.posted(portal).at(-1)!;
    expect(notice.content["m.relates_to"]).toEqual({ "m.in_reply_to": { event_id: message.event_id } });
  });

  it("a recipient who replied STOP gets a plain-words notice, and later texts still go", async () => {
    const portal = await portalWithText();
    sim.faults.failMessagesTo(CONTACT, { errorCode: 21610, mode: "reject" });
    await deliver(say("promo", portal));
    await eventually(() => expect(texts(portal).at(-1)).toMatch(/opted out .*STOP.*21610/));
    await deliver(say("but this one", portal));
    await sim.handset(CONTACT).waitForMessage((m) => m.body === "but this one");
  });

  it("a provider outage is retried: texts go out later, in order", async () => {
    const portal = await portalWithText();
    sim.faults.failRest({ status: 503, code: 20503, times: 2, method: "POST", pathIncludes: "Messages.json" });
    await deliver(say("one", portal), say("two", portal));
    const phone = sim.handset(CONTACT);
    await phone.waitForMessage((m) => m.body === "two", { timeoutMs: 10_000 });
    expect(phone.inbox().map((m) => m.body).filter((b) => b === "one" || b === "two")).toEqual(["one", "two"]);
  });

  it("a long text is split into several, with a note", async () => {
    const portal = await portalWithText();
    const long = Array.from({ length: 400 }, (_, i) => `word${i}`).join(" ");
    await deliver(say(long, portal));
    await eventually(() => expect(texts(portal).some((t) => /went as 2 texts/.test(t))).toBe(true));
    await sim.handset(CONTACT).waitForMessage((m) => m.body.endsWith("word399"));
    const parts = sim.handset(CONTACT).inbox().filter((m) => m.body.startsWith("word") && m.body !== "hi");
    expect(parts.map((p) => p.body).join(" ")).toBe(long);
    expect(parts.every((p) => p.body.length <= 1600)).toBe(true);
  });

  it("edits and deletions can't be sent; the room is told once", async () => {
    const portal = await portalWithText();
    const edit = (n: number) =>
      event({ room_id: portal, content: { msgtype: "m.text", body: `* fixed ${n}`, "m.new_content": { msgtype: "m.text", body: `fixed ${n}` }, "m.relates_to": { rel_type: "m.replace", event_id: "$x" } } });
    await deliver(edit(1), edit(2), event({ room_id: portal, type: "m.room.redaction", content: {} }));
    await eventually(() => expect(texts(portal).filter((t) => /can't be edited or unsent/.test(t))).toHaveLength(1));
    expect(sim.handset(CONTACT).inbox()).toEqual([]);
  });

  it("replies lose their quote, signatures name the sender", async () => {
    const portal = await portalWithText();
    matrix.room(portal).roomNames.set(ALICE, "Alice");
    await deliver(say("signature on"));
    await deliver(event({ room_id: portal, content: { msgtype: "m.text", body: "> <@x:y> hi\n\nsure thing", "m.relates_to": { "m.in_reply_to": { event_id: "$q" } } } }));
    const got = await sim.handset(CONTACT).waitForMessage((m) => m.body.startsWith("sure thing"));
    expect(got.body).toBe("sure thing\n— Alice");
  });

  it("a stalled contact does not hold up another", async () => {
    const portal = await portalWithText();
    await textFromPhone("hi from carol", "+15550009999");
    await eventually(() => expect([...matrix.rooms.values()].filter((r) => r.options)).toHaveLength(2));
    const carolRoom = [...matrix.rooms.entries()].find(([id, r]) => r.options && id !== portal)![0];
    const release = sim.faults.hangMessagesTo(CONTACT);
    await deliver(say("to the stalled one", portal), say("to carol", carolRoom));
    await sim.handset("+15550009999").waitForMessage((m) => m.body === "to carol");
    expect(sim.handset(CONTACT).inbox().some((m) => m.body === "to the stalled one")).toBe(false);
    release();
    await sim.handset(CONTACT).waitForMessage((m) => m.body === "to the stalled one");
  });

  it("a send that reached Twilio just before a crash is found in Twilio's list, not sent again", async () => {
    const portal = await portalWithText();
    const release = sim.faults.holdResponsesTo(CONTACT);
    await deliver(say("sent in the crash window", portal));
    await sim.handset(CONTACT).waitForMessage((m) => m.body === "sent in the crash window");
    // Twilio has the text, the bridge never heard its sid: the process dies here.
    shutdown();
    release();
    boot();
    await eventually(() => {
      const row = storage.messages.unsent(storage.portals.byRoom(roomId(portal))!.id);
      expect(row).toEqual([]);
    }, 5_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sim.handset(CONTACT).inbox().filter((m) => m.body === "sent in the crash window")).toHaveLength(1);
  });
});

describe("the shared control room", () => {
  it("name sets a pet name in the portal; name without a name clears it", async () => {
    await textFromPhone("hi");
    await eventually(() => expect(texts(matrix.onlyPortal())).toEqual(["hi"]));
    await deliver(say(`name ${CONTACT} Bob the Builder`));
    await eventually(() => expect(matrix.room(matrix.onlyPortal()).roomNames.get(GHOST)).toBe("Bob the Builder"));
    expect(matrix.room(matrix.onlyPortal()).name).toBe("Bob the Builder");
    await deliver(say(`name ${CONTACT}`));
    await eventually(() => expect(matrix.room(matrix.onlyPortal()).roomNames.get(GHOST)).toBe("+1 555 765 4321"));
  });

  it("dial opens a room for a number typed the local way, and refuses group texts on Twilio", async () => {
    await deliver(say("dial 555 0134"));
    await eventually(() => matrix.expectNotice(ROOM, /Opened the room with \+1 555 555 0134/));
    expect(matrix.room(matrix.onlyPortal()).members.get(ALICE)).toBe("invite");
    await deliver(say("dial +15550100134, +15550100135"));
    await eventually(() => matrix.expectNotice(ROOM, /Group texts aren't possible with Twilio/));
    await deliver(say("dial 12"));
    await eventually(() => matrix.expectNotice(ROOM, /not a phone number I can dial/));
  });

  it("people joining the control room are invited to its portals; leaving removes them", async () => {
    await textFromPhone("hi");
    await eventually(() => expect(texts(matrix.onlyPortal())).toEqual(["hi"]));
    matrix.room(ROOM).members.set(BOB, "join");
    await deliver(event({ type: "m.room.member", sender: BOB, state_key: BOB, content: { membership: "join" } }));
    expect(matrix.room(matrix.onlyPortal()).members.get(BOB)).toBe("invite");
    matrix.room(ROOM).members.set(BOB, "leave");
    await deliver(event({ type: "m.room.member", sender: BOB, state_key: BOB, content: { membership: "leave" } }));
    expect(matrix.room(matrix.onlyPortal()).members.get(BOB)).toBe("leave");
  });

  it("a member who left a portal is invited back when a new text arrives there", async () => {
    await textFromPhone("hi");
    await eventually(() => expect(texts(matrix.onlyPortal())).toEqual(["hi"]));
    matrix.room(matrix.onlyPortal()).members.set(ALICE, "leave");
    await deliver(event({ room_id: matrix.onlyPortal(), type: "m.room.member", state_key: ALICE, content: { membership: "leave" } }));
    await textFromPhone("are you still there?");
    await eventually(() => expect(matrix.room(matrix.onlyPortal()).members.get(ALICE)).toBe("invite"));
  });

  it("contacts lists the conversations and invites back into one", async () => {
    await textFromPhone("hi");
    await eventually(() => expect(texts(matrix.onlyPortal())).toEqual(["hi"]));
    await deliver(say(`name ${CONTACT} Bob`));
    await deliver(say("contacts"));
    await eventually(() => matrix.expectNotice(ROOM, /1\. Bob \(\+1 555 765 4321\): 1 texts/));
    matrix.room(matrix.onlyPortal()).members.set(ALICE, "leave");
    await deliver(say("contacts 1"));
    await eventually(() => expect(matrix.room(matrix.onlyPortal()).members.get(ALICE)).toBe("invite"));
  });

  it("a DM a user starts with a ghost becomes the contact's portal", async () => {
    const dm = "!dm:localhost";
    matrix.room(dm).members.set(ALICE, "join");
    await deliver(event({ room_id: dm, type: "m.room.member", state_key: "@_pstn_15550100134:localhost", content: { membership: "invite" } }));
    await eventually(() => expect(texts(dm)).toEqual(["Texts you send here go to +1 555 010 0134 from +1 555 000 1111."]));
    await deliver(say("hello via dm", dm));
    await sim.handset("+15550100134").waitForMessage((m) => m.body === "hello via dm");
  });
});
