import type { RoomId, UserId } from "../ids.js";
import { statements, type Db } from "./db.js";

export type ControlRoomStatus = "active" | "paused";

export interface ControlRoomRecord {
  roomId: RoomId;
  createdBy: UserId;
  createdAt: number;
  status: ControlRoomStatus;
  /** Outbound texts end with "— sender name". */
  signature: boolean;
}

interface Row {
  room_id: string;
  created_by: string;
  created_at: number;
  status: ControlRoomStatus;
  signature: number;
}

const toRecord = (row: Row): ControlRoomRecord => ({
  roomId: row.room_id as RoomId,
  createdBy: row.created_by as UserId,
  createdAt: row.created_at,
  status: row.status,
  signature: row.signature === 1,
});

export class ControlRoomStore {
  private readonly sql: ReturnType<typeof statements>;

  constructor(private readonly db: Db) {
    this.sql = statements(db);
  }

  /** Records a control room; an existing one keeps its creator and creation time. */
  upsert(record: Omit<ControlRoomRecord, "signature">): void {
    this.db
      .prepare(
        `INSERT INTO control_rooms (room_id, created_by, created_at, status) VALUES (?, ?, ?, ?)
         ON CONFLICT(room_id) DO UPDATE SET status = excluded.status`,
      )
      .run(record.roomId, record.createdBy, record.createdAt, record.status);
  }

  get(roomId: RoomId): ControlRoomRecord | undefined {
    const row = this.sql("SELECT * FROM control_rooms WHERE room_id = ?").get(roomId) as Row | undefined;
    return row && toRecord(row);
  }

  list(): ControlRoomRecord[] {
    return (this.sql("SELECT * FROM control_rooms ORDER BY created_at").all() as Row[]).map(toRecord);
  }

  setSignature(roomId: RoomId, on: boolean): void {
    this.sql("UPDATE control_rooms SET signature = ? WHERE room_id = ?").run(on ? 1 : 0, roomId);
  }

  setStatus(roomId: RoomId, status: ControlRoomStatus): void {
    this.sql("UPDATE control_rooms SET status = ? WHERE room_id = ?").run(status, roomId);
  }
}
