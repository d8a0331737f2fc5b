/**
 * The carrier simulator (a local fake Twilio) with a timing hook: every Messages.json create is
 * timestamped (performance.now()) when its request arrives, and reported with its body once
 * parsed, so outbound latency ends where the provider first sees the text.
 */
import { performance } from "node:perf_hooks";
import { buildSimulatorApp, type SimulatorApp } from "../../src/sandbox/simulator/index.js";

export type CreateListener = (body: string, to: string, arrivedAt: number) => void;

export interface TimedSimulator {
  sim: SimulatorApp;
  url: string;
  onCreate(listener: CreateListener): () => void;
  close(): Promise<void>;
}

declare module "fastify" {
  interface FastifyRequest {
    benchArrivedAt?: number;
  }
}

export async function startTimedSimulator(options: { statusDelayMs: number }): Promise<TimedSimulator> {
  const sim = buildSimulatorApp({ statusDelayMs: options.statusDelayMs });
  const listeners = new Set<CreateListener>();
  const isCreate = (method: string, url: string) => method === "POST" && /\/Messages\.json(\?|$)/.test(url);
  sim.app.addHook("onRequest", async (request) => {
    if (isCreate(request.method, request.url)) request.benchArrivedAt = performance.now();
  });
  sim.app.addHook("preHandler", async (request) => {
    if (request.benchArrivedAt === undefined) return;
    const body = (request.body ?? {}) as Record<string, unknown>;
    const text = typeof body.Body === "string" ? body.Body : "";
    const to = typeof body.To === "string" ? body.To : "";
    for (const listener of listeners) listener(text, to, request.benchArrivedAt);
  });
  await sim.app.listen({ host: "127.0.0.1", port: 0 });
  const address = sim.app.server.address();
  if (!address || typeof address === "string") throw new Error("simulator has no TCP address");
  const url = `http://127.0.0.1:${address.port}`;
  sim.setPublicUrl(url);
  return {
    sim,
    url,
    onCreate: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: () => sim.close(),
  };
}
