import websocket from "@fastify/websocket";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { systemClock } from "../../clock.js";
import { controlApi } from "./control-api.js";
import { faultControl, twilioControl } from "./controls.js";
import { SimHandset } from "./handset.js";
import { PHONE_PAGE_HTML } from "./phone-page.js";
import { Carrier } from "./twilio/carrier.js";
import { twilioRest } from "./twilio/rest.js";
import type { CarrierSimulator, SimulatorApp, SimulatorAppOptions, SimulatorOptions } from "./types.js";

export type * from "./types.js";
export { SimulatorError, type SimulatorErrorCode } from "./twilio/errors.js";
/** What Twilio's side sounds like: `<Say>` syllable pitches, the `<Record>` beep, key timing. */
export {
  BEEP_FREQUENCY,
  BEEP_MS,
  KEY_GAP_MS,
  KEY_TONE_MS,
  SAY_FREQUENCIES,
  SAY_MS_PER_CHARACTER,
} from "./twilio/voice/audio.js";

const DEFAULT_PUBLIC_URL = "http://127.0.0.1";

/**
 * Builds the simulator without listening: the fastify app (Twilio REST under `/2010-04-01`,
 * control API under `/_sim/api`, the phone page at `/phone`) and the handles that drive it.
 * Calls' Media Streams go out from the simulator as websocket clients; the app itself only
 * serves the phone page's audio socket.
 */
export function buildSimulatorApp(options: SimulatorAppOptions = {}): SimulatorApp {
  const logger = options.logger?.child({ component: "carrier-simulator" });
  const carrier = new Carrier({
    clock: options.clock ?? systemClock,
    logger,
    statusDelayMs: options.statusDelayMs ?? 50,
    publicUrl: trimSlash(options.publicUrl ?? DEFAULT_PUBLIC_URL),
  });
  // Fastify's instance type is generic over the logger; widen to its base logger type.
  const loggerInstance: FastifyBaseLogger | undefined = logger;
  const app: FastifyInstance = Fastify({
    ...(loggerInstance ? { loggerInstance } : { logger: false }),
    // Per-request info lines would drown the simulator's own; it logs what matters itself.
    logController: new LogController({ disableRequestLogging: true }),
    // Clients keep connections alive (twilio-node does); closing must not wait for them.
    forceCloseConnections: true,
  });

  // Websocket routes (the phone page's audio) need the plugin registered before them.
  void app.register(websocket);
  void app.register(twilioRest, { prefix: "/2010-04-01", carrier });
  void app.register(controlApi, { prefix: "/_sim/api", carrier });
  app.get("/phone", async (_request, reply) => reply.type("text/html; charset=utf-8").send(PHONE_PAGE_HTML));
  app.get("/", async (_request, reply) => reply.redirect("/phone"));

  return {
    app,
    twilio: twilioControl(carrier),
    faults: faultControl(carrier),
    handset: (number) => new SimHandset(number, carrier),
    setPublicUrl: (url) => {
      carrier.publicUrl = trimSlash(url);
    },
    close: async () => {
      carrier.close();
      await app.close();
    },
  };
}

/** Starts the simulator on loopback (127.0.0.1, a free port unless told otherwise). */
export async function startCarrierSimulator(options: SimulatorOptions = {}): Promise<CarrierSimulator> {
  const sim = buildSimulatorApp(options);
  const host = options.host ?? "127.0.0.1";
  await sim.app.listen({ host, port: options.port ?? 0 });
  const address = sim.app.server.address();
  if (address === null || typeof address === "string") {
    await sim.close();
    throw new Error("the carrier simulator is not listening on a TCP port");
  }
  const urlHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = trimSlash(options.publicUrl ?? `http://${urlHost}:${address.port}`);
  sim.setPublicUrl(url);
  return {
    url,
    app: sim.app,
    twilio: sim.twilio,
    faults: sim.faults,
    handset: sim.handset,
    close: sim.close,
  };
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, "");
}
