#!/usr/bin/env node
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "./config/load.js";
import { isBridgeError, userMessageOf } from "./errors.js";
import { runBridge } from "./main.js";
import { writeRegistration } from "./matrix/registration.js";

const HELP = `matrix-pstn-bridge: a Matrix bridge for phone numbers (SMS, MMS, calls)

Usage:
  node build/index.js -c config.json -r [-f registration.yaml]
      Write the appservice registration file and exit. Add that file to your homeserver's
      app_service_config_files (Synapse) and restart the homeserver. Re-running keeps the tokens
      of an existing file.
  node build/index.js -c config.json [-f registration.yaml]
      Run the bridge.

Options:
  -c, --config FILE                  the bridge's config (JSON); see config.example.json
  -r, --generate-registration        write the registration instead of running
  -f, --file FILE                    the registration file (default: appservice.registrationPath)
  -h, --help                         show this help

Environment:
  PSTN_BRIDGE_CREDENTIAL_KEY         the key that encrypts provider credentials, when the config's
                                     database.credentialKey is "env:PSTN_BRIDGE_CREDENTIAL_KEY"
`;

function fail(message: string): never {
  process.stderr.write(`matrix-pstn-bridge: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      options: {
        config: { type: "string", short: "c", default: "config.json" },
        "generate-registration": { type: "boolean", short: "r", default: false },
        file: { type: "string", short: "f" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    fail(`${(err as Error).message}\n\n${HELP}`);
  }
  if (args.help) {
    process.stdout.write(HELP);
    return;
  }
  let config;
  try {
    config = loadConfig(args.config);
  } catch (err) {
    fail(`invalid config: ${(err as Error).message}`);
  }
  const registrationPath = args.file ? resolve(args.file) : config.appservice.registrationPath;

  if (args["generate-registration"]) {
    const { keptTokens } = writeRegistration(config, registrationPath);
    process.stdout.write(
      `Wrote ${registrationPath}${keptTokens ? " (kept the existing tokens)" : ""}. Add it to your homeserver's app_service_config_files and restart the homeserver.\n`,
    );
    return;
  }

  let bridge;
  try {
    bridge = await runBridge(config, registrationPath);
  } catch (err) {
    fail(isBridgeError(err) ? `${err.message}${err.userMessage ? ` (${userMessageOf(err)})` : ""}` : `could not start: ${(err as Error).stack ?? String(err)}`);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    bridge.log.info({ signal }, "stopping");
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    void bridge.close().then(
      () => process.exit(0),
      (err) => {
        bridge.log.error({ err }, "error while stopping");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("unhandledRejection", (err) => bridge.log.error({ err }, "unhandled promise rejection"));
}

void main();
