/**
 * Failure the simulator injects on request: REST errors and latency, outbound messages that end
 * badly or are refused, Messages.json creates that never answer until released, and calls that
 * end busy, unanswered or failed, or are answered late.
 */

export interface RestFault {
  /** HTTP status to answer with, e.g. 503 or 429. */
  status: number;
  /** Twilio error code in the body, e.g. 20503 or 20429. */
  code: number;
  message?: string;
  /** How many matching requests fail; default 1. `Infinity` keeps failing until `clear()`. */
  times?: number;
  /** Only requests with this HTTP method (case-insensitive). */
  method?: string;
  /** Only requests whose path contains this string, e.g. "Messages.json". */
  pathIncludes?: string;
}

export type DeliveryFaultMode = "undelivered" | "failed" | "reject";

export interface DeliveryFault {
  /** Twilio error code: 30003 unreachable, 30005 unknown destination, 30006 landline, 21610 opted out... */
  errorCode: number;
  /**
   * `undelivered`: queued → sent → undelivered. `failed`: queued → failed. `reject`: the create
   * request itself fails with HTTP 400 and this code (real Twilio does this for 21610).
   */
  mode: DeliveryFaultMode;
  /** How many messages to the number are affected; default 1. */
  times?: number;
}

/** How the next calls to a number end instead of being answered. */
export type CallFaultOutcome = "busy" | "no-answer" | "failed";

export interface CallFault {
  outcome: CallFaultOutcome;
  /** How many calls to the number are affected; default 1. */
  times?: number;
}

interface Armed<T> {
  fault: T;
  remaining: number;
}

export class FaultState {
  #rest: Array<Armed<RestFault>> = [];
  #delivery = new Map<string, Armed<DeliveryFault>>();
  #holds = new Map<string, Array<() => void>>();
  #responseHolds = new Map<string, Array<() => void>>();
  #calls = new Map<string, Armed<CallFault>>();
  #answerDelays = new Map<string, Armed<number>>();
  latencyMs = 0;

  failRest(fault: RestFault): void {
    this.#rest.push({ fault, remaining: fault.times ?? 1 });
  }

  /** The fault this request should fail with, consuming one use of it. */
  takeRestFault(method: string, path: string): RestFault | undefined {
    const armed = this.#rest.find(
      ({ fault }) =>
        (fault.method === undefined || fault.method.toUpperCase() === method.toUpperCase()) &&
        (fault.pathIncludes === undefined || path.includes(fault.pathIncludes)),
    );
    if (!armed) return undefined;
    armed.remaining -= 1;
    if (armed.remaining <= 0) this.#rest = this.#rest.filter((a) => a !== armed);
    return armed.fault;
  }

  failMessagesTo(number: string, fault: DeliveryFault): void {
    this.#delivery.set(number, { fault, remaining: fault.times ?? 1 });
  }

  takeDeliveryFault(number: string): DeliveryFault | undefined {
    const armed = this.#delivery.get(number);
    if (!armed) return undefined;
    armed.remaining -= 1;
    if (armed.remaining <= 0) this.#delivery.delete(number);
    return armed.fault;
  }

  failCallsTo(number: string, fault: CallFault): void {
    this.#calls.set(number, { fault, remaining: fault.times ?? 1 });
  }

  takeCallFault(number: string): CallFault | undefined {
    return take(this.#calls, number);
  }

  delayAnswerTo(number: string, ms: number, times = 1): void {
    this.#answerDelays.set(number, { fault: Math.max(0, ms), remaining: times });
  }

  /** Extra milliseconds before a call to `number` is answered (0 when none is armed). */
  takeAnswerDelay(number: string): number {
    return take(this.#answerDelays, number) ?? 0;
  }

  /** Holds every Messages.json create to `number` until the returned function is called. */
  hold(number: string): () => void {
    const waiters = this.#holds.get(number) ?? [];
    this.#holds.set(number, waiters);
    return () => {
      if (this.#holds.get(number) !== waiters) return;
      this.#holds.delete(number);
      for (const wake of waiters) wake();
    };
  }

  /** Resolves at once unless creates to `number` are held, else when they are released. */
  async waitWhileHeld(number: string): Promise<void> {
    const waiters = this.#holds.get(number);
    if (!waiters) return;
    await new Promise<void>((resolve) => waiters.push(resolve));
  }

  /**
   * Lets Messages.json creates to `number` happen (the message is created and delivered) but holds
   * their HTTP responses until released: the window in which a client has sent a text but not yet
   * heard its sid.
   */
  holdResponses(number: string): () => void {
    const waiters = this.#responseHolds.get(number) ?? [];
    this.#responseHolds.set(number, waiters);
    return () => {
      if (this.#responseHolds.get(number) !== waiters) return;
      this.#responseHolds.delete(number);
      for (const wake of waiters) wake();
    };
  }

  async waitWhileResponseHeld(number: string): Promise<void> {
    const waiters = this.#responseHolds.get(number);
    if (!waiters) return;
    await new Promise<void>((resolve) => waiters.push(resolve));
  }

  heldCount(number: string): number {
    return this.#holds.get(number)?.length ?? 0;
  }

  clear(): void {
    this.#rest = [];
    this.#delivery.clear();
    this.#calls.clear();
    this.#answerDelays.clear();
    this.latencyMs = 0;
    const holds = [...this.#holds.values(), ...this.#responseHolds.values()];
    this.#holds.clear();
    this.#responseHolds.clear();
    for (const waiters of holds) for (const wake of waiters) wake();
  }
}

function take<T>(armed: Map<string, Armed<T>>, number: string): T | undefined {
  const entry = armed.get(number);
  if (!entry) return undefined;
  entry.remaining -= 1;
  if (entry.remaining <= 0) armed.delete(number);
  return entry.fault;
}
