import type { WebSocket } from "@fastify/websocket";
import type { Logger } from "../../log.js";
import type { ProviderMediaStream } from "../types.js";

interface StartMessage {
  event: "start";
  streamSid: string;
  start: { callSid: string; streamSid: string; customParameters?: Record<string, string>; mediaFormat?: { encoding?: string } };
}

/**
 * One Twilio Media Streams websocket, as the bridge's provider-neutral media stream. Twilio sends
 * `connected`, `start`, then `media` (20 ms of µ-law, base64), `dtmf`, `mark` and `stop`, all as
 * text frames with string counters; it takes `media` of any length, `mark` and `clear` back.
 * `onStart` fires once the `start` message names the call.
 */
export function acceptTwilioStream(socket: WebSocket, log: Logger, onStart: (stream: ProviderMediaStream) => void): void {
  const audio: ((mulaw: Buffer) => void)[] = [];
  const digits: ((digit: string) => void)[] = [];
  const closes: (() => void)[] = [];
  let streamSid: string | null = null;
  let closed = false;

  const send = (message: Record<string, unknown>) => {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
  };
  const finish = () => {
    if (closed) return;
    closed = true;
    for (const listener of closes) listener();
  };

  // Listeners first, synchronously: Twilio starts talking as soon as the socket is open.
  socket.on("message", (data: Buffer) => {
    let message: { event?: string; media?: { payload?: string }; dtmf?: { digit?: string } };
    try {
      message = JSON.parse(data.toString("utf8")) as typeof message;
    } catch {
      log.warn("media stream message that isn't JSON");
      return;
    }
    switch (message.event) {
      case "start": {
        if (streamSid) return;
        const start = message as unknown as StartMessage;
        streamSid = start.start?.streamSid ?? start.streamSid;
        onStart({
          providerCallId: start.start.callSid,
          parameters: start.start.customParameters ?? {},
          onAudio: (listener) => void audio.push(listener),
          onDigit: (listener) => void digits.push(listener),
          onClose: (listener) => void closes.push(listener),
          sendAudio: (mulaw) => {
            if (streamSid) send({ event: "media", streamSid, media: { payload: mulaw.toString("base64") } });
          },
          clearAudio: () => {
            if (streamSid) send({ event: "clear", streamSid });
          },
          close: () => {
            socket.close(1000);
            finish();
          },
        });
        return;
      }
      case "media": {
        const payload = message.media?.payload;
        if (!payload) return;
        const mulaw = Buffer.from(payload, "base64");
        for (const listener of audio) listener(mulaw);
        return;
      }
      case "dtmf": {
        const digit = message.dtmf?.digit;
        if (digit) for (const listener of digits) listener(digit);
        return;
      }
      case "stop":
        finish();
        return;
      default:
        return;
    }
  });
  socket.on("close", finish);
  socket.on("error", (err: Error) => log.warn({ err }, "media stream error"));
}
