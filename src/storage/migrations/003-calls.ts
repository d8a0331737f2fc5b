import type { Migration } from "./migration.js";

export const calls: Migration = {
  version: 3,
  compat: 3,
  description: "calls, their Matrix legs, and per-member call rooms",
  up: (db) =>
    db.exec(`
      -- One phone call, inbound or outbound, from the first webhook (or Matrix invite) to its end.
      CREATE TABLE calls (
        id                TEXT PRIMARY KEY,
        portal_id         TEXT NOT NULL REFERENCES portals(id) ON DELETE CASCADE,
        direction         TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        provider_call_id  TEXT UNIQUE,
        -- the one-time secret the media stream must present; cleared once used
        stream_token      TEXT,
        -- ringing | answered | voicemail | ended
        state             TEXT NOT NULL,
        end_reason        TEXT,
        answered_by       TEXT,
        started_at        INTEGER NOT NULL,
        answered_at       INTEGER,
        ended_at          INTEGER
      );
      CREATE INDEX calls_open ON calls(state) WHERE state <> 'ended';

      -- The Matrix side of a call: one m.call.* conversation per member rung (or the one caller).
      CREATE TABLE call_legs (
        call_id        TEXT NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
        matrix_call_id TEXT NOT NULL,
        -- our party id in that Matrix call: a later hangup (after a restart) must carry it
        party_id       TEXT NOT NULL,
        room_id        TEXT NOT NULL,
        user_id        TEXT NOT NULL,
        ended          INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (call_id, matrix_call_id)
      );
      CREATE INDEX call_legs_matrix ON call_legs(matrix_call_id);

      -- Element only offers a call in a room of two: where several people share a number, each
      -- gets a room with just them and the contact's ghost, made the first time it rings.
      CREATE TABLE call_rooms (
        portal_id TEXT NOT NULL REFERENCES portals(id) ON DELETE CASCADE,
        user_id   TEXT NOT NULL,
        room_id   TEXT NOT NULL UNIQUE,
        PRIMARY KEY (portal_id, user_id)
      );
    `),
};
