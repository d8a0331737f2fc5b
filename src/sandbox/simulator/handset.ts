import { SimulatorError } from "./twilio/errors.js";
import { isAddress, type Carrier } from "./twilio/carrier.js";
import type { Handset, HandsetMessage, MediaAttachment, SendSmsResult } from "./types.js";

/** A phone outside Twilio: it texts simulated Twilio numbers and receives what they send it. */
export class SimHandset implements Handset {
  readonly number: string;
  readonly #carrier: Carrier;

  constructor(number: string, carrier: Carrier) {
    if (!isAddress(number)) {
      throw new SimulatorError("sim-invalid-number", `not an E.164 number, short code or sender id: ${number}`);
    }
    this.number = number;
    this.#carrier = carrier;
  }

  sendSms(to: string, body: string, options: { media?: MediaAttachment[] } = {}): Promise<SendSmsResult> {
    return this.#carrier.receive(this.number, to, body, options.media ?? []);
  }

  inbox(): HandsetMessage[] {
    return this.#carrier.inbox(this.number);
  }

  waitForMessage(
    predicate: (message: HandsetMessage) => boolean = () => true,
    options: { timeoutMs?: number } = {},
  ): Promise<HandsetMessage> {
    const existing = this.inbox().find(predicate);
    if (existing) return Promise.resolve(existing);
    const timeoutMs = options.timeoutMs ?? 5000;
    const clock = this.#carrier.clock;
    return new Promise((resolve, reject) => {
      const settle = (finish: () => void): void => {
        unsubscribe();
        clock.clearTimeout(timer);
        finish();
      };
      const unsubscribe = this.#carrier.onHandsetMessage((message) => {
        if (message.to !== this.number) return;
        try {
          if (predicate(message)) settle(() => resolve(message));
        } catch (err) {
          settle(() => reject(err));
        }
      });
      const timer = clock.setTimeout(() => {
        const message = `${this.number} received no matching message in ${timeoutMs} ms`;
        settle(() => reject(new SimulatorError("sim-wait-timeout", message)));
      }, timeoutMs);
    });
  }
}
