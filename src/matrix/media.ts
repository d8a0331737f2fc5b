import { BridgeError } from "../errors.js";
import type { Secret } from "../secret.js";

/** Media can be large and a homeserver slow; this bounds one whole request, body included. */
const REQUEST_TIMEOUT_MS = 60_000;

// A server name is a hostname, an IPv4 address or a bracketed IPv6 address, with an optional port
// (spec appendix "Server name"); the media id grammar is the spec's. Anything looser could smuggle
// `/`, `?` or `..` into the homeserver URL we build from it.
const MXC = /^mxc:\/\/((?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?)\/([A-Za-z0-9_-]+)$/;

export interface MxcParts {
  serverName: string;
  mediaId: string;
}

/** Splits `mxc://server/mediaId`; refuses anything else with `media-invalid`. */
export function parseMxc(mxc: string): MxcParts {
  const match = MXC.exec(mxc);
  if (!match) {
    throw new BridgeError("media-invalid", "not a valid mxc URI", { context: { mxc: mxc.slice(0, 200) } });
  }
  return { serverName: match[1]!, mediaId: match[2]! };
}

export const isMxc = (value: string): boolean => MXC.test(value);

export interface DownloadedMedia {
  data: Buffer;
  /** As the homeserver sent it; `application/octet-stream` when it sent none. */
  contentType: string;
  size: number;
}

/**
 * The homeserver's media repository, as the appservice. Uploads go to the spec's
 * `POST /_matrix/media/v3/upload`, masquerading as a ghost with `user_id` so the ghost owns the
 * file; downloads use the authenticated `/_matrix/client/v1/media/download/...` (Synapse no longer
 * serves the unauthenticated `/_matrix/media/v3/download`). Every failure is a BridgeError:
 * `media-not-found` (404), `media-too-large`, `matrix-unavailable` (network, timeouts, 429, 5xx:
 * retry later) or `matrix-rejected` (any other refusal: retrying won't help).
 */
export class MatrixMedia {
  readonly #baseUrl: string;
  readonly #asToken: Secret<string>;
  readonly #fetch: typeof fetch;

  constructor(options: { homeserverUrl: string; asToken: Secret<string>; fetch?: typeof fetch }) {
    this.#baseUrl = options.homeserverUrl.replace(/\/+$/, "");
    this.#asToken = options.asToken;
    this.#fetch = options.fetch ?? fetch;
  }

  /** Uploads `data` and returns its `mxc://` URI. `asUser` must be in the appservice's namespace. */
  async upload(data: Buffer, options: { contentType: string; filename?: string; asUser?: string }): Promise<string> {
    const query = new URLSearchParams();
    if (options.filename) query.set("filename", options.filename);
    if (options.asUser) query.set("user_id", options.asUser);
    const url = `${this.#baseUrl}/_matrix/media/v3/upload${query.size ? `?${query}` : ""}`;
    const context = { action: "upload media", size: data.length, contentType: options.contentType };
    const response = await this.#request(url, { method: "POST", body: data, contentType: options.contentType }, context);
    if (!response.ok) throw await failure(response, context);
    const body = (await readJson(response, context)) as { content_uri?: unknown };
    if (typeof body.content_uri !== "string" || !isMxc(body.content_uri)) {
      throw new BridgeError("matrix-rejected", "homeserver answered an upload without a valid content_uri", { context });
    }
    return body.content_uri;
  }

  /**
   * Downloads the media behind `mxc`. With `maxBytes`, refuses a larger file (`media-too-large`)
   * without ever holding more than `maxBytes` of it: the declared length is checked first and the
   * bytes are counted as they arrive, since a length header is not a promise.
   */
  async download(mxc: string, options: { maxBytes?: number } = {}): Promise<DownloadedMedia> {
    // Both parts passed parseMxc's grammar, which only admits characters that are safe in a path.
    const { serverName, mediaId } = parseMxc(mxc);
    const url = `${this.#baseUrl}/_matrix/client/v1/media/download/${serverName}/${mediaId}`;
    const context = { action: "download media", mxc };
    const response = await this.#request(url, { method: "GET" }, context);
    if (!response.ok) throw await failure(response, context);

    const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
    const declared = Number(response.headers.get("content-length") ?? Number.NaN);
    if (Number.isFinite(declared) && declared > maxBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw tooLarge(context, maxBytes, declared);
    }
    const data = await readAtMost(response, maxBytes, context);
    return { data, contentType: response.headers.get("content-type") ?? "application/octet-stream", size: data.length };
  }

  async #request(
    url: string,
    init: { method: "GET" | "POST"; body?: Buffer; contentType?: string },
    context: Record<string, unknown>,
  ): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#asToken.reveal()}` };
    if (init.contentType) headers["content-type"] = init.contentType;
    try {
      return await this.#fetch(url, {
        method: init.method,
        headers,
        body: init.body,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      throw unavailable(context, err);
    }
  }
}

async function readAtMost(response: Response, maxBytes: number, context: Record<string, unknown>): Promise<Buffer> {
  if (!response.body) return Buffer.alloc(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge(context, maxBytes);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof BridgeError) throw err;
    // The connection dropped or the timeout fired halfway through the body.
    throw unavailable(context, err);
  }
  return Buffer.concat(chunks, total);
}

async function readJson(response: Response, context: Record<string, unknown>): Promise<unknown> {
  try {
    return await response.json();
  } catch (err) {
    throw new BridgeError("matrix-unavailable", "homeserver answered with a body that is not JSON", { context, cause: err });
  }
}

/** Maps a non-2xx answer, reading only the small JSON error body Matrix promises. */
async function failure(response: Response, context: Record<string, unknown>): Promise<BridgeError> {
  const text = await response.text().catch(() => "");
  let errcode: string | undefined;
  try {
    errcode = (JSON.parse(text) as { errcode?: string }).errcode;
  } catch {
    errcode = undefined;
  }
  const { status } = response;
  const details = { ...context, status, errcode };
  if (status === 404) {
    return new BridgeError("media-not-found", "homeserver has no such media", {
      userMessage: "The attachment is no longer on the homeserver.",
      context: details,
    });
  }
  if (status === 413 || errcode === "M_TOO_LARGE") {
    return new BridgeError("media-too-large", "homeserver refused the media as too large", {
      userMessage: "The attachment is larger than the homeserver accepts.",
      context: details,
    });
  }
  if (status === 429 || status >= 500) {
    return new BridgeError("matrix-unavailable", `homeserver failed to ${String(context.action)} (HTTP ${status})`, {
      userMessage: `The homeserver could not handle the attachment right now (HTTP ${status}).`,
      context: details,
    });
  }
  return new BridgeError("matrix-rejected", `homeserver refused to ${String(context.action)} (HTTP ${status})`, {
    userMessage: `The homeserver refused the attachment (${errcode ?? `HTTP ${status}`}).`,
    context: details,
  });
}

function unavailable(context: Record<string, unknown>, cause: unknown): BridgeError {
  return new BridgeError("matrix-unavailable", `homeserver could not be reached to ${String(context.action)}`, {
    userMessage: "The homeserver could not be reached for the attachment.",
    context,
    cause,
  });
}

function tooLarge(context: Record<string, unknown>, maxBytes: number, declared?: number): BridgeError {
  return new BridgeError("media-too-large", `media is larger than ${maxBytes} bytes`, {
    userMessage: `The attachment is too large to bridge (the limit is ${formatBytes(maxBytes)}).`,
    context: { ...context, maxBytes, declared },
  });
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} kB`;
  return `${bytes} bytes`;
}
