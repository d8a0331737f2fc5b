import { initial } from "./001-initial.js";
import { texting } from "./002-texting.js";
import { calls } from "./003-calls.js";
import { queueIndexes } from "./004-queue-indexes.js";
import type { Migration } from "./migration.js";

export type { Migration };

export const migrations: readonly Migration[] = [initial, texting, calls, queueIndexes];
