import { createHmac, timingSafeEqual } from "node:crypto";
import type { Clock } from "../clock.js";
import { BridgeError } from "../errors.js";
import { isMxc } from "../matrix/media.js";
import { isSecret, type Secret } from "../secret.js";

/** What a signed media URL lets its holder fetch: one Matrix file, served as `contentType`. */
export interface MediaRef {
  mxc: string;
  contentType: string;
  filename?: string;
}

export type MediaTokenCheck =
  | { ref: MediaRef; expiresAt: number }
  | { error: "malformed" | "bad-signature" | "expired" };

/** Short keys: the token travels in a URL that carriers may have to store and fetch. */
interface Payload {
  v: 1;
  m: string;
  t: string;
  f?: string;
  /** Expiry, epoch milliseconds. */
  e: number;
}

const MIN_KEY_BYTES = 32;
const SIGNATURE_BYTES = 32;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
// type/subtype with optional parameters, and no control characters: it becomes a response header.
const CONTENT_TYPE = /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(?:\s*;[\x20-\x7e]*)?$/;

/**
 * Capability tokens for the public media route: `base64url(JSON) + "." + base64url(HMAC-SHA256)`.
 * The HMAC covers the encoded payload text, so nothing an outsider sent is parsed before its
 * signature is checked. Tokens are not secret from whoever holds the URL (the provider, the
 * carrier) and cannot be revoked; a short lifetime is what limits them.
 */
export class MediaUrlSigner {
  readonly #key: Buffer;

  constructor(
    key: Secret<Buffer> | Buffer,
    private readonly clock: Clock,
  ) {
    this.#key = isSecret(key) ? key.reveal() : key;
    if (this.#key.length < MIN_KEY_BYTES) {
      throw new BridgeError("config-invalid", `the media URL signing key must be at least ${MIN_KEY_BYTES} bytes`);
    }
  }

  /** A URL-safe token for `ref`, valid for `ttlMs` from now. Refuses a ref the route couldn't serve. */
  sign(ref: MediaRef, ttlMs: number): string {
    if (!isMxc(ref.mxc) || !CONTENT_TYPE.test(ref.contentType)) {
      throw new BridgeError("media-invalid", "refusing to sign a media ref with a malformed mxc URI or content type", {
        context: { mxc: ref.mxc.slice(0, 200), contentType: ref.contentType.slice(0, 100) },
      });
    }
    if (!(ttlMs > 0 && Number.isFinite(ttlMs))) {
      throw new BridgeError("internal", "media URL lifetime must be a positive number of milliseconds", { context: { ttlMs } });
    }
    const payload: Payload = { v: 1, m: ref.mxc, t: ref.contentType, e: this.clock.now() + ttlMs };
    if (ref.filename) payload.f = ref.filename;
    const encoded = Buffer.from(JSON.stringify(payload), "utf8").toString("base64url");
    return `${encoded}.${this.#mac(encoded).toString("base64url")}`;
  }

  /**
   * Checks a token as it came off the URL. Never throws: the route turns each outcome into its
   * own status. The signature is checked before the payload is read or its expiry looked at.
   */
  verify(token: string): MediaTokenCheck {
    const parts = token.split(".");
    if (parts.length !== 2) return { error: "malformed" };
    const [encoded, signature] = parts as [string, string];
    if (!BASE64URL.test(encoded) || !BASE64URL.test(signature)) return { error: "malformed" };
    const given = Buffer.from(signature, "base64url");
    // Canonical form only: base64 lets a last character's spare bits vary, and one signature
    // should have one spelling.
    if (given.length !== SIGNATURE_BYTES || given.toString("base64url") !== signature) return { error: "malformed" };
    if (!timingSafeEqual(given, this.#mac(encoded))) return { error: "bad-signature" };

    const payload = decode(encoded);
    if (!payload) return { error: "malformed" };
    if (this.clock.now() >= payload.e) return { error: "expired" };
    const ref: MediaRef = { mxc: payload.m, contentType: payload.t };
    if (payload.f !== undefined) ref.filename = payload.f;
    return { ref, expiresAt: payload.e };
  }

  #mac(encodedPayload: string): Buffer {
    return createHmac("sha256", this.#key).update(encodedPayload, "utf8").digest();
  }
}

/** Only reached for tokens we signed, so a bad shape means an older format or a bug: malformed. */
function decode(encoded: string): Payload | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(encoded, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const p = value as Record<string, unknown>;
  const valid =
    p.v === 1 &&
    typeof p.m === "string" &&
    isMxc(p.m) &&
    typeof p.t === "string" &&
    CONTENT_TYPE.test(p.t) &&
    (p.f === undefined || typeof p.f === "string") &&
    typeof p.e === "number" &&
    Number.isFinite(p.e);
  return valid ? (value as Payload) : undefined;
}
