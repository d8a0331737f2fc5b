import type { ContactId, RoomId } from "../ids.js";
import { statements, type Db } from "./db.js";

export interface ContactRecord {
  controlRoomId: RoomId;
  contact: ContactId;
  petName: string | null;
  blocked: boolean;
}

/** Pet names and blocks, per control room: the same number can be "Mum" in one room and blocked in another. */
export class ContactStore {
  private readonly sql: ReturnType<typeof statements>;

  constructor(private readonly db: Db) {
    this.sql = statements(db);
  }

  get(controlRoomId: RoomId, contact: ContactId): ContactRecord {
    const row = this.db
      .prepare("SELECT pet_name, blocked FROM contacts WHERE control_room_id = ? AND contact = ?")
      .get(controlRoomId, contact) as { pet_name: string | null; blocked: number } | undefined;
    return { controlRoomId, contact, petName: row?.pet_name ?? null, blocked: row?.blocked === 1 };
  }

  setPetName(controlRoomId: RoomId, contact: ContactId, petName: string | null): void {
    this.db
      .prepare(
        `INSERT INTO contacts (control_room_id, contact, pet_name) VALUES (?, ?, ?)
         ON CONFLICT(control_room_id, contact) DO UPDATE SET pet_name = excluded.pet_name`,
      )
      .run(controlRoomId, contact, petName);
  }

  setBlocked(controlRoomId: RoomId, contact: ContactId, blocked: boolean): void {
    this.db
      .prepare(
        `INSERT INTO contacts (control_room_id, contact, blocked) VALUES (?, ?, ?)
         ON CONFLICT(control_room_id, contact) DO UPDATE SET blocked = excluded.blocked`,
      )
      .run(controlRoomId, contact, blocked ? 1 : 0);
  }

  blocked(controlRoomId: RoomId): ContactId[] {
    return (this.sql("SELECT contact FROM contacts WHERE control_room_id = ? AND blocked = 1").all(controlRoomId) as { contact: string }[]).map(
      (r) => r.contact as ContactId,
    );
  }
}
