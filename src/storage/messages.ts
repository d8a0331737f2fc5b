import type { PortalId, RoomId } from "../ids.js";
import type { MessageStatus } from "../providers/events.js";
import { statements, type Db } from "./db.js";

export type InboundState = "received" | "posted" | "blocked";
export type OutboundState = "pending" | "sending" | "sent" | "failed";

/** A media item of a text: the provider's URL (inbound) or the Matrix content (outbound). */
export interface StoredMedia {
  url: string;
  contentType: string;
  filename?: string;
  size?: number;
}

export interface MessageRecord {
  id: number;
  portalId: PortalId;
  direction: "in" | "out";
  providerMessageId: string | null;
  matrixEventId: string | null;
  part: number;
  sender: string | null;
  body: string;
  media: StoredMedia[];
  state: InboundState | OutboundState;
  status: MessageStatus | null;
  shownStatus: string | null;
  errorCode: number | null;
  failure: string | null;
  attempts: number;
  createdAt: number;
  updatedAt: number;
}

interface Row {
  id: number;
  portal_id: string;
  direction: "in" | "out";
  provider_message_id: string | null;
  matrix_event_id: string | null;
  part: number;
  sender: string | null;
  body: string;
  media: string | null;
  state: InboundState | OutboundState;
  status: MessageStatus | null;
  shown_status: string | null;
  error_code: number | null;
  failure: string | null;
  attempts: number;
  created_at: number;
  updated_at: number;
}

const toRecord = (row: Row): MessageRecord => ({
  id: row.id,
  portalId: row.portal_id as PortalId,
  direction: row.direction,
  providerMessageId: row.provider_message_id,
  matrixEventId: row.matrix_event_id,
  part: row.part,
  sender: row.sender,
  body: row.body,
  media: row.media ? (JSON.parse(row.media) as StoredMedia[]) : [],
  state: row.state,
  status: row.status,
  shownStatus: row.shown_status,
  errorCode: row.error_code,
  failure: row.failure,
  attempts: row.attempts,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/**
 * Delivery statuses may arrive out of order; a status only replaces one that comes before it.
 * Final statuses never change once set.
 */
const STATUS_RANK: Record<MessageStatus, number> = {
  queued: 1,
  sending: 2,
  sent: 3,
  delivered: 5,
  undelivered: 5,
  failed: 5,
  canceled: 5,
  read: 6,
};
export const isFinalStatus = (status: MessageStatus | null): boolean => status !== null && STATUS_RANK[status] >= 5;

export interface OutboundPart {
  body: string;
  media: StoredMedia[];
}

export class MessageStore {
  private readonly sql: ReturnType<typeof statements>;

  constructor(private readonly db: Db) {
    this.sql = statements(db);
  }

  private one(sql: string, ...args: unknown[]): MessageRecord | undefined {
    const row = this.sql(sql).get(...args) as Row | undefined;
    return row && toRecord(row);
  }

  private many(sql: string, ...args: unknown[]): MessageRecord[] {
    return (this.sql(sql).all(...args) as Row[]).map(toRecord);
  }

  get(id: number): MessageRecord | undefined {
    return this.one("SELECT * FROM messages WHERE id = ?", id);
  }

  byProviderId(providerMessageId: string): MessageRecord | undefined {
    return this.one("SELECT * FROM messages WHERE provider_message_id = ?", providerMessageId);
  }

  /** Stores an inbound text; returns its id, or null when the provider's id was seen before. */
  insertInbound(portalId: PortalId, providerMessageId: string, body: string, media: StoredMedia[], state: "received" | "blocked", now: number): number | null {
    const result = this.db
      .prepare(
        `INSERT OR IGNORE INTO messages (portal_id, direction, provider_message_id, body, media, state, created_at, updated_at)
         VALUES (?, 'in', ?, ?, ?, ?, ?, ?)`,
      )
      .run(portalId, providerMessageId, body, media.length ? JSON.stringify(media) : null, state, now, now);
    return result.changes === 1 ? Number(result.lastInsertRowid) : null;
  }

  /**
   * Stores the texts one Matrix event becomes (several when it is split); returns their ids, or
   * an empty list when the event was stored before (a replayed homeserver transaction).
   */
  insertOutbound(portalId: PortalId, matrixEventId: string, sender: string, parts: OutboundPart[], now: number): number[] {
    const insert = this.sql(
      `INSERT OR IGNORE INTO messages (portal_id, direction, matrix_event_id, part, sender, body, media, state, created_at, updated_at)
       VALUES (?, 'out', ?, ?, ?, ?, ?, 'pending', ?, ?)`,
    );
    return this.db.transaction(() => {
      const ids: number[] = [];
      parts.forEach((part, index) => {
        const result = insert.run(portalId, matrixEventId, index, sender, part.body, part.media.length ? JSON.stringify(part.media) : null, now, now);
        if (result.changes === 1) ids.push(Number(result.lastInsertRowid));
      });
      return ids;
    })();
  }

  /** Inbound texts not yet in Matrix, oldest first. */
  unposted(portalId: PortalId): MessageRecord[] {
    return this.many("SELECT * FROM messages WHERE portal_id = ? AND direction = 'in' AND state = 'received' ORDER BY id", portalId);
  }

  markPosted(id: number, matrixEventId: string, now: number): void {
    this.sql("UPDATE messages SET state = 'posted', matrix_event_id = ?, updated_at = ? WHERE id = ?").run(matrixEventId, now, id);
  }

  /** Outbound texts not yet accepted by the provider, oldest first. */
  unsent(portalId: PortalId): MessageRecord[] {
    return this.many("SELECT * FROM messages WHERE portal_id = ? AND direction = 'out' AND state IN ('pending', 'sending') ORDER BY id", portalId);
  }

  /** Written before every provider call: a row left in 'sending' after a crash is in doubt. */
  markSending(id: number, now: number): void {
    this.sql("UPDATE messages SET state = 'sending', attempts = attempts + 1, updated_at = ? WHERE id = ?").run(now, id);
  }

  markSent(id: number, providerMessageId: string, status: MessageStatus, now: number): void {
    this.db
      .prepare("UPDATE messages SET state = 'sent', provider_message_id = ?, status = ?, updated_at = ? WHERE id = ?")
      .run(providerMessageId, status, now, id);
  }

  markFailed(id: number, errorCode: number | null, failure: string, now: number): void {
    this.db
      .prepare("UPDATE messages SET state = 'failed', status = 'failed', error_code = ?, failure = ?, updated_at = ? WHERE id = ?")
      .run(errorCode, failure, now, id);
  }

  /** Applies a delivery status unless a later one is already known; returns the message if it changed. */
  applyStatus(providerMessageId: string, status: MessageStatus, errorCode: number | null, now: number): MessageRecord | undefined {
    const message = this.byProviderId(providerMessageId);
    if (!message || message.direction !== "out") return undefined;
    if (message.status && STATUS_RANK[message.status] >= STATUS_RANK[status]) return undefined;
    this.sql("UPDATE messages SET status = ?, error_code = COALESCE(?, error_code), updated_at = ? WHERE id = ?").run(status, errorCode, now, message.id);
    return this.get(message.id);
  }

  /** Outbound texts whose final outcome (delivered, failed, ...) hasn't been shown in Matrix yet. */
  outcomesToShow(portalId: PortalId): MessageRecord[] {
    return this.many(
      `SELECT * FROM messages WHERE portal_id = ? AND direction = 'out'
         AND status IN ('delivered', 'read', 'undelivered', 'failed', 'canceled')
         AND (shown_status IS NULL OR shown_status <> status) ORDER BY id`,
      portalId,
    );
  }

  markShown(id: number, status: string): void {
    this.sql("UPDATE messages SET shown_status = ? WHERE id = ?").run(status, id);
  }

  /** Provider ids already taken by outbound texts of a conversation (to match texts in doubt). */
  knownProviderIds(portalId: PortalId): Set<string> {
    const rows = this.db
      .prepare("SELECT provider_message_id FROM messages WHERE portal_id = ? AND provider_message_id IS NOT NULL")
      .all(portalId) as { provider_message_id: string }[];
    return new Set(rows.map((r) => r.provider_message_id));
  }

  /** Conversations of a control room with something left to do (for waking them up). */
  portalsWithWork(controlRoomId: RoomId): PortalId[] {
    const rows = this.db
      .prepare(
        `SELECT DISTINCT m.portal_id FROM messages m JOIN portals p ON p.id = m.portal_id
         WHERE p.control_room_id = ? AND (m.state IN ('received', 'pending', 'sending')
           OR (m.direction = 'out' AND m.status IN ('delivered', 'read', 'undelivered', 'failed', 'canceled')
               AND (m.shown_status IS NULL OR m.shown_status <> m.status)))`,
      )
      .all(controlRoomId) as { portal_id: string }[];
    return rows.map((r) => r.portal_id as PortalId);
  }

  countByPortal(controlRoomId: RoomId): Map<PortalId, number> {
    const rows = this.db
      .prepare("SELECT m.portal_id, count(*) AS n FROM messages m JOIN portals p ON p.id = m.portal_id WHERE p.control_room_id = ? GROUP BY m.portal_id")
      .all(controlRoomId) as { portal_id: string; n: number }[];
    return new Map(rows.map((r) => [r.portal_id as PortalId, r.n]));
  }
}
