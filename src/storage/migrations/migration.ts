import type { Db } from "../db.js";

/**
 * One step of the schema. `version` numbers are consecutive from 1. `compat` is the oldest code
 * version that can still run on the schema after this step: code refuses to start when the
 * database's compat is newer than the newest version it knows.
 */
export interface Migration {
  version: number;
  compat: number;
  description: string;
  up: (db: Db) => void;
}
