import { createHmac, randomBytes } from "node:crypto";
import { SimulatedClock } from "xstate";
import { describe, expect, it } from "vitest";
import { MediaUrlSigner, type MediaRef } from "../../src/media/signed-urls.js";
import { Secret } from "../../src/secret.js";

const KEY = Buffer.alloc(32, 7);
const REF: MediaRef = { mxc: "mxc://localhost/AbCdEf_123-x", contentType: "image/jpeg", filename: "photo.jpg" };
const TTL_MS = 10 * 60_000;

function makeSigner(key: Buffer | Secret<Buffer> = KEY) {
  const clock = new SimulatedClock();
  clock.set(1_700_000_000_000);
  return { clock, signer: new MediaUrlSigner(key, clock) };
}

/** Signs arbitrary payload text with the right key, as only a bug on our side could. */
function forge(text: string): string {
  const encoded = Buffer.from(text).toString("base64url");
  return `${encoded}.${createHmac("sha256", KEY).update(encoded).digest("base64url")}`;
}

describe("MediaUrlSigner", () => {
  it("gives back the ref and its expiry for a fresh token", () => {
    const { signer, clock } = makeSigner();
    const token = signer.sign(REF, TTL_MS);
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(signer.verify(token)).toEqual({ ref: REF, expiresAt: clock.now() + TTL_MS });
  });

  it("takes the key wrapped in a Secret and leaves out an absent file name", () => {
    const { signer } = makeSigner(new Secret(KEY));
    const ref = { mxc: REF.mxc, contentType: "audio/amr" };
    const check = signer.verify(signer.sign(ref, TTL_MS));
    expect(check).toMatchObject({ ref });
    expect("ref" in check && "filename" in check.ref).toBe(false);
  });

  it("expires exactly at the deadline, by the injected clock", () => {
    const { signer, clock } = makeSigner();
    const token = signer.sign(REF, TTL_MS);
    clock.increment(TTL_MS - 1);
    expect(signer.verify(token)).toMatchObject({ ref: REF });
    clock.increment(1);
    expect(signer.verify(token)).toEqual({ error: "expired" });
  });

  it("refuses a token signed with another key", () => {
    const token = makeSigner(randomBytes(32)).signer.sign(REF, TTL_MS);
    expect(makeSigner().signer.verify(token)).toEqual({ error: "bad-signature" });
  });

  it("checks the signature before the expiry", () => {
    const { signer, clock } = makeSigner();
    const [payload] = signer.sign(REF, TTL_MS).split(".");
    const other = makeSigner(randomBytes(32)).signer.sign(REF, TTL_MS).split(".")[1];
    clock.increment(TTL_MS * 2);
    expect(signer.verify(`${payload}.${other}`)).toEqual({ error: "bad-signature" });
  });

  it.each([
    ["another mxc", { mxc: "mxc://localhost/someoneElse" }],
    ["a later expiry", { e: 1_800_000_000_000 }],
    ["another content type", { t: "text/html" }],
  ])("refuses a payload changed to %s", (_what, change) => {
    const { signer } = makeSigner();
    const [payload, signature] = signer.sign(REF, TTL_MS).split(".") as [string, string];
    const decoded = JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>;
    const tampered = Buffer.from(JSON.stringify({ ...decoded, ...change })).toString("base64url");
    expect(signer.verify(`${tampered}.${signature}`)).toEqual({ error: "bad-signature" });
  });

  it("refuses a signature with one bit flipped", () => {
    const { signer } = makeSigner();
    const [payload, signature] = signer.sign(REF, TTL_MS).split(".") as [string, string];
    const bytes = Buffer.from(signature, "base64url");
    bytes[5]! ^= 0x01;
    expect(signer.verify(`${payload}.${bytes.toString("base64url")}`)).toEqual({ error: "bad-signature" });
  });

  it.each([
    ["empty", ""],
    ["no dot", "abcdef"],
    ["three parts", "a.b.c"],
    ["empty signature", "abc."],
    ["empty payload", ".abc"],
    ["not base64url", "ab+c/.de=f"],
    ["short signature", `abc.${Buffer.alloc(16).toString("base64url")}`],
    ["long signature", `abc.${Buffer.alloc(33).toString("base64url")}`],
    ["URL-encoded junk", "%2e%2e%2fetc"],
  ])("calls a token with %s malformed", (_what, token) => {
    expect(makeSigner().signer.verify(token)).toEqual({ error: "malformed" });
  });

  it("accepts only the canonical spelling of a signature", () => {
    const { signer } = makeSigner();
    const token = signer.sign(REF, TTL_MS);
    const last = token.at(-1)!;
    // 32 bytes use 4 of the last character's 6 bits; the other 2 are padding a decoder ignores.
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const sibling = alphabet[alphabet.indexOf(last) ^ 0b0001]!;
    expect(Buffer.from(token.slice(0, -1) + sibling, "base64url")).toEqual(Buffer.from(token, "base64url"));
    expect(signer.verify(token.slice(0, -1) + sibling)).toEqual({ error: "malformed" });
  });

  it.each([
    ["not JSON", "{not json"],
    ["an unknown version", { v: 2, m: REF.mxc, t: "image/png", e: 1_900_000_000_000 }],
    ["a bad mxc", { v: 1, m: "https://evil.example/x", t: "image/png", e: 1_900_000_000_000 }],
    ["a header-breaking type", { v: 1, m: REF.mxc, t: "image/png\r\nx-evil: 1", e: 1_900_000_000_000 }],
    ["no expiry", { v: 1, m: REF.mxc, t: "image/png" }],
  ])("calls a correctly signed payload with %s malformed", (_what, payload) => {
    const token = forge(typeof payload === "string" ? payload : JSON.stringify(payload));
    expect(makeSigner().signer.verify(token)).toEqual({ error: "malformed" });
  });

  it.each([
    ["a non-mxc URI", { ...REF, mxc: "https://example.org/a.png" }],
    ["an mxc with a path", { ...REF, mxc: "mxc://localhost/a/../b" }],
    ["an mxc without a media id", { ...REF, mxc: "mxc://localhost/" }],
    ["a content type with a newline", { ...REF, contentType: "image/png\nx: y" }],
  ])("refuses to sign %s", (_what, ref) => {
    expect(() => makeSigner().signer.sign(ref, TTL_MS)).toThrow(expect.objectContaining({ code: "media-invalid" }));
  });

  it.each([[0], [-1], [Number.NaN], [Number.POSITIVE_INFINITY]])("refuses the lifetime %s", (ttl) => {
    expect(() => makeSigner().signer.sign(REF, ttl)).toThrow(expect.objectContaining({ code: "internal" }));
  });

  it("refuses a short key", () => {
    expect(() => new MediaUrlSigner(Buffer.alloc(16), new SimulatedClock())).toThrow(
      expect.objectContaining({ code: "config-invalid" }),
    );
  });
});
