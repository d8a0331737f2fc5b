import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadConfig, parseConfig } from "../../src/config/load.js";

const minimal = {
  homeserver: { url: "http://127.0.0.1:8008", domain: "example.org" },
  appservice: { publicUrl: "http://127.0.0.1:29333" },
  webhooks: { publicBaseUrl: "https://pstn.example.org/" },
  permissions: { "example.org": "user" },
};

const withChange = (path: string[], value: unknown) => {
  const copy = structuredClone(minimal) as Record<string, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
  node[path.at(-1)!] = value;
  return copy;
};

describe("config", () => {
  it("config.example.json passes validation as it stands", () => {
    const config = loadConfig("config.example.json");
    expect(config.homeserver.domain).toBe("example.org");
    expect(JSON.parse(readFileSync("config.example.json", "utf8")).admin.token).toBeNull();
  });

  it("fills defaults and resolves paths against the config's folder", () => {
    const config = parseConfig(minimal, "/srv/bridge");
    expect(config.appservice).toMatchObject({ port: 29333, bindAddress: "127.0.0.1", botLocalpart: "_pstn_", registrationPath: "/srv/bridge/registration.yaml" });
    expect(config.database).toEqual({ engine: "sqlite", path: "/srv/bridge/data/bridge.db", credentialKey: "env:PSTN_BRIDGE_CREDENTIAL_KEY" });
    expect(config.admin).toEqual({ bindAddress: "127.0.0.1", port: 29335, token: null });
    expect(config.webhooks.publicBaseUrl).toBe("https://pstn.example.org");
    expect(config.providers.twilio).toEqual({ enabled: true, apiBaseUrl: null });
  });

  it.each([
    [["homeserver", "url"], "not a url", "homeserver.url must be a URL"],
    [["homeserver", "url"], "ftp://example.org", "homeserver.url must be an http:// or https:// URL"],
    [["homeserver", "domain"], "bad domain!", "homeserver.domain must be a server name"],
    [["appservice", "port"], "29333", "appservice.port must be a whole number"],
    [["appservice", "port"], 70000, "appservice.port must be at most 65535"],
    [["appservice", "publicUrl"], "http://0.0.0.0:29333", "appservice.publicUrl must be an address the homeserver can reach"],
    [["appservice", "botLocalpart"], "Bot", "appservice.botLocalpart must be a lowercase localpart starting with '_'"],
    [["webhooks", "publicBaseUrl"], "https://x.example/?a=1", "webhooks.publicBaseUrl must not carry a query string"],
    [["database", "credentialKey"], "short", "database.credentialKey must be env:NAME, file:PATH or a key of at least 32 characters"],
    [["permissions", "example.org"], "root", 'permissions.example.org must be one of "none", "user", "admin"'],
    [["permissions", "not a key"], "user", `permissions["not a key"] is not a user id`],
    [["logging", "level"], "loud", "logging.level must be one of"],
    [["admin", "token"], "short", "admin.token must be at least 16 characters long"],
    [["providers", "twilio", "apiBaseUrl"], "nope", "providers.twilio.apiBaseUrl must be a URL"],
    [["calls", "iceServers"], [{ urls: "https://turn.example.org" }], "calls.iceServers.0.urls must be a stun:, turn: or turns: URL, or a list of them"],
    [["calls", "iceServers"], [{ urls: ["stun:stun.example.org", "turn.example.org"] }], "calls.iceServers.0.urls.1 must be a stun:, turn: or turns: URL"],
    [["calls", "iceServers"], [{ urls: 3478 }], "calls.iceServers.0.urls must be a string or a list"],
    [["surprise"], true, "surprise is not a known setting"],
  ])("refuses %j = %j, naming the key", (path, value, message) => {
    expect(() => parseConfig(withChange(path as string[], value), "/srv")).toThrow(message);
  });

  it("names every missing section", () => {
    expect(() => parseConfig({}, "/srv")).toThrow(/homeserver is required.*appservice is required.*webhooks is required.*permissions is required/);
  });

  it("reports a file that isn't JSON with its name", () => {
    expect(() => loadConfig("README.md")).toThrow(/README.md is not valid JSON/);
  });
});
