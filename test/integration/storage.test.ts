import Database from "better-sqlite3";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { e164, linkId, roomId, userId } from "../../src/ids.js";
import { Secret } from "../../src/secret.js";
import { CredentialCipher, resolveCredentialKey } from "../../src/storage/credentials.js";
import { openDatabase } from "../../src/storage/db.js";
import { openStorage } from "../../src/storage/index.js";
import type { LinkRecord } from "../../src/storage/links.js";
import { migrate, readSchemaVersion } from "../../src/storage/migrate.js";
import { migrations } from "../../src/storage/migrations/index.js";

const KEY = new Secret("a-credential-key-of-some-length-0123456789");
const TOKEN = "super-secret-auth-token-value-123";
let dir: string;
let dbPath: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "pstn-storage-"));
  dbPath = path.join(dir, "bridge.db");
});

function link(overrides: Partial<LinkRecord> = {}): LinkRecord {
  return {
    id: linkId("lnk0000000000000001"),
    roomId: roomId("!room:localhost"),
    provider: "twilio",
    phoneNumber: e164("+15550001111"),
    accountRef: "AC00000000000000000000000000000001",
    credentials: new Secret({ authToken: TOKEN }),
    providerNumberId: "PN1",
    previousSettings: { sms_url: "https://old" },
    state: "linked",
    stateCode: null,
    createdAt: 1,
    updatedAt: 1,
    ...overrides,
  };
}

describe("database", () => {
  it("opens in WAL mode with foreign keys on", () => {
    const db = openDatabase(dbPath);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.pragma("foreign_keys", { simple: true })).toBe(1);
    db.close();
  });

  it("migrates an empty database to the latest version, and a second run changes nothing", () => {
    const db = openDatabase(dbPath);
    const latest = migrations.at(-1)!.version;
    expect(migrate(db)).toEqual({ version: latest, compat: migrations.at(-1)!.compat });
    expect(migrate(db).version).toBe(latest);
    expect(db.prepare("SELECT count(*) AS n FROM schema_version").get()).toEqual({ n: 1 });
    db.close();
  });

  it("refuses a database written by a newer bridge, and leaves it untouched", () => {
    const db = openDatabase(dbPath);
    migrate(db);
    db.prepare("UPDATE schema_version SET version = 99, compat = 99").run();
    expect(() => migrate(db)).toThrow(expect.objectContaining({ code: "database-too-new" }));
    expect(readSchemaVersion(db)).toEqual({ version: 99, compat: 99 });
    db.close();
  });

  it("runs a database whose newer schema is still compatible", () => {
    const db = openDatabase(dbPath);
    migrate(db);
    db.prepare("UPDATE schema_version SET version = 99, compat = 1").run();
    expect(() => migrate(db)).not.toThrow();
    db.close();
  });

  it("rolls a failing migration back as a whole", () => {
    const db = openDatabase(dbPath);
    const broken = [
      ...migrations,
      { version: migrations.length + 1, compat: 1, description: "broken", up: (d: typeof db) => d.exec("CREATE TABLE half (x); SELECT * FROM missing_table;") },
    ];
    expect(() => migrate(db, broken)).toThrow(/missing_table/);
    expect(readSchemaVersion(db)!.version).toBe(migrations.length);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'half'").get()).toBeUndefined();
    db.close();
  });
});

describe("credentials at rest", () => {
  it("stores provider credentials encrypted: the token is nowhere in the database file", () => {
    const storage = openStorage(dbPath, KEY);
    storage.controlRooms.upsert({ roomId: roomId("!room:localhost"), createdBy: userId("@a:localhost"), createdAt: 1, status: "active" });
    storage.links.save(link());
    expect(storage.links.get(linkId("lnk0000000000000001"))!.credentials.reveal()).toEqual({ authToken: TOKEN });
    storage.db.pragma("wal_checkpoint(TRUNCATE)");
    storage.close();
    expect(readFileSync(dbPath).includes(TOKEN)).toBe(false);
    const raw = new Database(dbPath).prepare("SELECT credentials FROM links").get() as { credentials: string };
    expect(raw.credentials).toMatch(/^v1:/);
  });

  it("refuses to open with a different key", () => {
    openStorage(dbPath, KEY).close();
    expect(() => openStorage(dbPath, new Secret("another-key-another-key-another-key"))).toThrow(
      expect.objectContaining({ code: "credential-key-mismatch" }),
    );
  });

  it("detects tampering with a stored secret", () => {
    const db = openDatabase(dbPath);
    migrate(db);
    const cipher = CredentialCipher.open(db, KEY);
    const sealed = cipher.encrypt("hello");
    const [v, iv, tag, data] = sealed.split(":");
    const flipped = Buffer.from(data!, "base64");
    flipped[0] = flipped[0]! ^ 1;
    expect(() => cipher.decrypt([v, iv, tag, flipped.toString("base64")].join(":"))).toThrow(/could not be decrypted/);
    db.close();
  });

  it.each([
    ["env:MY_KEY", { MY_KEY: "0123456789abcdef0123" }, "0123456789abcdef0123"],
    ["a-literal-key-that-is-long-enough-1234", {}, "a-literal-key-that-is-long-enough-1234"],
  ])("resolves the key %s", (spec, env, expected) => {
    expect(resolveCredentialKey(spec, env).reveal()).toBe(expected);
  });

  it("refuses a missing or short environment key, naming the variable", () => {
    expect(() => resolveCredentialKey("env:NOPE", {})).toThrow(/NOPE, which is not set/);
    expect(() => resolveCredentialKey("env:SHORT", { SHORT: "abc" })).toThrow(/shorter than 16/);
  });

  it("creates a key file readable only by its owner, and reads the same key back", () => {
    const file = path.join(dir, "keys", "credential.key");
    const first = resolveCredentialKey(`file:${file}`).reveal();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(resolveCredentialKey(`file:${file}`).reveal()).toBe(first);
    writeFileSync(file, "replaced-key-replaced-key\n");
    expect(resolveCredentialKey(`file:${file}`).reveal()).toBe("replaced-key-replaced-key");
  });
});

describe("stores", () => {
  it("keeps one number in one control room only", () => {
    const storage = openStorage(dbPath, KEY);
    for (const id of ["!room:localhost", "!b:localhost"]) {
      storage.controlRooms.upsert({ roomId: roomId(id), createdBy: userId("@a:localhost"), createdAt: 1, status: "active" });
    }
    storage.links.save(link());
    expect(storage.links.roomOfNumber("twilio", e164("+15550001111"))).toBe("!room:localhost");
    expect(() => storage.links.save(link({ id: linkId("lnk0000000000000002"), roomId: roomId("!b:localhost") }))).toThrow(/UNIQUE/);
    storage.close();
  });

  it("a new link of a room replaces the old one", () => {
    const storage = openStorage(dbPath, KEY);
    storage.controlRooms.upsert({ roomId: roomId("!room:localhost"), createdBy: userId("@a:localhost"), createdAt: 1, status: "active" });
    storage.links.save(link({ state: "bad-credentials" }));
    storage.links.save(link({ id: linkId("lnk0000000000000002"), phoneNumber: e164("+15550002222") }));
    expect(storage.links.list().map((l) => l.id)).toEqual(["lnk0000000000000002"]);
    storage.close();
  });

  it("the Matrix inbox drops replayed events and forgets what a user typed once it is handled", () => {
    const storage = openStorage(dbPath, KEY);
    const event = { event_id: "$e1", room_id: "!room:localhost", content: { body: `link twilio AC1 ${TOKEN} +1555` } };
    expect(storage.matrixEvents.accept(event, 1)).toBe(true);
    expect(storage.matrixEvents.accept(event, 2)).toBe(false);
    expect(storage.matrixEvents.pending().map((e) => e.eventId)).toEqual(["$e1"]);
    storage.matrixEvents.handled("$e1", 3);
    expect(storage.matrixEvents.pending()).toEqual([]);
    expect(storage.matrixEvents.accept(event, 4)).toBe(false);
    storage.db.pragma("wal_checkpoint(TRUNCATE)");
    storage.close();
    expect(readFileSync(dbPath).includes(TOKEN)).toBe(false);
  });
});
