import type { E164, LinkId, ProviderKind, RoomId } from "../ids.js";
import { Secret } from "../secret.js";
import type { CredentialCipher } from "./credentials.js";
import { statements, type Db } from "./db.js";

/** The states a link is stored in; `unlinked` links are deleted rather than stored. */
export type StoredLinkState = "linking" | "linked" | "degraded" | "bad-credentials" | "paused" | "unlinking";

export type ProviderCredentials = Record<string, string>;

export interface LinkRecord {
  id: LinkId;
  roomId: RoomId;
  provider: ProviderKind;
  phoneNumber: E164;
  /** The provider account the number belongs to (Twilio's AccountSid); not a secret. */
  accountRef: string;
  credentials: Secret<ProviderCredentials>;
  providerNumberId: string | null;
  /** The number's webhook settings from before the link, as the provider named them. */
  previousSettings: Record<string, string | null> | null;
  state: StoredLinkState;
  stateCode: string | null;
  createdAt: number;
  updatedAt: number;
}

interface Row {
  id: string;
  room_id: string;
  provider: string;
  phone_number: string;
  account_ref: string;
  credentials: string;
  provider_number_id: string | null;
  previous_settings: string | null;
  state: StoredLinkState;
  state_code: string | null;
  created_at: number;
  updated_at: number;
}

export class LinkStore {
  private readonly sql: ReturnType<typeof statements>;
  /**
   * Links as last read, by id: every webhook and every text looks its link up, and reading one
   * means decrypting its credentials. Every write goes through this store and clears the entry.
   */
  private readonly cache = new Map<LinkId, LinkRecord>();

  constructor(
    private readonly db: Db,
    private readonly cipher: CredentialCipher,
  ) {
    this.sql = statements(db);
  }

  private toRecord(row: Row): LinkRecord {
    return {
      id: row.id as LinkId,
      roomId: row.room_id as RoomId,
      provider: row.provider as ProviderKind,
      phoneNumber: row.phone_number as E164,
      accountRef: row.account_ref,
      credentials: new Secret(JSON.parse(this.cipher.decrypt(row.credentials)) as ProviderCredentials),
      providerNumberId: row.provider_number_id,
      previousSettings: row.previous_settings ? (JSON.parse(row.previous_settings) as LinkRecord["previousSettings"]) : null,
      state: row.state,
      stateCode: row.state_code,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  /**
   * Stores a link, replacing any earlier link of the same room (a room links one number).
   * Throws a SQLite constraint error when the number is already linked to another room.
   */
  save(record: LinkRecord): void {
    this.cache.clear();
    this.db.transaction(() => {
      this.sql("DELETE FROM links WHERE room_id = ? AND id <> ?").run(record.roomId, record.id);
      this.db
        .prepare(
          `INSERT INTO links (id, room_id, provider, phone_number, account_ref, credentials, provider_number_id,
                              previous_settings, state, state_code, created_at, updated_at)
           VALUES (@id, @room_id, @provider, @phone_number, @account_ref, @credentials, @provider_number_id,
                   @previous_settings, @state, @state_code, @created_at, @updated_at)
           ON CONFLICT(id) DO UPDATE SET
             credentials = excluded.credentials, provider_number_id = excluded.provider_number_id,
             previous_settings = excluded.previous_settings, state = excluded.state,
             state_code = excluded.state_code, updated_at = excluded.updated_at`,
        )
        .run({
          id: record.id,
          room_id: record.roomId,
          provider: record.provider,
          phone_number: record.phoneNumber,
          account_ref: record.accountRef,
          credentials: this.cipher.encrypt(JSON.stringify(record.credentials.reveal())),
          provider_number_id: record.providerNumberId,
          previous_settings: record.previousSettings ? JSON.stringify(record.previousSettings) : null,
          state: record.state,
          state_code: record.stateCode,
          created_at: record.createdAt,
          updated_at: record.updatedAt,
        });
    })();
  }

  setState(id: LinkId, state: StoredLinkState, stateCode: string | null, now: number): void {
    this.cache.delete(id);
    this.sql("UPDATE links SET state = ?, state_code = ?, updated_at = ? WHERE id = ?").run(state, stateCode, now, id);
  }

  get(id: LinkId): LinkRecord | undefined {
    const cached = this.cache.get(id);
    if (cached) return cached;
    const row = this.sql("SELECT * FROM links WHERE id = ?").get(id) as Row | undefined;
    return row && this.remember(this.toRecord(row));
  }

  byRoom(roomId: RoomId): LinkRecord | undefined {
    for (const record of this.cache.values()) if (record.roomId === roomId) return record;
    const row = this.sql("SELECT * FROM links WHERE room_id = ?").get(roomId) as Row | undefined;
    return row && this.remember(this.toRecord(row));
  }

  private remember(record: LinkRecord): LinkRecord {
    this.cache.set(record.id, record);
    return record;
  }

  /** The room a number is linked to, if any, without decrypting credentials. */
  roomOfNumber(provider: ProviderKind, phoneNumber: E164): RoomId | undefined {
    const row = this.db
      .prepare("SELECT room_id FROM links WHERE provider = ? AND phone_number = ?")
      .get(provider, phoneNumber) as { room_id: string } | undefined;
    return row?.room_id as RoomId | undefined;
  }

  list(): LinkRecord[] {
    return (this.sql("SELECT * FROM links ORDER BY created_at").all() as Row[]).map((row) => this.toRecord(row));
  }

  delete(id: LinkId): void {
    this.cache.delete(id);
    this.sql("DELETE FROM links WHERE id = ?").run(id);
  }
}
