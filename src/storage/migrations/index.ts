import { initial } from "./001-initial.js";
import type { Migration } from "./migration.js";

export type { Migration };

export const migrations: readonly Migration[] = [initial];
