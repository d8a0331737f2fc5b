/**
 * The calls benchmark's world, built from the messaging benchmark's parts: the carrier simulator
 * (an account and a number), the built bridge as its own process (pinned, on-disk SQLite,
 * signatures checked, calls on with loopback-only media), the stub homeserver, a person (the
 * control room's only member) with the number linked, and one contact per concurrent call, each
 * with its portal room (made by a first text, which the person joins), so calls ring there.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { BridgeProcess, prepareBridge, setHomeserverUrl, type BridgeSetup } from "../messaging/bridge-process.js";
import { closedLoop } from "../messaging/load.js";
import { startTimedSimulator, type TimedSimulator } from "../messaging/simulator.js";
import { StubHomeserver, type StubEvent } from "../messaging/stub-homeserver.js";
import { memory, sleep, waitCpuQuiet } from "../messaging/system.js";
import { contactNumbers, WebhookSender } from "../messaging/webhooks.js";
import type { PhoneLine } from "./phone.js";

export const DOMAIN = "localhost";
export const BOT = `@_pstn_:${DOMAIN}`;
export const OWNER = `@owner:${DOMAIN}`;
export const NUMBER = "+15550001111";
export const ghostOf = (phone: string) => `@_pstn_${phone.slice(1)}:${DOMAIN}`;

export interface CallsWorld {
  sim: TimedSimulator;
  stub: StubHomeserver;
  bridge: BridgeProcess;
  setup: BridgeSetup;
  line: PhoneLine;
  contacts: string[];
  rssMb: { started: number | null; portalsReady: number | null };
  /** Date.now() when the bridge process was spawned. */
  bridgeStartedAt: number;
  close(): Promise<void>;
}

export interface WorldOptions {
  workDir: string;
  contacts: number;
  bridgeCpu: number | null;
  cpuProfDir?: string;
  bridgeNodeArgs: string[];
  logLevel: string;
  log: (line: string) => void;
}

/** The bridge's `calls` settings, added to the config prepareBridge wrote (as setHomeserverUrl edits it). */
function setCallsConfig(setup: BridgeSetup, calls: Record<string, unknown>): void {
  const config = JSON.parse(readFileSync(setup.configPath, "utf8")) as Record<string, unknown>;
  config.calls = calls;
  writeFileSync(setup.configPath, JSON.stringify(config, null, 2));
}

async function waitFor<T>(what: string, check: () => T | undefined | null | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

export async function buildWorld(options: WorldOptions): Promise<CallsWorld> {
  const dir = path.join(options.workDir, "calls");
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => {});
  };
  try {
    const sim = await startTimedSimulator({ statusDelayMs: 50 });
    closers.push(() => sim.close());
    const account = sim.sim.twilio.createAccount({ balance: "1000.00" });
    sim.sim.twilio.addNumber(account.sid, NUMBER);

    const setup = await prepareBridge({
      dir,
      domain: DOMAIN,
      homeserverUrl: "http://127.0.0.1:9",
      simulatorUrl: sim.url,
      permissions: { "*": "none", [DOMAIN]: "admin" },
      logLevel: options.logLevel,
    });
    setCallsConfig(setup, { enabled: true, loopbackMediaOnly: true });
    const reg = setup.registration;
    const stub = new StubHomeserver({
      domain: DOMAIN,
      asToken: reg.as_token,
      hsToken: reg.hs_token,
      asUrl: reg.url,
      senderLocalpart: reg.sender_localpart,
      userNamespaces: (reg.namespaces.users ?? []).map((n) => n.regex),
      warn: (line) => options.log(`  ! ${line}`),
    });
    await stub.listen();
    closers.push(() => stub.close());
    setHomeserverUrl(setup, stub.url);

    const bridge = new BridgeProcess(setup);
    const bridgeStartedAt = Date.now();
    await bridge.start({ cpu: options.bridgeCpu, nodeArgs: options.bridgeNodeArgs, ...(options.cpuProfDir ? { cpuProfDir: options.cpuProfDir } : {}) });
    closers.push(() => bridge.stop());
    const started = memory(bridge.pid)?.rssMb ?? null;

    // The person invites the bot into a new room (a control room) and links the number.
    stub.addUser(OWNER, "Owner");
    const botMessages: StubEvent[] = [];
    const offBot = stub.onSend((event) => {
      if (event.sender === BOT) botMessages.push(event);
    });
    const controlRoom = stub.createRoomAs(OWNER, { name: "Bench control room", invite: [BOT], powerUsers: { [BOT]: 100 } });
    const notice = (pattern: RegExp) => () => botMessages.find((e) => e.room_id === controlRoom && pattern.test(String(e.content.body ?? "")));
    await waitFor("the bot's welcome in the control room", notice(/control room/));
    stub.sendAs(OWNER, controlRoom, { msgtype: "m.text", body: `link twilio ${account.sid} ${account.authToken} ${NUMBER}` });
    await waitFor("the number to be linked", notice(/Linked/));
    offBot();

    const resource = sim.sim.twilio.getNumber(NUMBER);
    if (!resource?.voice_url || !resource.sms_url) throw new Error("the number has no voice_url/sms_url after linking");
    const line: PhoneLine = {
      number: NUMBER,
      voiceUrl: resource.voice_url,
      statusCallback: resource.status_callback || null,
      accountSid: account.sid,
      authToken: account.authToken,
    };

    // One contact per concurrent call: a first text makes its portal room, which the person joins.
    const contacts = contactNumbers(options.contacts);
    const webhooks = new WebhookSender({ smsUrl: resource.sms_url, accountSid: account.sid, authToken: account.authToken, number: NUMBER });
    const ghosts = new Map(contacts.map((c) => [ghostOf(c), c]));
    const portalOf = new Map<string, string>();
    const offPortal = stub.onSend((event) => {
      const contact = ghosts.get(event.sender);
      if (contact && event.type === "m.room.message") portalOf.set(contact, event.room_id);
    });
    const warm = await closedLoop(contacts.length, 25, (i) => webhooks.send(contacts[i]!, `hello from ${contacts[i]}`));
    if (warm.errors) throw new Error(`${warm.errors} warm-up texts were refused`);
    await waitFor("a portal room per contact", () => portalOf.size === contacts.length, 120_000);
    offPortal();
    for (const room of portalOf.values()) stub.joinAs(OWNER, room);
    await waitFor("the joins to reach the bridge", () => stub.backlog === 0, 60_000);
    await waitCpuQuiet(bridge.pid, 500, 30_000);
    return { sim, stub, bridge, setup, line, contacts, bridgeStartedAt, rssMb: { started, portalsReady: memory(bridge.pid)?.rssMb ?? null }, close };
  } catch (err) {
    await close();
    throw err;
  }
}
