import type { LinkId } from "../ids.js";
import { statements, type Db } from "./db.js";

/** How far back each link's provider message list has been checked for texts webhooks missed. */
export class ReconcileMarkStore {
  private readonly sql: ReturnType<typeof statements>;

  constructor(private readonly db: Db) {
    this.sql = statements(db);
  }

  get(linkId: LinkId): number | undefined {
    const row = this.sql("SELECT checked_until FROM reconcile_marks WHERE link_id = ?").get(linkId) as { checked_until: number } | undefined;
    return row?.checked_until;
  }

  set(linkId: LinkId, checkedUntil: number): void {
    this.db
      .prepare("INSERT INTO reconcile_marks (link_id, checked_until) VALUES (?, ?) ON CONFLICT(link_id) DO UPDATE SET checked_until = excluded.checked_until")
      .run(linkId, checkedUntil);
  }
}
