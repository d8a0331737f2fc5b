import websocket from "@fastify/websocket";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Logger } from "../log.js";
import type { ProviderRegistry } from "../providers/registry.js";
import type { WebhookContext } from "../providers/types.js";
import { installErrorHandler } from "./errors.js";

export interface WebhookAppDeps extends Omit<WebhookContext, "log"> {
  providers: ProviderRegistry;
  log: Logger;
}

/**
 * The public listener: provider webhooks under /webhooks/<provider>/ (each provider's routes in
 * their own encapsulated plugin) and /health. Built separately from `listen` so tests can
 * `inject` requests without a port.
 */
export async function buildWebhookApp(deps: WebhookAppDeps): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: deps.log as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }), return503OnClosing: true });
  installErrorHandler(app, deps.log);
  // Media streams (call audio) arrive as websockets on the providers' webhook paths.
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  app.get("/health", async () => ({ status: "ok" }));
  for (const connector of deps.providers.list()) {
    const context: WebhookContext = {
      publicBaseUrl: deps.publicBaseUrl,
      accountOf: deps.accountOf,
      deliver: deps.deliver,
      incomingCall: deps.incomingCall,
      outboundAnswered: deps.outboundAnswered,
      afterStream: deps.afterStream,
      mediaStream: deps.mediaStream,
      log: deps.log.child({ provider: connector.kind }),
    };
    await app.register(connector.webhooks, { prefix: `/webhooks/${connector.kind}`, ...context });
  }
  return app;
}
