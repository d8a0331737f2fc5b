import twilio from "twilio";
import {
  startCarrierSimulator,
  type AccountCredentials,
  type CarrierSimulator,
  type NewAccountOptions,
  type NumberOptions,
  type SimulatorApp,
} from "../../../src/sandbox/simulator/index.js";

/** Setup shared by the simulator tests: the bridge's number, its account, the SDK pointed at the simulator. */

export const BRIDGE_NUMBER = "+15550001111";
export const CONTACT = "+15557654321";

/** A new account on `sim` that owns BRIDGE_NUMBER, with the number's webhooks from `number`. */
export function bridgeAccount(sim: Pick<SimulatorApp, "twilio">, number?: NumberOptions, options?: NewAccountOptions): AccountCredentials {
  const account = sim.twilio.createAccount(options);
  sim.twilio.addNumber(account.sid, BRIDGE_NUMBER, number);
  return account;
}

/** Starts the simulator on loopback with a bridgeAccount on it. */
export async function startBridgeSimulator(options: {
  statusDelayMs: number;
  number?: NumberOptions;
  account?: NewAccountOptions;
}): Promise<{ sim: CarrierSimulator; account: AccountCredentials }> {
  const sim = await startCarrierSimulator({ statusDelayMs: options.statusDelayMs });
  return { sim, account: bridgeAccount(sim, options.number, options.account) };
}

/** The real twilio SDK for `account`; it builds every URL of the api domain (2010-04-01) from `baseUrl`. */
export function sdkClient(sim: CarrierSimulator, account: AccountCredentials): twilio.Twilio {
  const client = twilio(account.sid, account.authToken);
  client.api.baseUrl = sim.url;
  return client;
}

/** Closes each in turn, in the order given. */
export async function closeAll(...closables: Array<{ close(): Promise<void> }>): Promise<void> {
  for (const closable of closables) await closable.close();
}

export const basicAuth = (sid: string, token: string): string => `Basic ${Buffer.from(`${sid}:${token}`).toString("base64")}`;
