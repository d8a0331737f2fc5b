import { readFileSync } from "node:fs";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";

// ajv-formats is CommonJS with a `default` property; under NodeNext the import is the module object.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/**
 * Validates JSON against the response schemas of Twilio's own OpenAPI description
 * (twilio-oai, api.twilio.com 2010-04-01). OpenAPI 3.0 is turned into JSON Schema first:
 * `nullable: true` becomes a null alternative and every `$ref` points into the spec document,
 * which ajv holds under SPEC_ID. Twilio's custom formats get real checks where they describe strings.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const SPEC_ID = "twilio-api-v2010";
const specPath = new URL("../../fixtures/twilio-oai/twilio_api_v2010.json", import.meta.url);
const spec = JSON.parse(readFileSync(specPath, "utf8")) as JsonObject;

const isObject = (value: Json | undefined): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function toJsonSchema(node: Json): Json {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (!isObject(node)) return node;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "nullable") continue;
    if (key === "$ref" && typeof value === "string" && value.startsWith("#/")) out[key] = `${SPEC_ID}${value}`;
    else out[key] = toJsonSchema(value);
  }
  if (node["nullable"] !== true) return out;
  if (typeof out["type"] === "string") out["type"] = [out["type"], "null"];
  if (Array.isArray(out["enum"])) out["enum"] = [...out["enum"], null];
  if (typeof out["$ref"] === "string") return { anyOf: [{ $ref: out["$ref"] }, { type: "null" }] };
  return out;
}

const WEEKDAY = "(Mon|Tue|Wed|Thu|Fri|Sat|Sun)";
const MONTH = "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)";
const RFC_2822 = new RegExp(
  `^${WEEKDAY}, (0[1-9]|[12]\\d|3[01]) ${MONTH} \\d{4} ([01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d \\+0000$`,
);

function buildAjv(): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv, ["date", "date-time", "uri-reference"]);
  ajv.addFormat("date-time-rfc-2822", (value: string) => RFC_2822.test(value) && !Number.isNaN(Date.parse(value)));
  // Twilio marks relative paging URIs ("/2010-04-01/...?Page=1") as `uri`, so a URI reference
  // is what the format can demand there; absolute webhook URLs satisfy it too.
  ajv.addFormat("uri", addFormats.get("uri-reference"));
  ajv.addFormat("phone-number", /^(\+[1-9]\d{1,14}|\d{3,8}|(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11})$/);
  ajv.addFormat("http-method", /^(GET|POST)$/);
  ajv.addFormat("currency", /^[A-Z]{3}$/);
  ajv.addFormat("iso-country-code", /^[A-Z]{2}$/);
  ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isSafeInteger(n) });
  ajv.addFormat("int32", { type: "number", validate: (n: number) => Number.isInteger(n) && Math.abs(n) < 2 ** 31 });
  // These describe objects or opaque strings that ajv formats cannot express; the schemas'
  // types and properties still apply.
  for (const name of ["uri-map", "phone-number-capabilities", "endpoint", "twiml", "ice-server"]) {
    ajv.addFormat(name, true);
  }
  ajv.addSchema({ $id: SPEC_ID, components: toJsonSchema(spec["components"] ?? {}) });
  return ajv;
}

const ajv = buildAjv();

function dig(node: Json | undefined, path: string[]): Json {
  let current = node;
  for (const key of path) {
    if (!isObject(current)) throw new Error(`no ${path.join(" > ")} in the Twilio spec`);
    current = current[key];
  }
  if (current === undefined) throw new Error(`no ${path.join(" > ")} in the Twilio spec`);
  return current;
}

/** The response schema of one operation, e.g. ("/2010-04-01/Accounts/{Sid}.json", "get", "200"). */
export function operationSchema(path: string, method: "get" | "post", status: string): JsonObject {
  const schema = dig(spec, ["paths", path, method, "responses", status, "content", "application/json", "schema"]);
  if (!isObject(schema)) throw new Error(`schema of ${method} ${path} is not an object`);
  return schema;
}

/** A component schema by name, e.g. "api.v2010.account.message". */
export function componentSchema(name: string): JsonObject {
  const schema = dig(spec, ["components", "schemas", name]);
  if (!isObject(schema)) throw new Error(`component ${name} is not an object`);
  return schema;
}

/** The example responses Twilio ships with an operation, by name. */
export function operationExamples(path: string, method: "get" | "post", status: string): Record<string, Json> {
  const examples = dig(spec, ["paths", path, method, "responses", status, "content", "application/json", "examples"]);
  if (!isObject(examples)) return {};
  return Object.fromEntries(
    Object.entries(examples).map(([name, example]) => [name, isObject(example) ? (example["value"] ?? null) : null]),
  );
}

/** Property names a schema lists, following a top-level `$ref`. */
export function listedProperties(schema: JsonObject): string[] {
  const ref = schema["$ref"];
  if (typeof ref === "string") return listedProperties(componentSchema(ref.replace("#/components/schemas/", "")));
  const properties = schema["properties"];
  return isObject(properties) ? Object.keys(properties) : [];
}

export interface Validation {
  valid: boolean;
  errors: string[];
}

const compiled = new Map<string, ValidateFunction>();

/** Validates `body` against the response schema of the operation. */
export function validateResponse(path: string, method: "get" | "post", status: string, body: unknown): Validation {
  const key = `${method} ${path} ${status}`;
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile(toJsonSchema(operationSchema(path, method, status)) as JsonObject);
    compiled.set(key, validate);
  }
  const valid = validate(body);
  return { valid, errors: (validate.errors ?? []).map(describe) };
}

const describe = (error: ErrorObject): string => `${error.instancePath || "(root)"} ${error.message ?? ""}`;
