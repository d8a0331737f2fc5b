import type { Clock } from "../clock.js";
import type { Logger } from "../log.js";
import type { MatrixEventStore } from "../storage/matrix-events.js";
import type { RawMatrixEvent } from "./appservice.js";

export type EventHandler = (event: RawMatrixEvent) => Promise<void>;

/**
 * Events from the homeserver, handled exactly once and in order per room. `accept` stores an event
 * (inside the appservice transaction, before it is acknowledged) and queues it; a replayed
 * transaction's events are recognised by id and dropped. Events stored but not handled when the
 * process died are handled on the next start by `replayPending`.
 */
export class MatrixInbox {
  private readonly queues = new Map<string, Promise<void>>();
  private started = false;
  private readonly early: RawMatrixEvent[] = [];

  constructor(
    private readonly store: MatrixEventStore,
    private readonly handler: EventHandler,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** Events not worth storing: the bridge's own messages coming back to it. */
    private readonly ignore: (event: RawMatrixEvent) => boolean = () => false,
  ) {}

  accept(event: RawMatrixEvent): void {
    if (typeof event.event_id !== "string" || typeof event.room_id !== "string") return;
    if (this.ignore(event)) return;
    if (!this.store.accept(event, this.clock.now())) {
      this.log.debug({ eventId: event.event_id }, "dropped a replayed event");
      return;
    }
    if (this.started) this.enqueue(event);
    else this.early.push(event);
  }

  /** Handles what a previous run stored but never handled, then everything that arrives. */
  start(): void {
    const pending = this.store.pending();
    const earlyIds = new Set(this.early.map((e) => e.event_id));
    const leftOver = pending.filter((p) => !earlyIds.has(p.eventId));
    if (leftOver.length) this.log.info({ count: leftOver.length }, "handling events left over from the last run");
    for (const stored of leftOver) this.enqueue(stored.event as unknown as RawMatrixEvent);
    this.started = true;
    for (const event of this.early.splice(0)) this.enqueue(event);
  }

  /** Resolves once every queued event has been handled. */
  async drain(): Promise<void> {
    while (this.queues.size) await Promise.all(this.queues.values());
  }

  private enqueue(event: RawMatrixEvent): void {
    const previous = this.queues.get(event.room_id) ?? Promise.resolve();
    const next = previous.then(() => this.handle(event));
    this.queues.set(event.room_id, next);
    void next.then(() => {
      if (this.queues.get(event.room_id) === next) this.queues.delete(event.room_id);
    });
  }

  private async handle(event: RawMatrixEvent): Promise<void> {
    try {
      await this.handler(event);
    } catch (err) {
      // Handling is not retried: a handler that failed once would most likely fail again, and a
      // stuck event would block its room. The failure is logged with the event's ids.
      this.log.error({ err, eventId: event.event_id, roomId: event.room_id, type: event.type }, "failed to handle a Matrix event");
    }
    this.store.handled(event.event_id, this.clock.now());
  }
}
