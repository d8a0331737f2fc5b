/**
 * The bridge's configuration, as read from a JSON file and validated against `schema.ts`.
 * Every field is documented in the schema's `description`s, which double as the reference for
 * `config.example.json`.
 */
export type PermissionLevel = "none" | "user" | "admin";
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";

export interface Config {
  homeserver: {
    url: string;
    domain: string;
  };
  appservice: {
    id: string;
    bindAddress: string;
    port: number;
    publicUrl: string;
    botLocalpart: string;
    botDisplayName: string;
    ghostPrefix: string;
    registrationPath: string;
  };
  webhooks: {
    publicBaseUrl: string;
    bindAddress: string;
    port: number;
  };
  database: {
    engine: "sqlite";
    path: string;
    credentialKey: string;
  };
  permissions: Record<string, PermissionLevel>;
  logging: {
    level: LogLevel;
    pretty: boolean;
  };
  admin: {
    bindAddress: string;
    port: number;
    token: string | null;
  };
  calls: {
    enabled: boolean;
    ringTimeoutSeconds: number;
    voicemail: {
      enabled: boolean;
      greeting: string;
      maxLengthSeconds: number;
    };
    /**
     * Where outbound calls may go, besides the linked number's own country: country codes
     * ("GB", "DE"); "*" for everywhere. Premium-rate numbers need `allowPremium`.
     */
    allowedCountries: string[];
    allowPremium: boolean;
    /** STUN/TURN servers for the bridge's WebRTC peers (werift falls back to Google's STUN server without one). */
    iceServers: { urls: string | string[]; username?: string; credential?: string }[];
    /** Only loopback ICE candidates (sandbox and tests, where everything runs on one machine). */
    loopbackMediaOnly: boolean;
  };
  providers: {
    twilio: {
      enabled: boolean;
      apiBaseUrl: string | null;
    };
  };
}
