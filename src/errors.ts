/**
 * Errors have three audiences: the user in the room (`userMessage`), the operator reading logs
 * (`message` + `context`), and code that branches on them (`code`, stable kebab-case, never
 * reworded once shipped). Wrap with `cause` to keep the chain.
 */
export type ErrorCode =
  | "config-invalid"
  | "database-too-new"
  | "credential-key-missing"
  | "credential-key-mismatch"
  | "provider-credentials-rejected"
  | "provider-number-not-found"
  | "provider-number-taken"
  | "provider-unavailable"
  | "provider-rejected"
  | "provider-unknown"
  | "command-unknown"
  | "command-usage"
  | "permission-denied"
  | "webhook-unknown-link"
  | "webhook-bad-signature"
  | "webhook-malformed"
  // Media: a malformed mxc URI or MIME type (our bug or bad input), a file over the size limit,
  // media the homeserver doesn't have, and the homeserver being unreachable or failing (the only
  // one worth retrying) or refusing the request outright (not worth retrying).
  | "media-invalid"
  | "media-too-large"
  | "media-not-found"
  | "matrix-unavailable"
  | "matrix-rejected"
  | "internal";

export interface BridgeErrorOptions {
  /** Short, plain words for the person in the Matrix room. Omit for errors users never see. */
  userMessage?: string;
  /** Structured fields for the log line: ids, never secrets or message bodies. */
  context?: Record<string, unknown>;
  cause?: unknown;
}

export class BridgeError extends Error {
  readonly code: ErrorCode;
  readonly userMessage: string | undefined;
  readonly context: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: BridgeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "BridgeError";
    this.code = code;
    this.userMessage = options.userMessage;
    this.context = options.context ?? {};
  }
}

export const isBridgeError = (err: unknown): err is BridgeError => err instanceof BridgeError;

/** The message a user should see for any error: the bridge's own words, or a generic apology. */
export function userMessageOf(err: unknown): string {
  if (isBridgeError(err) && err.userMessage) return err.userMessage;
  return "Something went wrong inside the bridge. The details are in the bridge's log.";
}

export function errorCodeOf(err: unknown): ErrorCode {
  return isBridgeError(err) ? err.code : "internal";
}
