import type { ErrorCode } from "../errors.js";
import type { E164, ProviderKind, RoomId } from "../ids.js";
import type { Balance } from "../providers/types.js";

/** The states of a link, as machines report them and notices name them. */
export type LinkStateName = "linking" | "linked" | "degraded" | "bad-credentials" | "paused" | "unlinking" | "unlinked";

/**
 * What machines tell the people in a control room. Machines only say *what* happened; the
 * Matrix layer (`matrix/render.ts`) decides the words, so wording never touches the state logic.
 */
export type Notice =
  | { kind: "link.started"; provider: ProviderKind; number: E164 }
  | { kind: "link.linked"; provider: ProviderKind; number: E164; accountName: string; warnings: string[] }
  | { kind: "link.failed"; provider: ProviderKind; number: E164; code: ErrorCode; reason: string }
  | { kind: "link.degraded"; provider: ProviderKind; reason: string; retryInMs: number }
  | { kind: "link.recovered"; provider: ProviderKind; number: E164 }
  | { kind: "link.repaired"; provider: ProviderKind; number: E164 }
  | {
      kind: "link.status";
      state: LinkStateName;
      provider: ProviderKind;
      number: E164;
      accountRef: string;
      balance: Balance | null;
      reason: string | null;
    }
  | { kind: "link.unlinked"; number: E164; restored: boolean; reason: string | null; previous: Record<string, string | null> | null }
  | { kind: "link.unlink-retrying"; reason: string; retryInMs: number }
  | { kind: "link.busy"; number: E164; state: LinkStateName }
  | { kind: "link.none" }
  | { kind: "room.paused" }
  | { kind: "room.resumed" }
  | { kind: "internal-error"; what: string };

/** Where machines' notices go: the Matrix side implements it (`matrix/notifier.ts`). */
export interface NoticeSink {
  notice(roomId: RoomId, notice: Notice): void;
}
