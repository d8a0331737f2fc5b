/**
 * Listening to a peer connection's remote audio in the page: MediaStream → WebAudio
 * (MediaStreamAudioSourceNode → AudioWorklet that posts its input blocks); ../analyse.ts runs
 * Goertzel on the result.
 *
 * Chrome quirk: a remote WebRTC stream fed only into WebAudio yields silence unless the same
 * stream is also playing in a media element (crbug.com/933677); a muted <audio> is enough, so
 * every stream we listen to is also attached to one.
 */

const RECORDER = `
class Recorder extends AudioWorkletProcessor {
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) this.port.postMessage(channel.slice(0));
    return true;
  }
}
registerProcessor("pstn-recorder", Recorder);
`;

let context: AudioContext | undefined;
let workletReady: Promise<void> | undefined;
const mediaElements = new WeakMap<MediaStream, HTMLAudioElement>();

async function audioContext(): Promise<AudioContext> {
  // A fixed rate, whatever the machine's audio device (headless Chromium defaults to 44.1 kHz here).
  context ??= new AudioContext({ sampleRate: 48_000 });
  workletReady ??= context.audioWorklet.addModule(URL.createObjectURL(new Blob([RECORDER], { type: "text/javascript" })));
  await workletReady;
  if (context.state !== "running") await context.resume();
  return context;
}

/** Plays the stream in a muted <audio> element (the Chrome WebAudio workaround above). */
export function attachToMediaElement(stream: MediaStream): void {
  if (mediaElements.has(stream)) return;
  const element = document.createElement("audio");
  element.muted = true;
  element.autoplay = true;
  element.srcObject = stream;
  document.body.append(element);
  mediaElements.set(stream, element);
  void element.play().catch(() => undefined);
}

export function detachMediaElement(stream: MediaStream): void {
  const element = mediaElements.get(stream);
  if (!element) return;
  element.srcObject = null;
  element.remove();
  mediaElements.delete(stream);
}

/** Records `ms` of the stream's first audio track as -1..1 floats at the AudioContext rate. */
export async function record(stream: MediaStream, ms: number): Promise<{ samples: Float32Array; rate: number }> {
  if (stream.getAudioTracks().length === 0) throw new Error(`stream ${stream.id} has no audio track`);
  attachToMediaElement(stream);
  const ctx = await audioContext();
  const source = ctx.createMediaStreamSource(stream);
  const recorder = new AudioWorkletNode(ctx, "pstn-recorder", { numberOfInputs: 1, numberOfOutputs: 0, channelCount: 1 });
  const chunks: Float32Array[] = [];
  recorder.port.onmessage = (event: MessageEvent<Float32Array>) => chunks.push(event.data);
  source.connect(recorder);
  await new Promise((resolve) => setTimeout(resolve, ms));
  source.disconnect();
  recorder.port.onmessage = null;
  const samples = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    samples.set(chunk, at);
    at += chunk.length;
  }
  return { samples, rate: ctx.sampleRate };
}
