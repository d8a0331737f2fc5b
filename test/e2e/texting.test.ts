import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { TestUser } from "./harness/matrix-client.js";
import { BOT, joinPortal, linkedScenario, type Scenario } from "./harness/scenario.js";
import { png } from "../helpers/png.js";

/**
 * Texting as people do it, against the real Synapse: the simulator's phone on one side, Matrix
 * users on the other, the built bridge in between.
 */
const env = inject("e2e");
const NUMBER = "+15550003333";
const PHONE = "+15557650001";
const GHOST = "@_pstn_15557650001:localhost";

let s: Scenario & { owner: TestUser };
let alice: TestUser;
let portal: string;

beforeAll(async () => {
  s = await linkedScenario(env, "texting", "tess", NUMBER);
  alice = s.owner;
});

afterAll(async () => {
  await s?.close();
});

describe("texting through a real homeserver", () => {
  it("a text from the phone appears in a new portal room, from a ghost named by the sender's number", async () => {
    await s.sim.handset(PHONE).sendSms(NUMBER, "Hello from a phone");
    portal = await joinPortal(alice, GHOST);
    const text = await alice.waitFor(portal, (e) => e.type === "m.room.message" && e.sender === GHOST, { what: "the text" });
    expect(text.content).toMatchObject({ msgtype: "m.text", body: "Hello from a phone" });
    const member = await alice.state(portal, "m.room.member", GHOST);
    expect(member?.displayname).toBe("+1 555 765 0001");
    const bridge = await alice.request<{ chunk?: unknown }>("GET", `/rooms/${encodeURIComponent(portal)}/state`);
    expect(JSON.stringify(bridge)).toContain('"type":"m.bridge"');
    expect(JSON.stringify(bridge)).toContain('"type":"uk.half-shot.bridge"');
    const members = await alice.request<{ joined: Record<string, unknown> }>("GET", `/rooms/${encodeURIComponent(portal)}/joined_members`);
    expect(Object.keys(members.joined).sort()).toEqual([alice.userId, GHOST].sort());
  });

  it("a reply reaches the phone, from the linked number", async () => {
    await alice.send(portal, "Hi phone, this is Matrix");
    const got = await s.sim.handset(PHONE).waitForMessage((m) => m.body === "Hi phone, this is Matrix", { timeoutMs: 15_000 });
    expect(got.from).toBe(NUMBER);
  });

  it("an image goes both ways", async () => {
    const picture = png(3, 2);
    const mxc = await alice.upload(picture, "image/png", "dot.png");
    await alice.sendContent(portal, { msgtype: "m.image", body: "dot.png", url: mxc, info: { mimetype: "image/png", size: picture.length, w: 3, h: 2 } });
    const mms = await s.sim.handset(PHONE).waitForMessage((m) => m.media.length > 0, { timeoutMs: 15_000 });
    expect(mms.media[0]!.data.equals(picture)).toBe(true);

    const back = png(5, 4);
    await s.sim.handset(PHONE).sendSms(NUMBER, "", { media: [{ contentType: "image/png", data: back }] });
    const image = await alice.waitFor(portal, (e) => e.sender === GHOST && e.content.msgtype === "m.image", { what: "an image" });
    expect(image.content.info).toMatchObject({ mimetype: "image/png", w: 5, h: 4, size: back.length });
    expect((await alice.download(String(image.content.url))).data.equals(back)).toBe(true);
  });

  it("name renames the contact in its portal", async () => {
    await alice.send(s.controlRoom, `name ${PHONE} Pat Phone`);
    await alice.waitUntil(async () => (await alice.state(portal, "m.room.member", GHOST))?.displayname === "Pat Phone", "the pet name");
    expect((await alice.state(portal, "m.room.name"))?.name).toBe("Pat Phone");
  });

  it("a second person joining the control room is invited to every portal room", async () => {
    const carol = await s.user("carol");
    await alice.invite(s.controlRoom, carol.userId);
    await carol.join(s.controlRoom);
    const invited = await joinPortal(carol, GHOST);
    expect(invited).toBe(portal);
  });

  it("a forged signature gets 403; a replayed webhook shows once", async () => {
    const number = s.sim.twilio.getNumber(NUMBER)!;
    const params = {
      MessageSid: `SM${"ab".repeat(16)}`, SmsSid: `SM${"ab".repeat(16)}`, AccountSid: s.account.sid, From: PHONE, To: NUMBER,
      Body: "replayed once", NumMedia: "0", NumSegments: "1", SmsStatus: "received", ApiVersion: "2010-04-01",
    };
    const forged = await s.sim.twilio.postSignedWebhook(number.sms_url!, { ...params, Body: "forged" }, "f".repeat(32));
    expect(forged.status).toBe(403);
    const first = await s.sim.twilio.postSignedWebhook(number.sms_url!, params, s.account.authToken);
    const again = await s.sim.twilio.postSignedWebhook(number.sms_url!, params, s.account.authToken);
    expect([first.status, again.status]).toEqual([200, 200]);
    const marker = await alice.send(portal, "marker after replay");
    await s.sim.handset(PHONE).waitForMessage((m) => m.body === "marker after replay", { timeoutMs: 15_000 });
    const timeline = await alice.timeline(portal);
    expect(timeline.filter((e) => e.content.body === "replayed once")).toHaveLength(1);
    expect(timeline.some((e) => e.content.body === "forged")).toBe(false);
    void marker;
  });

  it("a failed delivery is visible in the room, with Twilio's code and a reason", async () => {
    s.sim.faults.failMessagesTo(PHONE, { errorCode: 30005, mode: "undelivered" });
    const sent = await alice.send(portal, "this one won't arrive");
    const notice = await alice.waitFor(portal, (e) => e.sender === GHOST && /Not delivered/.test(String(e.content.body)), { after: sent, what: "the failure notice" });
    expect(notice.content.body).toMatch(/unknown or no longer in service.*30005/);
  });

  it("edits are not sent, and the room is told once", async () => {
    const sent = await alice.send(portal, "typo");
    for (const n of [1, 2]) {
      await alice.sendContent(portal, { msgtype: "m.text", body: `* fixed ${n}`, "m.new_content": { msgtype: "m.text", body: `fixed ${n}` }, "m.relates_to": { rel_type: "m.replace", event_id: sent } });
    }
    await alice.waitFor(portal, (e) => /can't be edited or unsent/.test(String(e.content.body)), { after: sent, what: "the edit notice" });
    await alice.send(portal, "after the edits");
    await s.sim.handset(PHONE).waitForMessage((m) => m.body === "after the edits", { timeoutMs: 15_000 });
    const timeline = await alice.timeline(portal);
    expect(timeline.filter((e) => /can't be edited or unsent/.test(String(e.content.body)))).toHaveLength(1);
    expect(s.sim.handset(PHONE).inbox().some((m) => m.body.startsWith("fixed"))).toBe(false);
    expect(BOT).toBe("@_pstn_:localhost");
  });
});
