import { BridgeError } from "../errors.js";
import type { Db } from "./db.js";
import { migrations as knownMigrations, type Migration } from "./migrations/index.js";

export interface SchemaVersion {
  version: number;
  compat: number;
}

export function readSchemaVersion(db: Db): SchemaVersion | null {
  const table = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").get();
  if (!table) return null;
  const row = db.prepare("SELECT version, compat FROM schema_version").get() as SchemaVersion | undefined;
  return row ?? null;
}

/**
 * Brings the schema up to date, one transaction per step. Refuses to touch a database whose
 * schema a newer bridge wrote and this code cannot read (its compat version is beyond ours).
 */
export function migrate(db: Db, migrations: readonly Migration[] = knownMigrations): SchemaVersion {
  const latest = migrations.at(-1)?.version ?? 0;
  db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, compat INTEGER NOT NULL)");
  let current = readSchemaVersion(db) ?? { version: 0, compat: 0 };
  if (current.compat > latest) {
    throw new BridgeError(
      "database-too-new",
      `the database schema is version ${current.version} (needs code that knows version ${current.compat}), but this bridge only knows up to version ${latest}`,
      {
        userMessage: "The database was written by a newer version of the bridge. Upgrade the bridge, or restore a backup.",
        context: { dbVersion: current.version, dbCompat: current.compat, codeVersion: latest },
      },
    );
  }
  for (const step of migrations) {
    if (step.version <= current.version) continue;
    db.transaction(() => {
      step.up(db);
      db.exec("DELETE FROM schema_version");
      db.prepare("INSERT INTO schema_version (version, compat) VALUES (?, ?)").run(step.version, step.compat);
    })();
    current = { version: step.version, compat: step.compat };
  }
  return current;
}
