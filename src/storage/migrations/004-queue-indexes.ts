import type { Migration } from "./migration.js";

/**
 * Each lane of a conversation looks for its open work on every run; a general index on the
 * conversation still scanned all of its history (15 ms a query at 100 000 texts, blocking the
 * bridge). Partial indexes hold only the open rows, so the lookups stay instant.
 */
export const queueIndexes: Migration = {
  version: 4,
  compat: 2,
  description: "partial indexes for each conversation's open work",
  up: (db) =>
    db.exec(`
      CREATE INDEX messages_unposted ON messages(portal_id, id) WHERE direction = 'in' AND state = 'received';
      CREATE INDEX messages_unsent ON messages(portal_id, id) WHERE direction = 'out' AND state IN ('pending', 'sending');
      CREATE INDEX messages_outcomes ON messages(portal_id, id)
        WHERE direction = 'out' AND status IN ('delivered', 'read', 'undelivered', 'failed', 'canceled')
          AND (shown_status IS NULL OR shown_status <> status);
    `),
};
