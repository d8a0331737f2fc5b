import type { ContactId, RoomId, UserId } from "../ids.js";
import { statements, type Db } from "./db.js";

export interface DmChoice {
  roomId: RoomId;
  userId: UserId;
  contact: ContactId;
  /** The control rooms offered, in the order they were listed. */
  options: RoomId[];
}

/** Open questions "which number should this DM use?", and each user's last answer. */
export class DmChoiceStore {
  private readonly sql: ReturnType<typeof statements>;

  constructor(private readonly db: Db) {
    this.sql = statements(db);
  }

  ask(choice: DmChoice, now: number): void {
    this.db
      .prepare("INSERT OR REPLACE INTO dm_choices (room_id, user_id, contact, options, created_at) VALUES (?, ?, ?, ?, ?)")
      .run(choice.roomId, choice.userId, choice.contact, JSON.stringify(choice.options), now);
  }

  pending(roomId: RoomId): DmChoice | undefined {
    const row = this.sql("SELECT * FROM dm_choices WHERE room_id = ?").get(roomId) as
      | { room_id: string; user_id: string; contact: string; options: string }
      | undefined;
    return row && { roomId: row.room_id as RoomId, userId: row.user_id as UserId, contact: row.contact as ContactId, options: JSON.parse(row.options) as RoomId[] };
  }

  answered(roomId: RoomId, userId: UserId, controlRoomId: RoomId): void {
    this.db.transaction(() => {
      this.sql("DELETE FROM dm_choices WHERE room_id = ?").run(roomId);
      this.db
        .prepare("INSERT INTO dm_defaults (user_id, control_room_id) VALUES (?, ?) ON CONFLICT(user_id) DO UPDATE SET control_room_id = excluded.control_room_id")
        .run(userId, controlRoomId);
    })();
  }

  defaultOf(userId: UserId): RoomId | undefined {
    const row = this.sql("SELECT control_room_id FROM dm_defaults WHERE user_id = ?").get(userId) as { control_room_id: string } | undefined;
    return row?.control_room_id as RoomId | undefined;
  }
}
