/**
 * Time, injected. Machines and actors read "now" and schedule timers only through a Clock so tests
 * can drive them with a simulated one. The shape matches what XState's `createActor({ clock })`
 * expects, plus `now()`.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: (...args: unknown[]) => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
