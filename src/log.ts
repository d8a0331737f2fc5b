import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger };

/**
 * Paths pino blanks out wherever they appear one or two levels deep. Secrets are also wrapped in
 * `Secret`, which serialises as "[redacted]"; this list is the second belt for plain strings.
 */
const REDACT_PATHS = [
  "authToken",
  "*.authToken",
  "token",
  "*.token",
  "password",
  "*.password",
  "credentials",
  "*.credentials",
  "asToken",
  "hsToken",
  "*.asToken",
  "*.hsToken",
  "req.headers.authorization",
  'req.headers["x-twilio-signature"]',
  "body",
  "*.body",
];

export interface LogOptions {
  level: LevelWithSilent;
  pretty: boolean;
}

export function createLogger(options: LogOptions): Logger {
  return pino({
    level: options.level,
    base: { name: "matrix-pstn-bridge" },
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    ...(options.pretty
      ? { transport: { target: "pino-pretty", options: { colorize: true, translateTime: "SYS:HH:MM:ss.l" } } }
      : {}),
  });
}

/** A logger that drops everything, for tests that don't look at logs. */
export const silentLogger: Logger = pino({ level: "silent" });
