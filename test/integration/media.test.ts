import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Fastify, { type FastifyInstance } from "fastify";
import { dump } from "js-yaml";
import { pino } from "pino";
import { SimulatedClock } from "xstate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mediaRoutes } from "../../src/http/media-route.js";
import { MatrixMedia } from "../../src/matrix/media.js";
import { MediaUrlSigner } from "../../src/media/signed-urls.js";
import { ensureSynapse, freeLoopbackPort, startSynapse, type RunningSynapse } from "../../src/sandbox/synapse.js";
import { Secret } from "../../src/secret.js";
import { png } from "../helpers/png.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const cacheDir = path.join(repoRoot, ".cache", "synapse-venv");
const serverName = "localhost";
const asToken = randomBytes(16).toString("hex");
const ghost = "@_pstn_15557654321:localhost";
const TTL_MS = 10 * 60_000;

/** Passes requests through but drops Content-Length, as a chunked or lying server would. */
const withoutLength: typeof fetch = async (input, init) => {
  const response = await fetch(input, init);
  const headers = new Headers(response.headers);
  headers.delete("content-length");
  return new Response(response.body, { status: response.status, headers });
};

async function registerGhost(url: string, localpart: string): Promise<void> {
  const response = await fetch(`${url}/_matrix/client/v3/register`, {
    method: "POST",
    headers: { authorization: `Bearer ${asToken}`, "content-type": "application/json" },
    body: JSON.stringify({ type: "m.login.application_service", username: localpart, inhibit_login: true }),
  });
  if (response.status !== 200) throw new Error(`registering ${localpart}: ${response.status} ${await response.text()}`);
}

describe("Matrix media against Synapse", () => {
  let dataDir: string;
  let synapse: RunningSynapse;
  let media: MatrixMedia;
  let adminToken: string;
  let picture: Buffer;
  let pictureMxc: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), "pstn-media-"));
    const registration = path.join(dataDir, "pstn-registration.yaml");
    await writeFile(
      registration,
      dump({
        id: "pstn-media-test",
        // Nothing listens on the discard port; Synapse only needs a URL to accept the file.
        url: "http://127.0.0.1:9",
        as_token: asToken,
        hs_token: randomBytes(16).toString("hex"),
        sender_localpart: "_pstn_",
        rate_limited: false,
        namespaces: { users: [{ exclusive: true, regex: "@_pstn_.*:localhost" }], aliases: [], rooms: [] },
      }),
    );
    const install = await ensureSynapse({ cacheDir });
    synapse = await startSynapse({ install, dataDir, serverName, appserviceRegistrations: [registration] });
    await registerGhost(synapse.url, "_pstn_15557654321");
    adminToken = (await synapse.registerUser("admin", "admin-password", { admin: true })).accessToken;
    media = new MatrixMedia({ homeserverUrl: synapse.url, asToken: new Secret(asToken) });
    picture = png(40, 30, "noise");
  }, 300_000);

  afterAll(async () => {
    await synapse?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  describe("MatrixMedia", () => {
    it("uploads as the ghost, who then owns the file", async () => {
      pictureMxc = await media.upload(picture, { contentType: "image/png", filename: "photo.png", asUser: ghost });
      expect(pictureMxc).toMatch(/^mxc:\/\/localhost\/[A-Za-z0-9_-]+$/);

      const mediaId = pictureMxc.split("/").pop()!;
      const response = await fetch(`${synapse.url}/_synapse/admin/v1/media/localhost/${mediaId}`, {
        headers: { authorization: `Bearer ${adminToken}` },
      });
      const { media_info } = (await response.json()) as { media_info: Record<string, unknown> };
      expect(media_info).toMatchObject({ user_id: ghost, upload_name: "photo.png", media_type: "image/png", media_length: picture.length });
    });

    it("downloads it back byte for byte with its content type", async () => {
      const downloaded = await media.download(pictureMxc);
      expect(downloaded.contentType).toBe("image/png");
      expect(downloaded.size).toBe(picture.length);
      expect(downloaded.data.equals(picture)).toBe(true);
    });

    it("uploads as the appservice's own user when no ghost is named", async () => {
      const mxc = await media.upload(Buffer.from("hello"), { contentType: "text/plain" });
      expect((await media.download(mxc)).data.toString()).toBe("hello");
    });

    it("accepts a file exactly at maxBytes and refuses one byte more, by header or by count", async () => {
      expect((await media.download(pictureMxc, { maxBytes: picture.length })).size).toBe(picture.length);
      await expect(media.download(pictureMxc, { maxBytes: picture.length - 1 })).rejects.toMatchObject({
        code: "media-too-large",
        context: { declared: picture.length },
      });

      const counting = new MatrixMedia({ homeserverUrl: synapse.url, asToken: new Secret(asToken), fetch: withoutLength });
      expect((await counting.download(pictureMxc, { maxBytes: picture.length })).data.equals(picture)).toBe(true);
      await expect(counting.download(pictureMxc, { maxBytes: picture.length - 1 })).rejects.toMatchObject({
        code: "media-too-large",
        context: { declared: undefined },
      });
    });

    it("reports unknown media as not found", async () => {
      await expect(media.download("mxc://localhost/doesNotExist123")).rejects.toMatchObject({
        code: "media-not-found",
        context: { status: 404, errcode: "M_NOT_FOUND" },
      });
    });

    it.each(["https://localhost/abc", "mxc://localhost/", "mxc:///abc", "mxc://localhost/a/b", "mxc://localhost/../admin", "mxc://local host/abc"])(
      "refuses %j without asking the homeserver",
      async (mxc) => {
        const untouchable = new MatrixMedia({
          homeserverUrl: synapse.url,
          asToken: new Secret(asToken),
          fetch: () => Promise.reject(new Error("must not be called")),
        });
        await expect(untouchable.download(mxc)).rejects.toMatchObject({ code: "media-invalid" });
      },
    );

    it("calls a refusal from the homeserver rejected, not unavailable", async () => {
      // Outside the appservice's namespace: Synapse answers 403 and retrying would not help.
      await expect(media.upload(picture, { contentType: "image/png", asUser: "@alice:localhost" })).rejects.toMatchObject({
        code: "matrix-rejected",
        context: { status: 403 },
      });
      const wrongToken = new MatrixMedia({ homeserverUrl: synapse.url, asToken: new Secret("not-the-token") });
      await expect(wrongToken.download(pictureMxc)).rejects.toMatchObject({ code: "matrix-rejected", context: { status: 401 } });
    });

    it("calls a homeserver that isn't there unavailable", async () => {
      const down = new MatrixMedia({ homeserverUrl: `http://127.0.0.1:${await freeLoopbackPort()}`, asToken: new Secret(asToken) });
      await expect(down.download(pictureMxc)).rejects.toMatchObject({ code: "matrix-unavailable" });
      await expect(down.upload(picture, { contentType: "image/png" })).rejects.toMatchObject({ code: "matrix-unavailable" });
    });
  });

  describe("the signed media route", () => {
    const clock = new SimulatedClock();
    clock.set(1_700_000_000_000);
    const signer = new MediaUrlSigner(new Secret(randomBytes(32)), clock);
    const logLines: string[] = [];
    const log = pino({ level: "debug" }, { write: (line: string) => void logLines.push(line) });
    let app: FastifyInstance;

    async function appFor(source: Pick<MatrixMedia, "download">, maxBytes = 5 * 1024 * 1024): Promise<FastifyInstance> {
      const instance = Fastify();
      await instance.register(mediaRoutes, { prefix: "/media", signer, media: source, maxBytes, log, clock });
      return instance;
    }

    beforeAll(async () => {
      app = await appFor(media);
    });

    afterAll(async () => {
      await app?.close();
    });

    it("serves the file for a valid token, with or without a file name after it", async () => {
      const token = signer.sign({ mxc: pictureMxc, contentType: "image/png", filename: "photo.png" }, TTL_MS);
      for (const url of [`/media/${token}`, `/media/${token}/photo.png`]) {
        const response = await app.inject({ method: "GET", url });
        expect(response.statusCode).toBe(200);
        expect(response.headers).toMatchObject({
          "content-type": "image/png",
          "content-length": String(picture.length),
          "cache-control": "private, max-age=600",
          "x-content-type-options": "nosniff",
        });
        expect(response.rawPayload.equals(picture)).toBe(true);
      }
    });

    it("answers HEAD with the headers and no body", async () => {
      const token = signer.sign({ mxc: pictureMxc, contentType: "image/png" }, TTL_MS);
      const response = await app.inject({ method: "HEAD", url: `/media/${token}` });
      expect(response.statusCode).toBe(200);
      expect(response.headers).toMatchObject({ "content-type": "image/png", "content-length": String(picture.length) });
      expect(response.rawPayload.length).toBe(0);
    });

    it("serves the content type the token names, and shortens the cache lifetime as the token ages", async () => {
      const token = signer.sign({ mxc: pictureMxc, contentType: "application/octet-stream" }, TTL_MS);
      clock.increment(4 * 60_000 + 500);
      const response = await app.inject({ method: "GET", url: `/media/${token}` });
      expect(response.headers).toMatchObject({ "content-type": "application/octet-stream", "cache-control": "private, max-age=359" });
    });

    it("answers 403 for a bad signature, 404 for a malformed token and 410 for an expired one", async () => {
      const token = signer.sign({ mxc: pictureMxc, contentType: "image/png" }, TTL_MS);
      const otherSigner = new MediaUrlSigner(randomBytes(32), clock);
      const forged = otherSigner.sign({ mxc: pictureMxc, contentType: "image/png" }, TTL_MS);
      const expired = signer.sign({ mxc: pictureMxc, contentType: "image/png" }, 1_000);
      clock.increment(1_000);

      const status = async (url: string) => (await app.inject({ method: "GET", url })).statusCode;
      expect(await status(`/media/${forged}`)).toBe(403);
      expect(await status(`/media/${token.slice(0, 20)}`)).toBe(404);
      expect(await status("/media/")).toBe(404);
      expect(await status("/media/not-a-token/photo.png")).toBe(404);
      expect(await status(`/media/${expired}`)).toBe(410);
      expect(await status(`/media/${expired}/photo.png`)).toBe(410);
      expect(await status(`/media/${token}`)).toBe(200);
    });

    it("answers 404 for a valid token whose media is gone", async () => {
      const token = signer.sign({ mxc: "mxc://localhost/doesNotExist123", contentType: "image/png" }, TTL_MS);
      const response = await app.inject({ method: "GET", url: `/media/${token}` });
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ code: "media-not-found" });
    });

    it("answers 413 for media over the route's limit", async () => {
      const small = await appFor(media, 100);
      const token = signer.sign({ mxc: pictureMxc, contentType: "image/png" }, TTL_MS);
      const response = await small.inject({ method: "GET", url: `/media/${token}` });
      await small.close();
      expect(response.statusCode).toBe(413);
      expect(response.json()).toMatchObject({ code: "media-too-large" });
    });

    it("answers 502 when the homeserver is down", async () => {
      const down = new MatrixMedia({ homeserverUrl: `http://127.0.0.1:${await freeLoopbackPort()}`, asToken: new Secret(asToken) });
      const broken = await appFor(down);
      const token = signer.sign({ mxc: pictureMxc, contentType: "image/png" }, TTL_MS);
      const response = await broken.inject({ method: "GET", url: `/media/${token}` });
      await broken.close();
      expect(response.statusCode).toBe(502);
      expect(response.json()).toEqual({ error: "internal error", code: "matrix-unavailable" });
    });

    it("never wrote a token or the appservice token to its log", () => {
      const text = logLines.join("");
      expect(logLines.length).toBeGreaterThan(0);
      expect(text).toContain("tokenId");
      expect(text).not.toMatch(/[A-Za-z0-9_-]{40,}\.[A-Za-z0-9_-]{43}/);
      expect(text).not.toContain(asToken);
    });
  });
});
