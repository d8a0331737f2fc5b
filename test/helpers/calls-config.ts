import type { Config } from "../../src/config/types.js";

/** Call settings for tests: short ringing, voicemail on, media on loopback. */
export function callsConfig(overrides: Partial<Config["calls"]> = {}): Config["calls"] {
  return {
    enabled: true,
    ringTimeoutSeconds: 10,
    voicemail: { enabled: true, greeting: "Leave a message after the tone.", maxLengthSeconds: 30 },
    allowedCountries: [],
    allowPremium: false,
    iceServers: [],
    loopbackMediaOnly: true,
    ...overrides,
  };
}
