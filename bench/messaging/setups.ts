/**
 * The two setups the bridge is measured in, built the same way: a carrier simulator with an
 * account and a number, the bridge process (pinned), a homeserver (the stub, or a real Synapse),
 * a person with a control room whose number is linked, and one portal room per contact, warmed up.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { ensureSynapse, freeLoopbackPort, registerUser, startSynapse, type RunningSynapse } from "../../src/sandbox/synapse.js";
import { TestUser } from "../../test/e2e/harness/matrix-client.js";
import { BridgeProcess, prepareBridge, REPO_ROOT, setHomeserverUrl, type BridgeSetup } from "./bridge-process.js";
import { closedLoop, fromPerf, now, Tracker } from "./load.js";
import type { DirectionDriver, PhaseContext } from "./measure.js";
import { startTimedSimulator, type TimedSimulator } from "./simulator.js";
import { StubHomeserver, type StubEvent } from "./stub-homeserver.js";
import { cpuMs, memory, round, sleep, type Memory } from "./system.js";
import { contactNumbers, WebhookSender } from "./webhooks.js";

export const DOMAIN = "localhost";
export const BOT = `@_pstn_:${DOMAIN}`;
/** The person (on the stub homeserver) whose number is linked. */
export const OWNER = `@owner:${DOMAIN}`;
export const NUMBER = "+15550001111";
export const ghostOf = (phone: string) => `@_pstn_${phone.slice(1)}:${DOMAIN}`;

export interface BenchSetup {
  name: "stub" | "synapse";
  bridge: BridgeProcess;
  ctx: PhaseContext;
  contacts: string[];
  inbound: DirectionDriver;
  outbound: DirectionDriver;
  /** Synapse only: client sends per second straight to Synapse, no bridge involved. */
  synapseAlone?(count: number, concurrency: number): Promise<{ sends: number; seconds: number; sendsPerSec: number; errors: number; cpuMsPerSend: number | null }>;
  /** What the setup learnt about the bridge (stub: the client API calls it made). */
  details(): Record<string, unknown>;
  close(): Promise<void>;
}

/** How the bridge process runs, and where a setup logs (the calls benchmark's world too). */
export interface BridgeRunOptions {
  /** CPU to pin the bridge to, or null to leave it unpinned. */
  bridgeCpu: number | null;
  cpuProfDir?: string;
  /** Extra node flags for the bridge process (diagnostics such as --trace-gc). */
  bridgeNodeArgs: string[];
  logLevel: string;
  log: (line: string) => void;
}

export interface SetupOptions extends BridgeRunOptions {
  workDir: string;
  /** The harness's CPU when pinned. */
  harnessCpu: number | null;
  waitQuietMs: number;
  quietPct: number;
  contacts: number;
}

function phaseOptions(options: SetupOptions) {
  return {
    bridgeCpu: options.bridgeCpu,
    harnessCpu: options.harnessCpu,
    waitQuietMs: options.waitQuietMs,
    quietPct: options.quietPct,
    log: options.log,
  };
}

/** Routes arrivals to the tracker of the phase in progress. */
class Active {
  tracker: Tracker | null = null;
  arrived(body: string, at: number): void {
    this.tracker?.markArrived(body, at);
  }
}

export async function waitFor<T>(what: string, check: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function inboundDriver(webhooks: WebhookSender, contacts: string[], active: Active, latencyMeasure: string): DirectionDriver {
  return {
    latencyMeasure,
    ackMeasure: "the SMS webhook's POST → the bridge's 200 (text stored)",
    async fire(i, body, tracker) {
      active.tracker = tracker;
      const sent = now();
      tracker.markSent(body, sent);
      await webhooks.send(contacts[i % contacts.length]!, body);
      tracker.ack(now() - sent);
    },
  };
}

function linkTarget(sim: TimedSimulator, account: { sid: string; authToken: string }) {
  const smsUrl = sim.sim.twilio.getNumber(NUMBER)?.sms_url;
  if (!smsUrl) throw new Error("the number has no sms_url after linking");
  return { smsUrl, accountSid: account.sid, authToken: account.authToken, number: NUMBER };
}

// -----------------------------------------------------------------------------------------------
// The stub homeserver's world, also the calls benchmark's (bench/calls/setup.ts)
// -----------------------------------------------------------------------------------------------

export interface StubWorldOptions extends BridgeRunOptions {
  /** The bridge's directory (config, registration, database). */
  dir: string;
  /** Edits the bridge's config after prepareBridge wrote it, before the bridge starts. */
  configure?: (setup: BridgeSetup) => void;
}

export interface StubWorld {
  sim: TimedSimulator;
  account: { sid: string; authToken: string };
  setup: BridgeSetup;
  stub: StubHomeserver;
  bridge: BridgeProcess;
  /** Date.now() when the bridge process was spawned. */
  bridgeStartedAt: number;
  /** The bridge's memory once it was up. */
  rssAtStart: Memory | null;
}

/**
 * The carrier simulator with an account and the number, the bridge (pinned) against the stub
 * homeserver, and the person (OWNER) with a control room in which the number is linked. Whatever
 * it starts goes on `closers`, for the caller to close (last first), on failure too.
 */
export async function startLinkedStubWorld(options: StubWorldOptions, closers: (() => Promise<void>)[]): Promise<StubWorld> {
  const sim = await startTimedSimulator({ statusDelayMs: 50 });
  closers.push(() => sim.close());
  const account = sim.sim.twilio.createAccount({ balance: "1000.00" });
  sim.sim.twilio.addNumber(account.sid, NUMBER);

  const setup = await prepareBridge({
    dir: options.dir,
    domain: DOMAIN,
    homeserverUrl: "http://127.0.0.1:9",
    simulatorUrl: sim.url,
    permissions: { "*": "none", [DOMAIN]: "admin" },
    logLevel: options.logLevel,
  });
  options.configure?.(setup);
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
  const rssAtStart = memory(bridge.pid);
  closers.push(() => bridge.stop());

  // The person invites the bot into a new room (it becomes a control room) and links the number.
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
  return { sim, account, setup, stub, bridge, bridgeStartedAt, rssAtStart };
}

/**
 * Each contact's first text (sent by `firstTexts`) makes its portal room on the stub, which the
 * person joins: the portal room of each contact.
 */
export async function joinPortalRooms(stub: StubHomeserver, contacts: string[], firstTexts: () => Promise<unknown>, timeoutMs: number): Promise<Map<string, string>> {
  const ghosts = new Map(contacts.map((c) => [ghostOf(c), c]));
  const portalOf = new Map<string, string>();
  const off = stub.onSend((event) => {
    const contact = ghosts.get(event.sender);
    if (contact && event.type === "m.room.message") portalOf.set(contact, event.room_id);
  });
  try {
    await firstTexts();
    await waitFor("a portal room per contact", () => portalOf.size === contacts.length, timeoutMs);
  } finally {
    off();
  }
  for (const room of portalOf.values()) stub.joinAs(OWNER, room);
  return portalOf;
}

// -----------------------------------------------------------------------------------------------
// Setup A: the stub homeserver
// -----------------------------------------------------------------------------------------------

export async function stubSetup(options: SetupOptions): Promise<BenchSetup> {
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => {});
  };
  try {
    const { sim, account, setup, stub, bridge, rssAtStart } = await startLinkedStubWorld({ ...options, dir: path.join(options.workDir, "stub") }, closers);

    const contacts = contactNumbers(options.contacts);
    const webhooks = new WebhookSender(linkTarget(sim, account));
    const active = new Active();
    stub.onSend((event, arrivedAt) => {
      if (typeof event.content.body === "string") active.arrived(event.content.body, fromPerf(arrivedAt));
    });
    sim.onCreate((body, _to, arrivedAt) => active.arrived(body, fromPerf(arrivedAt)));
    // Transactions carry many events at once: each transaction counts once.
    stub.onTransaction((_events, ms) => active.tracker?.ack(ms));

    // Warm-up: each contact's first text creates its portal room; the person joins them all.
    const portalOf = await joinPortalRooms(stub, contacts, () => Promise.all(contacts.map((contact) => webhooks.send(contact, `warm-up from ${contact}`))), 60_000);
    const portals = contacts.map((c) => portalOf.get(c)!);
    const rssWarm = memory(bridge.pid);

    const ctx: PhaseContext = { ...phaseOptions(options), setup: "stub", bridgePid: bridge.pid, homeserverPid: null, dbPath: setup.dbPath };
    return {
      name: "stub",
      bridge,
      ctx,
      contacts,
      inbound: inboundDriver(webhooks, contacts, active, "webhook POST sent → the bridge's PUT /send arriving at the stub (performance.now, same process)"),
      outbound: {
        latencyMeasure: "event queued at the stub for the next transaction → the simulator receiving Messages.json create (performance.now, same process)",
        ackMeasure: "a transaction's PUT → the bridge's 200 (its events stored), once per transaction (≤ 100 events; includes echoes)",
        async fire(i, body, tracker) {
          active.tracker = tracker;
          tracker.markSent(body, now());
          stub.sendAs(OWNER, portals[i % portals.length]!, { msgtype: "m.text", body });
        },
      },
      details: () => ({
        bridgeRssMb: { started: rssAtStart?.rssMb, portalsCreated: rssWarm?.rssMb, end: memory(bridge.pid)?.rssMb, peak: memory(bridge.pid)?.peakRssMb },
        clientApiCalls: Object.fromEntries([...stub.routeCounts].sort((a, b) => b[1] - a[1])),
        unknownRoutes: Object.fromEntries(stub.unknownRoutes),
        transactions: stub.transactionsSent,
        eventsPushed: stub.eventsPushed,
      }),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

// -----------------------------------------------------------------------------------------------
// Setup B: a real Synapse
// -----------------------------------------------------------------------------------------------

export async function synapseSetup(options: SetupOptions): Promise<BenchSetup> {
  const dir = path.join(options.workDir, "synapse");
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => {});
  };
  try {
    const install = await ensureSynapse({ cacheDir: path.join(REPO_ROOT, ".cache", "synapse-venv") });
    const sim = await startTimedSimulator({ statusDelayMs: 50 });
    closers.push(() => sim.close());
    const account = sim.sim.twilio.createAccount({ balance: "1000.00" });
    sim.sim.twilio.addNumber(account.sid, NUMBER);

    const synapsePort = await freeLoopbackPort();
    const homeserverUrl = `http://127.0.0.1:${synapsePort}`;
    const setup = await prepareBridge({
      dir,
      domain: DOMAIN,
      homeserverUrl,
      simulatorUrl: sim.url,
      permissions: { "*": "none", [DOMAIN]: "admin" },
      logLevel: options.logLevel,
    });
    const dataDir = path.join(dir, "synapse-data");
    mkdirSync(dataDir, { recursive: true });
    const synapse: RunningSynapse = await startSynapse({
      install,
      dataDir,
      serverName: DOMAIN,
      port: synapsePort,
      appserviceRegistrations: [setup.registrationPath],
    });
    closers.push(() => synapse.stop());
    options.log(`  Synapse ${install.version} up (pid ${synapse.pid})`);

    const bridge = new BridgeProcess(setup);
    await bridge.start({ cpu: options.bridgeCpu, nodeArgs: options.bridgeNodeArgs, ...(options.cpuProfDir ? { cpuProfDir: options.cpuProfDir } : {}) });
    const rssAtStart = memory(bridge.pid);
    closers.push(() => bridge.stop());

    const registered = await registerUser(homeserverUrl, synapse.registrationSharedSecret, "owner", "owner-password", { displayName: "Owner" });
    const owner = new TestUser(homeserverUrl, registered.userId, registered.accessToken);
    const controlRoom = await owner.createRoom({ name: "Bench control room", invite: [BOT] });
    await owner.waitForNotice(controlRoom, BOT, /control room/);
    await owner.setPowerLevel(controlRoom, BOT, 50);
    const sent = await owner.send(controlRoom, `link twilio ${account.sid} ${account.authToken} ${NUMBER}`);
    await owner.waitForNotice(controlRoom, BOT, /Linked/, sent);

    const contacts = contactNumbers(options.contacts);
    const webhooks = new WebhookSender(linkTarget(sim, account));
    const active = new Active();
    sim.onCreate((body, _to, arrivedAt) => active.arrived(body, fromPerf(arrivedAt)));

    // Warm-up: portal rooms are created by the ghosts, which invite the person; they join all.
    await Promise.all(contacts.map((contact) => webhooks.send(contact, `warm-up from ${contact}`)));
    const ghosts = new Map(contacts.map((c) => [ghostOf(c), c]));
    const portalOf = new Map<string, string>();
    await owner.waitUntil(
      async () => {
        for (const room of await owner.invites()) {
          const creator = owner.inviteState(room).find((e) => e.type === "m.room.create")?.sender;
          const contact = creator ? ghosts.get(creator) : undefined;
          if (contact && !portalOf.has(contact)) {
            await owner.join(room);
            portalOf.set(contact, room);
          }
        }
        return portalOf.size === contacts.length;
      },
      "an invite to every portal room",
      120_000,
    );
    const portals = contacts.map((c) => portalOf.get(c)!);
    const rssWarm = memory(bridge.pid);

    const ctx: PhaseContext = { ...phaseOptions(options), setup: "synapse", bridgePid: bridge.pid, homeserverPid: synapse.pid, dbPath: setup.dbPath };
    const inbound = inboundDriver(
      webhooks,
      contacts,
      active,
      "webhook POST sent (wall clock) → the event's origin_server_ts at Synapse (1 ms resolution), read with /messages after the run",
    );
    inbound.collect = async (tracker, prefix, since) => {
      const filter = encodeURIComponent(JSON.stringify({ types: ["m.room.message"] }));
      for (const room of portals) {
        let from: string | undefined;
        for (;;) {
          const page = await owner.request<{ chunk: { content: { body?: unknown }; origin_server_ts: number }[]; end?: string }>(
            "GET",
            `/rooms/${encodeURIComponent(room)}/messages?dir=b&limit=500&filter=${filter}${from ? `&from=${encodeURIComponent(from)}` : ""}`,
          );
          for (const event of page.chunk) {
            const body = event.content.body;
            if (typeof body === "string" && body.startsWith(prefix)) tracker.markArrived(body, event.origin_server_ts);
          }
          const oldest = page.chunk[page.chunk.length - 1]?.origin_server_ts ?? 0;
          if (!page.end || page.chunk.length === 0 || oldest < since - 2_000) break;
          from = page.end;
        }
      }
    };

    return {
      name: "synapse",
      bridge,
      ctx,
      contacts,
      inbound,
      outbound: {
        latencyMeasure: "the person's PUT /send to Synapse starting → the simulator receiving Messages.json create (performance.now, same process)",
        ackMeasure: "the person's PUT /send → Synapse's 200 (Synapse alone, before the bridge sees it)",
        async fire(i, body, tracker) {
          active.tracker = tracker;
          const sent = now();
          tracker.markSent(body, sent);
          await owner.request("PUT", `/rooms/${encodeURIComponent(portals[i % portals.length]!)}/send/m.room.message/b${Date.now()}-${i}-${Math.random().toString(36).slice(2)}`, {
            msgtype: "m.text",
            body,
          });
          tracker.ack(now() - sent);
        },
      },
      synapseAlone: async (count, concurrency) => {
        // Rooms with nobody from the bridge in them: Synapse does no appservice work for them.
        const rooms: string[] = [];
        for (let i = 0; i < contacts.length; i++) rooms.push(await owner.createRoom({ name: `plain ${i}` }));
        const cpu0 = cpuMs(synapse.pid);
        const result = await closedLoop(count, concurrency, async (i) => {
          await owner.request("PUT", `/rooms/${encodeURIComponent(rooms[i % rooms.length]!)}/send/m.room.message/a${Date.now()}-${i}`, {
            msgtype: "m.text",
            body: `alone-${i} Hi! Running a few minutes late, see you at the usual place.`,
          });
        });
        const cpu1 = cpuMs(synapse.pid);
        const seconds = (result.lastFiredAt - result.firstAt) / 1000;
        return {
          sends: count - result.errors,
          seconds: round(seconds, 2),
          sendsPerSec: round((count - result.errors) / seconds, 1),
          errors: result.errors,
          cpuMsPerSend: cpu0 !== null && cpu1 !== null ? round((cpu1 - cpu0) / count, 3) : null,
        };
      },
      details: () => ({
        synapseVersion: install.version,
        bridgeRssMb: { started: rssAtStart?.rssMb, portalsCreated: rssWarm?.rssMb, end: memory(bridge.pid)?.rssMb, peak: memory(bridge.pid)?.peakRssMb },
      }),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
