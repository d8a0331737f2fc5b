/**
 * The calls benchmark's world, built from the messaging benchmark's parts: the carrier simulator
 * (an account and a number), the built bridge as its own process (pinned, on-disk SQLite,
 * signatures checked, calls on with loopback-only media), the stub homeserver, a person (the
 * control room's only member) with the number linked, and one contact per concurrent call, each
 * with its portal room (made by a first text, which the person joins), so calls ring there.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { BridgeProcess, BridgeSetup } from "../messaging/bridge-process.js";
import { closedLoop } from "../messaging/load.js";
import { joinPortalRooms, NUMBER, startLinkedStubWorld, waitFor, type BridgeRunOptions } from "../messaging/setups.js";
import type { TimedSimulator } from "../messaging/simulator.js";
import type { StubHomeserver } from "../messaging/stub-homeserver.js";
import { memory, waitCpuQuiet } from "../messaging/system.js";
import { contactNumbers, WebhookSender } from "../messaging/webhooks.js";
import type { PhoneLine } from "./phone.js";

export { ghostOf, OWNER } from "../messaging/setups.js";

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

export interface WorldOptions extends BridgeRunOptions {
  workDir: string;
  contacts: number;
}

/** The bridge's `calls` settings, added to the config prepareBridge wrote (as setHomeserverUrl edits it). */
function setCallsConfig(setup: BridgeSetup, calls: Record<string, unknown>): void {
  const config = JSON.parse(readFileSync(setup.configPath, "utf8")) as Record<string, unknown>;
  config.calls = calls;
  writeFileSync(setup.configPath, JSON.stringify(config, null, 2));
}

export async function buildWorld(options: WorldOptions): Promise<CallsWorld> {
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => {});
  };
  try {
    // The simulator, the bridge (calls on, loopback-only media) against the stub, the number linked.
    const { sim, account, setup, stub, bridge, bridgeStartedAt, rssAtStart } = await startLinkedStubWorld(
      { ...options, dir: path.join(options.workDir, "calls"), configure: (s) => setCallsConfig(s, { enabled: true, loopbackMediaOnly: true }) },
      closers,
    );
    const started = rssAtStart?.rssMb ?? null;

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
    await joinPortalRooms(
      stub,
      contacts,
      async () => {
        const warm = await closedLoop(contacts.length, 25, (i) => webhooks.send(contacts[i]!, `hello from ${contacts[i]}`));
        if (warm.errors) throw new Error(`${warm.errors} warm-up texts were refused`);
      },
      120_000,
    );
    await waitFor("the joins to reach the bridge", () => stub.backlog === 0, 60_000);
    await waitCpuQuiet(bridge.pid, 500, 30_000);
    return { sim, stub, bridge, setup, line, contacts, bridgeStartedAt, rssMb: { started, portalsReady: memory(bridge.pid)?.rssMb ?? null }, close };
  } catch (err) {
    await close();
    throw err;
  }
}
