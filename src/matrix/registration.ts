import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { load as loadYaml } from "js-yaml";
import { AppServiceRegistration } from "matrix-appservice-bridge";
import type { Config } from "../config/types.js";
import { BridgeError } from "../errors.js";

/** The third-party protocols Element's dial pad looks for (MSC2845). */
export const PSTN_PROTOCOLS = ["im.vector.protocol.pstn", "m.protocol.pstn"];

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

interface StoredRegistration {
  as_token?: string;
  hs_token?: string;
}

/**
 * Builds the appservice registration. Tokens of an existing file are kept, so re-running `-r`
 * after a config change doesn't break a homeserver that already loaded the old file.
 */
export function buildRegistration(config: Config, existing: StoredRegistration | null): AppServiceRegistration {
  const { appservice, homeserver } = config;
  const registration = new AppServiceRegistration(appservice.publicUrl);
  registration.setId(appservice.id);
  registration.setHomeserverToken(existing?.hs_token ?? AppServiceRegistration.generateToken());
  registration.setAppServiceToken(existing?.as_token ?? AppServiceRegistration.generateToken());
  registration.setSenderLocalpart(appservice.botLocalpart);
  registration.setRateLimited(false);
  registration.setProtocols(PSTN_PROTOCOLS);
  const domain = escapeRegex(homeserver.domain);
  registration.addRegexPattern("users", `@${escapeRegex(appservice.ghostPrefix)}.*:${domain}`, true);
  if (!appservice.botLocalpart.startsWith(appservice.ghostPrefix)) {
    registration.addRegexPattern("users", `@${escapeRegex(appservice.botLocalpart)}:${domain}`, true);
  }
  return registration;
}

export function readRegistrationFile(path: string): StoredRegistration | null {
  if (!existsSync(path)) return null;
  const parsed = loadYaml(readFileSync(path, "utf8"));
  return typeof parsed === "object" && parsed !== null ? (parsed as StoredRegistration) : null;
}

export function writeRegistration(config: Config, path: string): { keptTokens: boolean } {
  const existing = readRegistrationFile(path);
  mkdirSync(dirname(path), { recursive: true });
  buildRegistration(config, existing).outputAsYaml(path);
  return { keptTokens: existing?.as_token !== undefined };
}

/** Loads the registration the bridge runs with; it must exist (made with -r) and carry both tokens. */
export function loadRegistration(config: Config, path: string): AppServiceRegistration {
  const stored = readRegistrationFile(path);
  if (!stored?.as_token || !stored.hs_token) {
    throw new BridgeError(
      "config-invalid",
      `no usable registration at ${path}: generate it with -r and add it to the homeserver's app_service_config_files`,
    );
  }
  return buildRegistration(config, stored);
}
