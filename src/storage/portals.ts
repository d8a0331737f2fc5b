import type { ContactId, PortalId, RoomId } from "../ids.js";
import { statements, type Db } from "./db.js";

export interface PortalRecord {
  id: PortalId;
  controlRoomId: RoomId;
  contact: ContactId;
  /** The Matrix room; null until the conversation's actor has created it. */
  roomId: RoomId | null;
  editNoticeSent: boolean;
  createdAt: number;
}

interface Row {
  id: string;
  control_room_id: string;
  contact: string;
  room_id: string | null;
  edit_notice_sent: number;
  created_at: number;
}

const toRecord = (row: Row): PortalRecord => ({
  id: row.id as PortalId,
  controlRoomId: row.control_room_id as RoomId,
  contact: row.contact as ContactId,
  roomId: row.room_id as RoomId | null,
  editNoticeSent: row.edit_notice_sent === 1,
  createdAt: row.created_at,
});

export class PortalStore {
  private readonly sql: ReturnType<typeof statements>;

  constructor(private readonly db: Db) {
    this.sql = statements(db);
  }

  /** The portal of a contact in a control room, made (without a Matrix room yet) if it is new. */
  ensure(controlRoomId: RoomId, contact: ContactId, makeId: () => PortalId, now: number): PortalRecord {
    this.db
      .prepare("INSERT OR IGNORE INTO portals (id, control_room_id, contact, created_at) VALUES (?, ?, ?, ?)")
      .run(makeId(), controlRoomId, contact, now);
    return this.find(controlRoomId, contact)!;
  }

  find(controlRoomId: RoomId, contact: ContactId): PortalRecord | undefined {
    const row = this.sql("SELECT * FROM portals WHERE control_room_id = ? AND contact = ?").get(controlRoomId, contact) as Row | undefined;
    return row && toRecord(row);
  }

  get(id: PortalId): PortalRecord | undefined {
    const row = this.sql("SELECT * FROM portals WHERE id = ?").get(id) as Row | undefined;
    return row && toRecord(row);
  }

  byRoom(roomId: RoomId): PortalRecord | undefined {
    const row = this.sql("SELECT * FROM portals WHERE room_id = ?").get(roomId) as Row | undefined;
    return row && toRecord(row);
  }

  ofControlRoom(controlRoomId: RoomId): PortalRecord[] {
    return (this.sql("SELECT * FROM portals WHERE control_room_id = ? ORDER BY created_at").all(controlRoomId) as Row[]).map(toRecord);
  }

  setRoom(id: PortalId, roomId: RoomId): void {
    this.sql("UPDATE portals SET room_id = ? WHERE id = ?").run(roomId, id);
  }

  /** Marks that the "edits can't be sent" notice was shown; true only for the first caller. */
  claimEditNotice(id: PortalId): boolean {
    return this.sql("UPDATE portals SET edit_notice_sent = 1 WHERE id = ? AND edit_notice_sent = 0").run(id).changes === 1;
  }
}
