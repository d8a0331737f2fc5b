import { timingSafeEqual, createHash } from "node:crypto";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { ActorNode } from "../actors/tree.js";
import type { Logger } from "../log.js";
import { installErrorHandler } from "./errors.js";
import { DEBUG_PAGE } from "./debug-page.js";

export interface AdminAppDeps {
  /** Bearer token for /debug; null disables the debug endpoints. */
  token: string | null;
  describeActors(): ActorNode;
  log: Logger;
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * The admin listener (loopback by default): /health, and /debug/actors, the live actor tree,
 * behind a bearer token. The page at /debug holds no data itself: it asks for the token and
 * fetches the tree with it.
 */
export async function buildAdminApp(deps: AdminAppDeps): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: deps.log.child({ component: "admin" }) as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }) });
  installErrorHandler(app, deps.log);
  const expected = deps.token ? digest(deps.token) : null;

  const authenticate = async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization ?? "";
    const presented = header.startsWith("Bearer ") ? header.slice(7) : "";
    // Compare digests so the comparison takes the same time whatever the presented length.
    if (!expected || !presented || !timingSafeEqual(digest(presented), expected)) {
      reply.header("www-authenticate", 'Bearer realm="matrix-pstn-bridge debug"');
      return reply.code(401).send({
        error: expected ? "a valid bearer token is required" : "debug endpoints are disabled: set admin.token in the config",
      });
    }
  };

  app.get("/health", async () => ({ status: "ok" }));
  app.get("/debug", async (_request, reply) => reply.type("text/html").send(DEBUG_PAGE));
  app.get("/debug/actors", { onRequest: authenticate }, async () => deps.describeActors());
  return app;
}
