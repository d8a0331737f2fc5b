import { registerUser } from "../../../src/sandbox/synapse.js";
import { startCarrierSimulator, type CarrierSimulator } from "../../../src/sandbox/simulator/index.js";
import { BridgeProcess } from "./bridge-process.js";
import type { E2eEnvironment } from "./environment.js";
import { TestUser } from "./matrix-client.js";

export const BOT = "@_pstn_:localhost";

export interface Session {
  userId: string;
  accessToken: string;
  deviceId: string;
}

export interface Scenario {
  sim: CarrierSimulator;
  bridge: BridgeProcess;
  account: { sid: string; authToken: string };
  number: string;
  controlRoom: string;
  user(localpart: string): Promise<TestUser>;
  /** The last registration (or login) of each user, for a browser to log in with. */
  sessions: Map<string, Session>;
  close(): Promise<void>;
}

/**
 * The common start of the texting tests: a simulator with an account and a number, the bridge
 * as a process, and a person with a control room whose number is linked (the bot a moderator).
 */
export async function linkedScenario(
  env: E2eEnvironment,
  name: string,
  owner: string,
  number: string,
  options: { calls?: Record<string, unknown> } = {},
): Promise<Scenario & { owner: TestUser }> {
  const sim = await startCarrierSimulator({ statusDelayMs: 20 });
  const account = sim.twilio.createAccount({ balance: "10.00" });
  sim.twilio.addNumber(account.sid, number);
  const bridge = await BridgeProcess.create(env, name, { twilioApiBaseUrl: sim.url, ...(options.calls ? { calls: options.calls } : {}) });
  await bridge.start();
  const sessions = new Map<string, Session>();
  const user = async (localpart: string) => {
    const registered = await registerUser(env.homeserverUrl, env.sharedSecret, localpart, `${localpart}-password`, { displayName: localpart });
    sessions.set(localpart, registered);
    return new TestUser(env.homeserverUrl, registered.userId, registered.accessToken);
  };
  const person = await user(owner);
  const controlRoom = await person.createRoom({ name: `${name} control`, invite: [BOT] });
  await person.waitForNotice(controlRoom, BOT, /control room/);
  await person.setPowerLevel(controlRoom, BOT, 50);
  const sent = await person.send(controlRoom, `link twilio ${account.sid} ${account.authToken} ${number}`);
  await person.waitForNotice(controlRoom, BOT, /Linked/, sent);
  return {
    sim,
    bridge,
    account,
    number,
    controlRoom,
    owner: person,
    user,
    sessions,
    close: async () => {
      await bridge.stop();
      await sim.close();
    },
  };
}

/** Joins the portal room the user was invited to for a contact, waiting for the invite. */
export async function joinPortal(user: TestUser, ghost: string): Promise<string> {
  const roomId = await user.waitUntil(async () => {
    for (const room of await user.invites()) {
      if (user.inviteState(room).find((e) => e.type === "m.room.create")?.sender === ghost) return room;
    }
    return null;
  }, `an invite to the portal of ${ghost}`);
  await user.join(roomId);
  return roomId;
}
