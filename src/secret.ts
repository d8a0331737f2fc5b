import { inspect } from "node:util";

const REDACTED = "[redacted]";

/**
 * A value that must never reach a log, a debug dump or room history. It serialises as
 * "[redacted]" through JSON, util.inspect and string conversion; only `reveal()` gives the value,
 * so every place that reads a secret is easy to find.
 */
export class Secret<T> {
  readonly #value: T;
  constructor(value: T) {
    this.#value = value;
  }
  reveal(): T {
    return this.#value;
  }
  toJSON(): string {
    return REDACTED;
  }
  toString(): string {
    return REDACTED;
  }
  [inspect.custom](): string {
    return REDACTED;
  }
}

export const isSecret = (value: unknown): value is Secret<unknown> => value instanceof Secret;
