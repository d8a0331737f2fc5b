import type { RoomId } from "../ids.js";
import type { Db } from "./db.js";

export interface StoredMatrixEvent {
  eventId: string;
  roomId: RoomId;
  event: Record<string, unknown>;
}

/**
 * The durable inbox for events the homeserver pushes. `accept` runs synchronously inside the
 * appservice transaction, before the homeserver gets its 200, so an event is never lost to a
 * crash; the primary key drops replays of a transaction, so none is handled twice.
 */
export class MatrixEventStore {
  private readonly insert;
  private readonly markHandled;

  constructor(private readonly db: Db) {
    this.insert = db.prepare(
      "INSERT OR IGNORE INTO matrix_events (event_id, room_id, received_at, payload) VALUES (?, ?, ?, ?)",
    );
    // Dropping the payload keeps no user text (a token typed into `link`, say) at rest.
    this.markHandled = db.prepare("UPDATE matrix_events SET handled_at = ?, payload = NULL WHERE event_id = ?");
  }

  /** Stores an event; returns false when it was seen before. */
  accept(event: { event_id: string; room_id: string }, now: number): boolean {
    return this.insert.run(event.event_id, event.room_id, now, JSON.stringify(event)).changes === 1;
  }

  handled(eventId: string, now: number): void {
    this.markHandled.run(now, eventId);
  }

  /** Events stored but not yet handled, oldest first: what a crash left behind. */
  pending(): StoredMatrixEvent[] {
    const rows = this.db
      .prepare("SELECT event_id, room_id, payload FROM matrix_events WHERE handled_at IS NULL ORDER BY received_at, rowid")
      .all() as { event_id: string; room_id: string; payload: string }[];
    return rows.map((row) => ({
      eventId: row.event_id,
      roomId: row.room_id as RoomId,
      event: JSON.parse(row.payload) as Record<string, unknown>,
    }));
  }

  /** Forgets handled event ids older than `before`; replays come within minutes, not weeks. */
  prune(before: number): number {
    return this.db.prepare("DELETE FROM matrix_events WHERE handled_at IS NOT NULL AND handled_at < ?").run(before).changes;
  }
}
