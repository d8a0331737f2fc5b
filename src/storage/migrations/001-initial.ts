import type { Migration } from "./migration.js";

export const initial: Migration = {
  version: 1,
  compat: 1,
  description: "control rooms, links, the Matrix event inbox, bridge metadata",
  up: (db) =>
    db.exec(`
      CREATE TABLE bridge_meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );

      CREATE TABLE control_rooms (
        room_id     TEXT PRIMARY KEY,
        created_by  TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        -- 'active', or 'paused' while the bot is not in the room (kicked); a paused room keeps its link.
        status      TEXT NOT NULL CHECK (status IN ('active', 'paused'))
      );

      CREATE TABLE links (
        id                  TEXT PRIMARY KEY,
        room_id             TEXT NOT NULL UNIQUE REFERENCES control_rooms(room_id) ON DELETE CASCADE,
        provider            TEXT NOT NULL,
        phone_number        TEXT NOT NULL,
        account_ref         TEXT NOT NULL,
        -- provider credentials, encrypted with the credential key (see storage/credentials.ts)
        credentials         TEXT NOT NULL,
        provider_number_id  TEXT,
        -- the number's webhook settings before the bridge changed them, restored by unlink
        previous_settings   TEXT,
        state               TEXT NOT NULL,
        state_code          TEXT,
        created_at          INTEGER NOT NULL,
        updated_at          INTEGER NOT NULL
      );
      -- A number can feed only one control room: its webhooks point at one place.
      CREATE UNIQUE INDEX links_number ON links(provider, phone_number);

      -- Matrix events are stored here inside the appservice transaction, before it is
      -- acknowledged, and handled from here exactly once. The content is dropped once handled so
      -- nothing a user typed (a provider token, say) stays at rest.
      CREATE TABLE matrix_events (
        event_id      TEXT PRIMARY KEY,
        room_id       TEXT NOT NULL,
        received_at   INTEGER NOT NULL,
        payload       TEXT,
        handled_at    INTEGER
      );
      CREATE INDEX matrix_events_pending ON matrix_events(handled_at, received_at) WHERE handled_at IS NULL;
    `),
};
