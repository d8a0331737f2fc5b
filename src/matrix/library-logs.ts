import { Writable } from "node:stream";
import { Logger as LibraryLogger } from "matrix-appservice-bridge";
import type { Logger } from "../log.js";

/**
 * matrix-appservice-bridge (10.x) and the bot-sdk under it log through winston, configurable only
 * with winston options. Their JSON lines are fed into a stream that re-logs them through pino, so
 * the bridge writes one log in one format. Only the message, module and error are kept: the
 * libraries' extra arguments can hold event content, which must not reach the log.
 */
export function routeLibraryLogs(log: Logger): void {
  const child = log.child({ component: "matrix-sdk" });
  let pending = "";
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      pending += chunk.toString("utf8");
      let newline: number;
      while ((newline = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        forward(child, line);
      }
      done();
    },
  });
  LibraryLogger.root.configureLogging({ console: "off", json: true }, sink);
}

function forward(log: Logger, line: string): void {
  if (!line.trim()) return;
  let entry: { level?: string; module?: string; message?: string; error?: string };
  try {
    entry = JSON.parse(line) as typeof entry;
  } catch {
    log.debug({ line: line.slice(0, 200) }, "unparsed library log line");
    return;
  }
  // The libraries log every HTTP request at info; for the bridge's log that is debug detail.
  const level = entry.level === "warn" || entry.level === "error" ? entry.level : entry.level === "trace" ? "trace" : "debug";
  log[level]({ module: entry.module, error: entry.error }, entry.message ?? "");
}
