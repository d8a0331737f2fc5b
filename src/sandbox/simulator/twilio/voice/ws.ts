import { createRequire } from "node:module";
import type { ClientRequest, IncomingMessage } from "node:http";

/**
 * The `ws` package (installed with @fastify/websocket), typed by hand: the project has no
 * `@types/ws`, and a global module declaration would collide with whatever the rest of the
 * project declares. Only what the simulator and its tests use is described.
 */

export type WsData = Buffer | ArrayBuffer | Buffer[];

export interface WsSocket {
  readonly readyState: number;
  readonly protocol: string;
  send(data: string | Buffer | Uint8Array, callback?: (err?: Error) => void): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  on(event: "open", listener: () => void): this;
  on(event: "message", listener: (data: WsData, isBinary: boolean) => void): this;
  on(event: "close", listener: (code: number, reason: Buffer) => void): this;
  on(event: "error", listener: (err: Error) => void): this;
  on(event: "unexpected-response", listener: (request: ClientRequest, response: IncomingMessage) => void): this;
  on(event: "upgrade", listener: (response: IncomingMessage) => void): this;
  off(event: string, listener: (...args: never[]) => void): this;
}

export interface WsClientOptions {
  headers?: Record<string, string>;
  handshakeTimeout?: number;
  /** Largest message accepted; Twilio-sized media payloads are small, but be generous. */
  maxPayload?: number;
}

export interface WsConstructor {
  new (url: string, options?: WsClientOptions): WsSocket;
  new (url: string, protocols: string[], options?: WsClientOptions): WsSocket;
  readonly CONNECTING: 0;
  readonly OPEN: 1;
  readonly CLOSING: 2;
  readonly CLOSED: 3;
}

const require = createRequire(import.meta.url);

/** `ws`'s WebSocket class (client side: custom headers on the upgrade request). */
export const WebSocketClient: WsConstructor = (require("ws") as { WebSocket: WsConstructor }).WebSocket;

export const WS_OPEN = 1;

/** The bytes of a message, whatever shape `ws` delivered them in. */
export function wsBytes(data: WsData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
