import { createHash } from "node:crypto";
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { systemClock, type Clock } from "../clock.js";
import { isBridgeError } from "../errors.js";
import type { Logger } from "../log.js";
import type { MatrixMedia } from "../matrix/media.js";
import type { MediaUrlSigner } from "../media/signed-urls.js";
import { installErrorHandler } from "./errors.js";

export interface MediaRouteOptions {
  signer: MediaUrlSigner;
  media: Pick<MatrixMedia, "download">;
  /** Larger files are refused (413) rather than held in memory. */
  maxBytes: number;
  log: Logger;
  /** For the cache lifetime; should be the signer's clock. */
  clock?: Clock;
}

const REFUSALS = {
  malformed: { status: 404, error: "no such media" },
  "bad-signature": { status: 403, error: "bad signature" },
  expired: { status: 410, error: "link expired" },
} as const;

/**
 * The public side of outbound MMS: `GET /<token>` or `GET /<token>/<file name>` (some carriers
 * want the URL to end in a file name; it is ignored, the token says which file). The provider
 * fetches the URL we gave it; we check the token and proxy the bytes from the homeserver, which
 * only hands media to authenticated users. HEAD is Fastify's automatic one: it runs the same
 * handler, so it fetches the media too, and answers with its real length.
 *
 * Tokens are longer than Fastify's 100-character limit on a `:param`, hence the wildcard.
 */
export const mediaRoutes: FastifyPluginAsync<MediaRouteOptions> = async (app, options) => {
  const clock = options.clock ?? systemClock;
  const log = options.log.child({ component: "media-route" });
  // This plugin's failures map through the same one table wherever it is mounted.
  installErrorHandler(app, log);

  app.get("/*", async (request: FastifyRequest<{ Params: { "*": string } }>, reply) => {
    const token = request.params["*"].split("/")[0] ?? "";
    const tokenId = fingerprint(token);
    const check = options.signer.verify(token);
    if ("error" in check) {
      const refusal = REFUSALS[check.error];
      log.info({ tokenId, reason: check.error }, "refused a media request");
      return reply.code(refusal.status).send({ error: refusal.error });
    }

    const { ref, expiresAt } = check;
    let media;
    try {
      media = await options.media.download(ref.mxc, { maxBytes: options.maxBytes });
    } catch (err) {
      if (isBridgeError(err)) log.warn({ tokenId, mxc: ref.mxc, code: err.code }, "could not serve signed media");
      throw err;
    }
    const maxAge = Math.max(0, Math.floor((expiresAt - clock.now()) / 1000));
    log.debug({ tokenId, mxc: ref.mxc, size: media.size }, "served signed media");
    return reply
      .code(200)
      .header("content-type", ref.contentType)
      .header("content-length", String(media.size))
      // Not for shared caches: the URL is a capability for one recipient.
      .header("cache-control", `private, max-age=${maxAge}`)
      // The content type comes from a Matrix event, i.e. from a user: never let a browser run it
      // as a page on the bridge's public origin.
      .header("x-content-type-options", "nosniff")
      .header("content-security-policy", "sandbox; default-src 'none'")
      .send(media.data);
  });
};

/** Enough to match log lines about one token, never enough to use it. */
function fingerprint(token: string): string {
  return createHash("sha256").update(token).digest("base64url").slice(0, 12);
}
