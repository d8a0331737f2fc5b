import type { Migration } from "./migration.js";

export const texting: Migration = {
  version: 2,
  compat: 2,
  description: "contacts, portal rooms and the messages of each conversation",
  up: (db) =>
    db.exec(`
      ALTER TABLE control_rooms ADD COLUMN signature INTEGER NOT NULL DEFAULT 0;

      -- What a control room knows about a remote party, whether or not it has a portal yet.
      CREATE TABLE contacts (
        control_room_id TEXT NOT NULL REFERENCES control_rooms(room_id) ON DELETE CASCADE,
        -- '+15551234567', 'sc:12345' (short code) or 'an:ACME' (alphanumeric sender id)
        contact         TEXT NOT NULL,
        pet_name        TEXT,
        blocked         INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (control_room_id, contact)
      );

      -- One conversation: a control room and one contact, and the Matrix room it lives in.
      CREATE TABLE portals (
        id               TEXT PRIMARY KEY,
        control_room_id  TEXT NOT NULL REFERENCES control_rooms(room_id) ON DELETE CASCADE,
        contact          TEXT NOT NULL,
        room_id          TEXT UNIQUE,
        edit_notice_sent INTEGER NOT NULL DEFAULT 0,
        created_at       INTEGER NOT NULL,
        UNIQUE (control_room_id, contact)
      );

      -- Every text, both ways. Inbound rows are written before the webhook is acknowledged and
      -- deduplicated by the provider's id; outbound rows before the provider is called, and
      -- deduplicated by the Matrix event (and part, for texts split in several).
      CREATE TABLE messages (
        id                  INTEGER PRIMARY KEY AUTOINCREMENT,
        portal_id           TEXT NOT NULL REFERENCES portals(id) ON DELETE CASCADE,
        direction           TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        provider_message_id TEXT UNIQUE,
        matrix_event_id     TEXT,
        part                INTEGER NOT NULL DEFAULT 0,
        sender              TEXT,
        body                TEXT NOT NULL,
        media               TEXT,
        -- in: received → posted (or blocked); out: pending → sending → sent, or failed
        state               TEXT NOT NULL,
        -- the provider's delivery status, and the last one shown in Matrix
        status              TEXT,
        shown_status        TEXT,
        error_code          INTEGER,
        -- why an outbound text failed, in words, when the bridge itself refused or gave up on it
        failure             TEXT,
        attempts            INTEGER NOT NULL DEFAULT 0,
        created_at          INTEGER NOT NULL,
        updated_at          INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX messages_matrix_event ON messages(direction, matrix_event_id, part) WHERE matrix_event_id IS NOT NULL;
      CREATE INDEX messages_portal ON messages(portal_id, id);
      CREATE INDEX messages_open ON messages(state) WHERE state IN ('received', 'pending', 'sending');

      -- A Matrix user started a DM with a ghost and belongs to several control rooms: which number
      -- should that DM text from? Asked in the DM, answered there, remembered as their default.
      CREATE TABLE dm_choices (
        room_id    TEXT PRIMARY KEY,
        user_id    TEXT NOT NULL,
        contact    TEXT NOT NULL,
        options    TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE dm_defaults (
        user_id         TEXT PRIMARY KEY,
        control_room_id TEXT NOT NULL REFERENCES control_rooms(room_id) ON DELETE CASCADE
      );

      -- How far back each link's provider message list has been checked for texts the webhooks missed.
      CREATE TABLE reconcile_marks (
        link_id       TEXT PRIMARY KEY,
        checked_until INTEGER NOT NULL
      );
    `),
};
