import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { Ajv, type ErrorObject } from "ajv";
import addFormatsModule from "ajv-formats";
import { BridgeError } from "../errors.js";
import { configSchema } from "./schema.js";
import type { Config } from "./types.js";

// ajv-formats ships CommonJS with a default export; under NodeNext it arrives wrapped.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/** A config problem, naming the offending key the way the user wrote it (`homeserver.url`). */
export class ConfigError extends BridgeError {
  readonly path: string;
  constructor(path: string, problem: string, more: string[] = []) {
    super("config-invalid", [path ? `${path} ${problem}` : problem, ...more].join("; "), { context: { path } });
    this.path = path;
  }
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true, verbose: true });
addFormats(ajv, ["uri"]);
// `hint` is how the schema phrases a pattern failure for people; it has no validation effect.
ajv.addKeyword({ keyword: "hint", schemaType: "string" });
const validate = ajv.compile(configSchema);

function keyOf(error: ErrorObject): string {
  const base = error.instancePath.split("/").filter(Boolean).join(".");
  if (error.propertyName !== undefined) return `${base}["${error.propertyName}"]`;
  const params = error.params as Record<string, unknown>;
  const child = (params.missingProperty ?? params.additionalProperty ?? params.propertyName) as string | undefined;
  return child ? (base ? `${base}.${child}` : child) : base;
}

function problemOf(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "required":
      return "is required";
    case "additionalProperties":
      return "is not a known setting";
    case "format":
      return params.format === "uri" ? "must be a URL" : `must be a ${String(params.format)}`;
    case "pattern": {
      const schema = (error.parentSchema ?? {}) as { hint?: string; format?: string };
      if (error.propertyName !== undefined) return "is not a user id (@user:server), a server name or '*'";
      if (schema.format === "uri") return "must be an http:// or https:// URL";
      return schema.hint ?? "has an invalid value (see config.example.json)";
    }
    case "type": {
      const types = String(params.type).split(",");
      return `must be ${types.map((t) => (t === "integer" ? "a whole number" : t === "array" ? "a list" : `a ${t}`)).join(" or ")}`;
    }
    case "enum":
      return `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    case "minimum":
    case "maximum":
      return `must be ${error.keyword === "minimum" ? "at least" : "at most"} ${String(params.limit)}`;
    case "minLength":
      return `must be at least ${String(params.limit)} characters long`;
    default:
      return error.message ?? "is invalid";
  }
}

/** Validates a parsed config, filling defaults in place; throws ConfigError naming the first bad key. */
export function parseConfig(raw: unknown, baseDir: string): Config {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ConfigError("", "the config must be a JSON object");
  }
  const config = structuredClone(raw);
  if (!validate(config)) {
    // Every problem is reported, one line each; where ajv reports one value twice (a URL that is
    // neither a URL nor http(s)), the most telling message wins.
    // A bad permission key is reported twice (by its pattern and by propertyNames); keep the first.
    const rank = (e: ErrorObject) => (e.keyword === "pattern" ? 1 : 0);
    const errors = (validate.errors ?? []).filter((e) => e.keyword !== "propertyNames").sort((a, b) => rank(a) - rank(b));
    const problems = new Map<string, string>();
    // Wrong values before missing keys: a typo in a value is the likelier thing to fix first.
    errors.sort((a, b) => Number(a.keyword === "required") - Number(b.keyword === "required"));
    for (const error of errors) {
      const key = keyOf(error);
      if (!problems.has(key)) problems.set(key, problemOf(error));
    }
    const [first, ...others] = [...problems.entries()];
    if (!first) throw new ConfigError("", "is invalid");
    throw new ConfigError(first[0], first[1], others.map(([key, problem]) => `${key} ${problem}`));
  }
  checkSemantics(config);
  return resolvePaths(config, baseDir);
}

function checkSemantics(config: Config): void {
  const publicHost = new URL(config.appservice.publicUrl).hostname;
  if (["0.0.0.0", "[::]", "::"].includes(publicHost)) {
    throw new ConfigError(
      "appservice.publicUrl",
      "must be an address the homeserver can reach, not a bind-all address like 0.0.0.0",
    );
  }
  if (new URL(config.webhooks.publicBaseUrl).search) {
    throw new ConfigError("webhooks.publicBaseUrl", "must not carry a query string");
  }
  if (config.appservice.botLocalpart.startsWith(config.appservice.ghostPrefix) &&
      config.appservice.botLocalpart !== config.appservice.ghostPrefix &&
      /^\d+$/.test(config.appservice.botLocalpart.slice(config.appservice.ghostPrefix.length))) {
    throw new ConfigError("appservice.botLocalpart", "must not look like a phone-number ghost");
  }
}

function resolvePaths(config: Config, baseDir: string): Config {
  const at = (p: string) => (p === ":memory:" || isAbsolute(p) ? p : resolve(baseDir, p));
  config.database.path = at(config.database.path);
  config.appservice.registrationPath = at(config.appservice.registrationPath);
  if (config.database.credentialKey.startsWith("file:")) {
    config.database.credentialKey = `file:${at(config.database.credentialKey.slice(5))}`;
  }
  config.webhooks.publicBaseUrl = config.webhooks.publicBaseUrl.replace(/\/+$/, "");
  return config;
}

/** Reads and validates a config file. Paths inside it are relative to the file. */
export function loadConfig(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError("", `cannot read the config file ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError("", `${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parseConfig(raw, dirname(resolve(path)));
}
