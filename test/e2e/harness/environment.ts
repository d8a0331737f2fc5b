import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

/** What the global setup hands every e2e test file. */
export interface E2eEnvironment {
  homeserverUrl: string;
  serverName: string;
  sharedSecret: string;
  registrationPath: string;
  /** A bridge config with the homeserver and appservice parts filled in. */
  baseConfig: Record<string, Record<string, unknown>>;
  workDir: string;
}
