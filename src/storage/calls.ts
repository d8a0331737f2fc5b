import type { PortalId, RoomId, UserId } from "../ids.js";
import { statements, type Db } from "./db.js";

export type CallState = "ringing" | "answered" | "voicemail" | "ended";
export type CallEndReason = "completed" | "busy" | "no-answer" | "failed" | "canceled" | "rejected" | "voicemail" | "missed" | "restart";

export interface CallRecord {
  id: string;
  portalId: PortalId;
  direction: "in" | "out";
  providerCallId: string | null;
  state: CallState;
  endReason: CallEndReason | null;
  answeredBy: UserId | null;
  startedAt: number;
  answeredAt: number | null;
  endedAt: number | null;
}

export interface CallLeg {
  callId: string;
  matrixCallId: string;
  /** Our party id in the Matrix call. */
  partyId: string;
  roomId: RoomId;
  userId: UserId;
  ended: boolean;
}

interface Row {
  id: string;
  portal_id: string;
  direction: "in" | "out";
  provider_call_id: string | null;
  state: CallState;
  end_reason: CallEndReason | null;
  answered_by: string | null;
  started_at: number;
  answered_at: number | null;
  ended_at: number | null;
}

const toRecord = (row: Row): CallRecord => ({
  id: row.id,
  portalId: row.portal_id as PortalId,
  direction: row.direction,
  providerCallId: row.provider_call_id,
  state: row.state,
  endReason: row.end_reason,
  answeredBy: row.answered_by as UserId | null,
  startedAt: row.started_at,
  answeredAt: row.answered_at,
  endedAt: row.ended_at,
});

/** Calls, their Matrix legs and the per-member call rooms. */
export class CallStore {
  private readonly sql: ReturnType<typeof statements>;

  constructor(private readonly db: Db) {
    this.sql = statements(db);
  }

  create(call: { id: string; portalId: PortalId; direction: "in" | "out"; providerCallId: string | null; streamToken: string | null; now: number }): void {
    this.db
      .prepare("INSERT INTO calls (id, portal_id, direction, provider_call_id, stream_token, state, started_at) VALUES (?, ?, ?, ?, ?, 'ringing', ?)")
      .run(call.id, call.portalId, call.direction, call.providerCallId, call.streamToken, call.now);
  }

  get(id: string): CallRecord | undefined {
    const row = this.sql("SELECT * FROM calls WHERE id = ?").get(id) as Row | undefined;
    return row && toRecord(row);
  }

  byProviderId(providerCallId: string): CallRecord | undefined {
    const row = this.sql("SELECT * FROM calls WHERE provider_call_id = ?").get(providerCallId) as Row | undefined;
    return row && toRecord(row);
  }

  setProviderId(id: string, providerCallId: string): void {
    this.sql("UPDATE calls SET provider_call_id = ? WHERE id = ?").run(providerCallId, id);
  }

  /** Takes the media stream's one-time token: true once for the right token, never again. */
  claimStreamToken(id: string, token: string): boolean {
    return this.sql("UPDATE calls SET stream_token = NULL WHERE id = ? AND stream_token = ?").run(id, token).changes === 1;
  }

  setState(id: string, state: CallState, fields: { endReason?: CallEndReason; answeredBy?: UserId; now: number }): void {
    this.db
      .prepare(
        `UPDATE calls SET state = ?, end_reason = COALESCE(?, end_reason), answered_by = COALESCE(?, answered_by),
           answered_at = CASE WHEN ? = 'answered' THEN ? ELSE answered_at END,
           ended_at = CASE WHEN ? = 'ended' THEN ? ELSE ended_at END
         WHERE id = ?`,
      )
      .run(state, fields.endReason ?? null, fields.answeredBy ?? null, state, fields.now, state, fields.now, id);
  }

  /** Calls a previous run left open: ended cleanly at start-up. */
  open(): CallRecord[] {
    return (this.sql("SELECT * FROM calls WHERE state <> 'ended'").all() as Row[]).map(toRecord);
  }

  addLeg(leg: Omit<CallLeg, "ended">): void {
    this.db
      .prepare("INSERT OR IGNORE INTO call_legs (call_id, matrix_call_id, party_id, room_id, user_id) VALUES (?, ?, ?, ?, ?)")
      .run(leg.callId, leg.matrixCallId, leg.partyId, leg.roomId, leg.userId);
  }

  legs(callId: string): CallLeg[] {
    const rows = this.sql("SELECT * FROM call_legs WHERE call_id = ?").all(callId) as {
      call_id: string;
      matrix_call_id: string;
      party_id: string;
      room_id: string;
      user_id: string;
      ended: number;
    }[];
    return rows.map((r) => ({ callId: r.call_id, matrixCallId: r.matrix_call_id, partyId: r.party_id, roomId: r.room_id as RoomId, userId: r.user_id as UserId, ended: r.ended === 1 }));
  }

  callOfLeg(matrixCallId: string): string | undefined {
    const row = this.sql("SELECT call_id FROM call_legs WHERE matrix_call_id = ?").get(matrixCallId) as { call_id: string } | undefined;
    return row?.call_id;
  }

  endLeg(callId: string, matrixCallId: string): void {
    this.sql("UPDATE call_legs SET ended = 1 WHERE call_id = ? AND matrix_call_id = ?").run(callId, matrixCallId);
  }

  callRoom(portalId: PortalId, userId: UserId): RoomId | undefined {
    const row = this.sql("SELECT room_id FROM call_rooms WHERE portal_id = ? AND user_id = ?").get(portalId, userId) as { room_id: string } | undefined;
    return row?.room_id as RoomId | undefined;
  }

  setCallRoom(portalId: PortalId, userId: UserId, roomId: RoomId): void {
    this.sql("INSERT OR REPLACE INTO call_rooms (portal_id, user_id, room_id) VALUES (?, ?, ?)").run(portalId, userId, roomId);
  }

  /** The portal a call room belongs to, for calls placed from it. */
  portalOfCallRoom(roomId: RoomId): PortalId | undefined {
    const row = this.sql("SELECT portal_id FROM call_rooms WHERE room_id = ?").get(roomId) as { portal_id: string } | undefined;
    return row?.portal_id as PortalId | undefined;
  }
}
