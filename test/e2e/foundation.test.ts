import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { registerUser } from "../../src/sandbox/synapse.js";
import { startCarrierSimulator, type CarrierSimulator } from "../../src/sandbox/simulator/index.js";
import { BridgeProcess } from "./harness/bridge-process.js";
import { TestUser } from "./harness/matrix-client.js";
import { joinPortal } from "./harness/scenario.js";

/**
 * The foundation, end to end: a real Synapse, the carrier simulator and the built bridge as a
 * process; the test acts as people through the client-server API.
 */
const env = inject("e2e");
const BOT = "@_pstn_:localhost";
const NUMBER = "+15550001111";
const OLD_SMS_URL = "https://old.example.com/sms";
const OLD_VOICE_URL = "https://old.example.com/voice";

let sim: CarrierSimulator;
let bridge: BridgeProcess;
let account: { sid: string; authToken: string };
let alice: TestUser;
let stranger: TestUser;
let boss: TestUser;
let controlRoom: string;

async function user(localpart: string): Promise<TestUser> {
  const registered = await registerUser(env.homeserverUrl, env.sharedSecret, localpart, `${localpart}-password`, {});
  return new TestUser(env.homeserverUrl, registered.userId, registered.accessToken);
}

/** Sends a command and returns the bot's first notice after it that matches. */
async function command(who: TestUser, roomId: string, body: string, reply: RegExp) {
  const sent = await who.send(roomId, body);
  return who.waitForNotice(roomId, BOT, reply, sent);
}

beforeAll(async () => {
  sim = await startCarrierSimulator();
  account = sim.twilio.createAccount({ balance: "42.17", friendlyName: "Acme Inc" });
  sim.twilio.addNumber(account.sid, NUMBER, { smsUrl: OLD_SMS_URL, voiceUrl: OLD_VOICE_URL });
  bridge = await BridgeProcess.create(env, "foundation", { twilioApiBaseUrl: sim.url });
  await bridge.start();
  [alice, stranger, boss] = await Promise.all([user("alice"), user("stranger"), user("boss")]);
});

afterAll(async () => {
  await bridge?.stop();
  await sim?.close();
});

describe("the bot in a new room", () => {
  it("joins when a permitted user invites it, and welcomes the room asking for moderator rights", async () => {
    controlRoom = await alice.createRoom({ name: "Phones", invite: [BOT] });
    const welcome = await alice.waitForNotice(controlRoom, BOT, /control room/);
    expect(welcome.content.body).toMatch(/moderator/);
    expect(await alice.membership(controlRoom, BOT)).toBe("join");
  });

  it("answers help with the commands", async () => {
    const help = await command(alice, controlRoom, "help", /Commands/);
    for (const name of ["link", "unlink", "status", "help"]) expect(help.content.body).toContain(`${name}`);
    expect(help.content.body).toContain("link twilio <AccountSid> <AuthToken> <+number>");
  });

  it("answers an unknown command with a hint", async () => {
    const reply = await command(alice, controlRoom, "frobnicate now", /Unknown command/);
    expect(reply.content.body).toContain("help");
  });

  it("says there is nothing to report before a number is linked", async () => {
    await command(alice, controlRoom, "status", /No number is linked/);
  });

  it("tells a user without permission why it won't serve them, and leaves", async () => {
    const room = await stranger.createRoom({ invite: [BOT] });
    const refusal = await stranger.waitForNotice(room, BOT, /not allowed to use this bridge/);
    expect(refusal.content.body).toContain("@stranger:localhost");
    await stranger.waitUntil(async () => (await stranger.membership(room, BOT)) === "leave", "the bot to leave");
  });

  it("in an encrypted room, says it can't read it and invites the user to a new unencrypted control room", async () => {
    const room = await alice.createRoom({ invite: [BOT], encrypted: true });
    await alice.waitForNotice(room, BOT, /encrypted/);
    const invited = await alice.waitUntil(async () => (await alice.invites())[0], "an invite to the new control room");
    await alice.join(invited);
    expect(await alice.state(invited, "m.room.encryption")).toBeNull();
    await alice.waitForNotice(invited, BOT, /control room/);
    await command(alice, invited, "status", /No number is linked/);
  });
});

describe("linking a Twilio number", () => {
  it("refuses wrong credentials clearly and stays healthy", async () => {
    const reply = await command(
      alice,
      controlRoom,
      `link twilio ${account.sid} ${"0".repeat(32)} ${NUMBER}`,
      /Could not link/,
    );
    expect(reply.content.body).toMatch(/rejected these credentials/);
    const status = await command(alice, controlRoom, "status", /State/);
    expect(status.content.body).toMatch(/not working/);
    expect((await fetch(`${bridge.adminBase}/health`)).status).toBe(200);
  });

  it("refuses a number that isn't on the account", async () => {
    const reply = await command(alice, controlRoom, `link twilio ${account.sid} ${account.authToken} +15559998888`, /Could not link/);
    expect(reply.content.body).toMatch(/not one of this Twilio account's phone numbers/);
  });

  it("without moderator rights, links the number and tells the user to delete the message with the token", async () => {
    const sent = await alice.send(controlRoom, `link twilio ${account.sid} ${account.authToken} ${NUMBER}`);
    await alice.waitForNotice(controlRoom, BOT, /Please delete your `link` message yourself/, sent);
    await alice.waitForNotice(controlRoom, BOT, /Linked \+1 555 000 1111/, sent);
    const message = await alice.event(controlRoom, sent);
    expect(message.content.body).toContain(account.authToken);

    const number = sim.twilio.getNumber(NUMBER)!;
    expect(number.sms_url).toBe(`${bridge.webhookBase}/webhooks/twilio/${linkIdOf(number.sms_url)}/sms`);
    expect(number.voice_url).toMatch(new RegExp(`^${bridge.webhookBase}/webhooks/twilio/lnk[0-9a-z]{16}/voice$`));
    expect(number.status_callback).toMatch(/\/call-status$/);
  });

  it("shows the link state and the account balance in status", async () => {
    const status = await command(alice, controlRoom, "status", /Balance/);
    expect(status.content.body).toContain("42.17 USD");
    expect(status.content.body).toMatch(/State:\s*linked/);
  });

  it("refuses a second number in the same room", async () => {
    await command(alice, controlRoom, `link twilio ${account.sid} ${account.authToken} ${NUMBER}`, /already linked/);
  });

  it("with moderator rights, removes the message that carried the token from the room's history", async () => {
    const room = await alice.createRoom({ invite: [BOT] });
    await alice.waitForNotice(room, BOT, /control room/);
    await alice.setPowerLevel(room, BOT, 50);
    const sent = await alice.send(room, `link twilio ${account.sid} ${account.authToken} +15550002222`);
    await alice.waitForNotice(room, BOT, /removed your message/, sent);
    const redacted = await alice.event(room, sent);
    expect(redacted.content).toEqual({});
    expect(JSON.stringify(await alice.timeline(room))).not.toContain(account.authToken);
  });

  it("refuses link from a member who is not a room admin", async () => {
    const room = await alice.createRoom({ invite: [BOT, "@boss:localhost"] });
    await alice.waitForNotice(room, BOT, /control room/);
    const eve = await user("eve");
    await alice.invite(room, eve.userId);
    await eve.join(room);
    await command(eve, room, `link twilio ${account.sid} ${account.authToken} ${NUMBER}`, /Only this room's admins/);
    // A bridge admin may link anywhere; here the number is taken by another room.
    await boss.join(room);
    await command(boss, room, `link twilio ${account.sid} ${account.authToken} ${NUMBER}`, /already linked to another control room/);
  });
});

describe("the live actor tree", () => {
  it("needs the token", async () => {
    expect((await bridge.debugActors(null)).status).toBe(401);
    expect((await bridge.debugActors("wrong-token-wrong-token")).status).toBe(401);
  });

  it("shows the control room and its link with state values, and no secret", async () => {
    const { status, body, text } = await bridge.debugActors();
    expect(status).toBe(200);
    const tree = body as { id: string; children: { id: string; state: unknown; children: { machine: string; state: unknown }[] }[] };
    const room = tree.children.find((c) => c.id === controlRoom)!;
    expect(room.state).toBe("active");
    expect(room.children[0]).toMatchObject({ machine: "link", state: { linked: { health: "idle" } } });
    expect(text).not.toContain(account.authToken);
    expect(text).not.toContain("0".repeat(32));
  });
});

describe("restart", () => {
  it("after SIGKILL the control room and the link come back without re-linking", async () => {
    await bridge.stop("SIGKILL");
    await bridge.start();
    const status = await command(alice, controlRoom, "status", /Balance/);
    expect(status.content.body).toMatch(/State:\s*linked/);
    const { body } = await bridge.debugActors();
    expect(JSON.stringify(body)).toContain('"linked"');
  });

  it("texts sent to the number reach a portal room, signature-checked", async () => {
    const phone = sim.handset("+15557654321");
    const result = await phone.sendSms(NUMBER, "hello from the phone");
    expect(result.status).toBe(200);
    const portal = await joinPortal(alice, "@_pstn_15557654321:localhost");
    await alice.waitFor(portal, (e) => e.content.body === "hello from the phone", { what: "the text" });
    const forged = await sim.twilio.postSignedWebhook(sim.twilio.getNumber(NUMBER)!.sms_url!, { From: "+15550000000", To: NUMBER, Body: "forged", MessageSid: `SM${"1".repeat(32)}` }, "0".repeat(32));
    expect(forged.status).toBe(403);
  });
});

describe("kicked and unlinked", () => {
  it("kicking the bot pauses the link without deleting it, and inviting it back resumes it", async () => {
    await alice.kick(controlRoom, BOT);
    await alice.waitUntil(async () => {
      const { body } = await bridge.debugActors();
      return JSON.stringify(body).includes('"paused"');
    }, "the control room to pause");
    await alice.invite(controlRoom, BOT);
    await alice.waitForNotice(controlRoom, BOT, /I'm back/);
    const status = await command(alice, controlRoom, "status", /Balance/);
    expect(status.content.body).toMatch(/State:\s*linked/);
  });

  it("unlink restores the number's previous webhooks and stops the link", async () => {
    await command(alice, controlRoom, "unlink", /Unlinked \+1 555 000 1111/);
    const number = sim.twilio.getNumber(NUMBER)!;
    expect(number.sms_url).toBe(OLD_SMS_URL);
    expect(number.voice_url).toBe(OLD_VOICE_URL);
    await command(alice, controlRoom, "status", /No number is linked/);
    const { body } = await bridge.debugActors();
    const room = (body as { children: { id: string; children: { machine: string }[] }[] }).children.find((c) => c.id === controlRoom)!;
    expect(room.children.filter((c) => c.machine === "link")).toEqual([]);
    // The conversation with the phone that texted is a live actor of its own.
    expect(room.children.map((c) => c.machine)).toEqual(["conversation"]);
  });

  it("logged no secret at any point", () => {
    const all = JSON.stringify(bridge.logs) + bridge.stderr.join("");
    expect(all).not.toContain(account.authToken);
  });
});

function linkIdOf(url: string | null): string {
  return /\/webhooks\/twilio\/(lnk[0-9a-z]{16})\//.exec(url ?? "")?.[1] ?? "missing";
}
