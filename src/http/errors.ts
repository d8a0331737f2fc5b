import type { FastifyError, FastifyInstance } from "fastify";
import { isBridgeError, type ErrorCode } from "../errors.js";
import type { Logger } from "../log.js";

/** The one table from error codes to HTTP statuses. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  "webhook-unknown-link": 404,
  "webhook-bad-signature": 403,
  "webhook-malformed": 400,
  "permission-denied": 403,
  "media-invalid": 400,
  "media-too-large": 413,
  "media-not-found": 404,
  "matrix-unavailable": 502,
  "matrix-rejected": 502,
};

/**
 * One error handler for every listener: logs with context, answers with a stable code, and never
 * shows a 5xx's message (it may name internals).
 */
export function installErrorHandler(app: FastifyInstance, log: Logger): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = isBridgeError(err) ? (STATUS[err.code] ?? 500) : (err.statusCode ?? 500);
    const code = isBridgeError(err) ? err.code : (err.code ?? "internal");
    if (status >= 500) log.error({ err, method: request.method, path: request.routeOptions.url }, "request failed");
    else log.info({ code, status, method: request.method, path: request.routeOptions.url }, "request refused");
    return reply.code(status).send({ error: status >= 500 ? "internal error" : err.message, code });
  });
}
