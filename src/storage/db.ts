import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";

export type Db = Database.Database;

/**
 * Opens the bridge's SQLite database. WAL lets the debug endpoint read while the bridge writes;
 * synchronous=NORMAL in WAL mode keeps every committed transaction across a process crash (only
 * an OS crash or power loss can lose the last ones); secure_delete overwrites removed rows so a
 * credential that was deleted does not linger in free pages.
 */
export function openDatabase(path: string): Db {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  db.pragma("secure_delete = ON");
  return db;
}

/**
 * Prepared statements by their SQL, compiled once per connection: preparing on every call cost a
 * tenth of the bridge's CPU per text and left native objects for the garbage collector.
 */
export function statements(db: Db): (sql: string) => Database.Statement {
  const cache = new Map<string, Database.Statement>();
  return (sql) => {
    let statement = cache.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      cache.set(sql, statement);
    }
    return statement;
  };
}
