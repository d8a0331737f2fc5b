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
  providers: {
    twilio: {
      enabled: boolean;
      apiBaseUrl: string | null;
    };
  };
}
