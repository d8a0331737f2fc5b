import type { JSONSchemaType } from "ajv";
import type { Config, PermissionLevel } from "./types.js";

const url = (description: string) => ({ type: "string", format: "uri", pattern: "^https?://", description }) as const;
const port = (fallback: number, description: string) =>
  ({ type: "integer", minimum: 0, maximum: 65535, default: fallback, description }) as const;
const host = (description: string) =>
  ({ type: "string", minLength: 1, default: "127.0.0.1", description }) as const;

/**
 * The one schema the config is validated against at start-up. Defaults live here too, so a
 * minimal config only needs the homeserver, the public URLs and the permissions.
 */
export const configSchema: JSONSchemaType<Config> = {
  type: "object",
  additionalProperties: false,
  required: ["homeserver", "appservice", "webhooks", "permissions"],
  properties: {
    homeserver: {
      type: "object",
      additionalProperties: false,
      required: ["url", "domain"],
      description: "The Matrix homeserver the bridge serves.",
      properties: {
        url: url("Client-server API base URL the bridge uses to reach the homeserver."),
        domain: {
          type: "string",
          pattern: "^[A-Za-z0-9.-]+(:[0-9]+)?$",
          hint: "must be a server name such as example.org",
          description: "The homeserver's server name, the part after ':' in user ids.",
        },
      },
    },
    appservice: {
      type: "object",
      additionalProperties: false,
      required: ["publicUrl"],
      description: "The appservice listener the homeserver sends transactions to.",
      properties: {
        id: { type: "string", minLength: 1, default: "matrix-pstn-bridge", description: "Appservice id in the registration." },
        bindAddress: host("Address the appservice listener binds to."),
        port: port(29333, "Port of the appservice listener."),
        publicUrl: url(
          "The address the homeserver uses to reach the appservice listener; written as `url` in the registration. Never a bind address like 0.0.0.0.",
        ),
        botLocalpart: {
          type: "string",
          pattern: "^_[a-z0-9._=/-]+$",
          hint: "must be a lowercase localpart starting with '_'",
          default: "_pstn_",
          description: "Localpart of the bridge bot. It must start with '_' and fall inside the ghost namespace.",
        },
        botDisplayName: { type: "string", default: "Phone bridge", description: "Display name of the bridge bot." },
        ghostPrefix: {
          type: "string",
          pattern: "^_[a-z0-9._=/-]+$",
          hint: "must be a lowercase localpart prefix starting with '_'",
          default: "_pstn_",
          description: "Localpart prefix of phone-number ghosts; the registration claims it exclusively.",
        },
        registrationPath: {
          type: "string",
          minLength: 1,
          default: "registration.yaml",
          description: "Where the registration file is written by -r and read at start-up (relative to the config file).",
        },
      },
    },
    webhooks: {
      type: "object",
      additionalProperties: false,
      required: ["publicBaseUrl"],
      description: "The HTTP listener for provider webhooks and media streams.",
      properties: {
        publicBaseUrl: url(
          "The public base URL providers call (your reverse proxy). Webhook signatures are checked against it.",
        ),
        bindAddress: host("Address the webhook listener binds to."),
        port: port(29334, "Port of the webhook listener."),
      },
    },
    database: {
      type: "object",
      additionalProperties: false,
      default: {},
      description: "Where the bridge keeps its state.",
      properties: {
        engine: { type: "string", enum: ["sqlite"], default: "sqlite", description: "Database engine." },
        path: {
          type: "string",
          minLength: 1,
          default: "data/bridge.db",
          description: "SQLite file (relative to the config file), or ':memory:'.",
        },
        credentialKey: {
          type: "string",
          pattern: "^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+|.{32,})$",
          hint: "must be env:NAME, file:PATH or a key of at least 32 characters",
          default: "env:PSTN_BRIDGE_CREDENTIAL_KEY",
          description:
            "Key that encrypts provider credentials at rest: 'env:NAME' (an environment variable), 'file:PATH' (a file, created with a random key if missing), or the key itself (32+ characters).",
        },
      },
    },
    permissions: {
      type: "object",
      description:
        "Who may use the bridge: keys are a user id (@alice:example.org), a server name (example.org) or '*'; values are none, user or admin. The most specific key wins.",
      required: [],
      additionalProperties: { type: "string", enum: ["none", "user", "admin"] } as JSONSchemaType<PermissionLevel>,
      propertyNames: { type: "string", pattern: "^(\\*|@[^:]+:.+|[A-Za-z0-9.-]+(:[0-9]+)?)$" },
    },
    logging: {
      type: "object",
      additionalProperties: false,
      default: {},
      description: "Logging.",
      properties: {
        level: {
          type: "string",
          enum: ["trace", "debug", "info", "warn", "error", "fatal", "silent"],
          default: "info",
          description: "Minimum level written.",
        },
        pretty: { type: "boolean", default: false, description: "Human-readable lines instead of JSON." },
      },
    },
    admin: {
      type: "object",
      additionalProperties: false,
      default: {},
      description: "The admin listener: /debug/actors, /health. Keep it on loopback.",
      properties: {
        bindAddress: host("Address the admin listener binds to (loopback by default)."),
        port: port(29335, "Port of the admin listener."),
        token: {
          type: "string",
          minLength: 16,
          nullable: true,
          default: null,
          description: "Bearer token for /debug endpoints (16+ characters); null disables them.",
        },
      },
    },
    calls: {
      type: "object",
      additionalProperties: false,
      default: {},
      description: "Phone calls between Matrix (Element's calls) and the phone network.",
      properties: {
        enabled: { type: "boolean", default: true, description: "Bridge calls; when false, callers hear a message asking them to text." },
        ringTimeoutSeconds: {
          type: "integer",
          minimum: 5,
          maximum: 120,
          default: 30,
          description: "How long Matrix users' clients ring before the caller goes to voicemail.",
        },
        voicemail: {
          type: "object",
          additionalProperties: false,
          default: {},
          properties: {
            enabled: { type: "boolean", default: true, description: "Take a message when nobody answers." },
            greeting: {
              type: "string",
              minLength: 1,
              maxLength: 400,
              default: "Nobody can take your call right now. Please leave a message after the tone.",
              description: "What the caller hears before recording.",
            },
            maxLengthSeconds: { type: "integer", minimum: 5, maximum: 600, default: 120, description: "Longest message recorded." },
          },
        },
        allowedCountries: {
          type: "array",
          items: { type: "string", pattern: "^([A-Z]{2}|\\*)$" },
          default: [],
          hint: "must list two-letter country codes such as GB, or *",
          description:
            "Countries outbound calls may reach besides the linked number's own (toll-fraud protection): ISO codes like \"GB\", or \"*\" for all.",
        },
        allowPremium: { type: "boolean", default: false, description: "Allow calls to premium-rate numbers." },
        iceServers: {
          type: "array",
          default: [],
          description:
            "STUN/TURN servers for the bridge's side of Matrix calls, as in RTCPeerConnection. With none, werift (the bridge's WebRTC stack) asks stun.l.google.com:19302 for the bridge's public address.",
          items: {
            type: "object",
            additionalProperties: false,
            required: ["urls"],
            properties: {
              urls: {
                type: ["string", "array"],
                pattern: "^(stun|turns?):",
                minItems: 1,
                items: { type: "string", pattern: "^(stun|turns?):", hint: "must be a stun:, turn: or turns: URL" },
                hint: "must be a stun:, turn: or turns: URL, or a list of them",
              },
              username: { type: "string" },
              credential: { type: "string" },
            },
          },
        },
        loopbackMediaOnly: {
          type: "boolean",
          default: false,
          description: "Offer and accept only 127.0.0.1 ICE candidates (for the sandbox and tests on one machine).",
        },
      },
    },
    providers: {
      type: "object",
      additionalProperties: false,
      default: {},
      description: "Per-provider settings.",
      properties: {
        twilio: {
          type: "object",
          additionalProperties: false,
          default: {},
          properties: {
            enabled: { type: "boolean", default: true, description: "Offer Twilio in `link`." },
            apiBaseUrl: {
              type: "string",
              format: "uri",
              pattern: "^https?://",
              nullable: true,
              default: null,
              description: "Override of https://api.twilio.com, e.g. the carrier simulator in the sandbox and tests.",
            },
          },
        },
      },
    },
  },
} as unknown as JSONSchemaType<Config>;

