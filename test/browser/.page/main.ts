/**
 * The browser test page: matrix-js-sdk's own 1:1 call stack (what Element uses) plus plain
 * RTCPeerConnections, driven from Node through `window.pstn` (see ../api.ts).
 */
// First: wrap RTCPeerConnection before the SDK module is evaluated.
import { candidateLog } from "./loopback.js";
import { detachMediaElement, record } from "./audio.js";
import { analyse } from "../analyse.js";
import { ClientEvent, createClient, createNewMatrixCall, type MatrixCall, type MatrixClient } from "matrix-js-sdk";
import { CallErrorCode, CallEvent, CallState } from "matrix-js-sdk/lib/webrtc/call.js";
import { CallEventHandlerEvent } from "matrix-js-sdk/lib/webrtc/callEventHandler.js";
import type { CandidateInfo, CandidatePairReport, LoginOptions, PstnPageApi } from "../api.js";

declare global {
  interface Window {
    pstn: PstnPageApi;
  }
}

const log: string[] = [];
const note = (line: string) => log.push(`${new Date().toISOString()} ${line}`);

let client: MatrixClient | undefined;
const calls = new Map<string, MatrixCall>();
const unclaimedIncoming: string[] = [];
const incomingWaiters: ((callId: string) => void)[] = [];
const raw = new Map<string, { pc: RTCPeerConnection; remote: MediaStream; local?: MediaStream }>();

function track(call: MatrixCall, direction: "incoming" | "outgoing"): void {
  calls.set(call.callId, call);
  note(`${call.callId} ${direction} call in ${call.roomId} state ${call.state}`);
  call.on(CallEvent.State, (state, oldState) => note(`${call.callId} state ${oldState} -> ${state}`));
  call.on(CallEvent.Hangup, () => note(`${call.callId} hangup party=${call.hangupParty} reason=${call.hangupReason}`));
  call.on(CallEvent.Error, (error) => note(`${call.callId} error ${error.code}: ${error.message}`));
  call.on(CallEvent.FeedsChanged, (feeds) =>
    note(`${call.callId} feeds ${feeds.map((f) => `${f.isLocal() ? "local" : "remote"}:${f.purpose}:${f.stream.id}`).join(", ")}`),
  );
}

function getCall(callId: string): MatrixCall {
  const call = calls.get(callId);
  if (!call) throw new Error(`no call ${callId} (known: ${[...calls.keys()].join(", ") || "none"})`);
  return call;
}

/** The peer connection and the remote audio stream of a session (call id or raw name). */
function session(name: string): { pc: RTCPeerConnection; remote: MediaStream } {
  const r = raw.get(name);
  if (r) return r;
  const call = getCall(name);
  const stream = call.remoteUsermediaStream;
  if (!call.peerConn) throw new Error(`call ${name} has no peer connection yet`);
  if (!stream) throw new Error(`call ${name} has no remote usermedia feed (state ${call.state})`);
  return { pc: call.peerConn, remote: stream };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; log:\n${log.slice(-30).join("\n")}`);
    await sleep(50);
  }
}

async function candidatePair(pc: RTCPeerConnection): Promise<CandidatePairReport | null> {
  const stats = await pc.getStats();
  const byId = new Map<string, Record<string, unknown>>();
  stats.forEach((report: Record<string, unknown>) => byId.set(report.id as string, report));
  let pairId: string | undefined;
  for (const report of byId.values()) {
    if (report.type === "transport" && typeof report.selectedCandidatePairId === "string") pairId = report.selectedCandidatePairId;
  }
  if (!pairId) {
    for (const report of byId.values()) {
      if (report.type === "candidate-pair" && report.nominated && report.state === "succeeded") pairId = report.id as string;
    }
  }
  const pair = pairId ? byId.get(pairId) : undefined;
  if (!pair) return null;
  const candidate = (id: unknown): CandidateInfo => {
    const c = byId.get(id as string) ?? {};
    return {
      address: String(c.address ?? c.ip ?? ""),
      port: Number(c.port ?? 0),
      protocol: String(c.protocol ?? ""),
      candidateType: String(c.candidateType ?? ""),
    };
  };
  let inboundCodec: string | null = null;
  let outboundCodec: string | null = null;
  let packetsReceived = 0;
  let packetsSent = 0;
  for (const report of byId.values()) {
    if (report.kind !== "audio") continue;
    if (report.type === "inbound-rtp") {
      packetsReceived += Number(report.packetsReceived ?? 0);
      inboundCodec = String(byId.get(report.codecId as string)?.mimeType ?? inboundCodec);
    } else if (report.type === "outbound-rtp") {
      packetsSent += Number(report.packetsSent ?? 0);
      outboundCodec = String(byId.get(report.codecId as string)?.mimeType ?? outboundCodec);
    }
  }
  return {
    state: String(pair.state),
    nominated: Boolean(pair.nominated),
    local: candidate(pair.localCandidateId),
    remote: candidate(pair.remoteCandidateId),
    bytesSent: Number(pair.bytesSent ?? 0),
    bytesReceived: Number(pair.bytesReceived ?? 0),
    inboundCodec,
    packetsReceived,
    outboundCodec,
    packetsSent,
  };
}

/** Waits until ICE gathering completes (loopback: a few ms), then returns the filtered local SDP. */
async function gathered(pc: RTCPeerConnection): Promise<string> {
  if (pc.iceGatheringState !== "complete") {
    await new Promise<void>((resolve) => {
      const done = () => {
        if (pc.iceGatheringState === "complete") {
          pc.removeEventListener("icegatheringstatechange", done);
          resolve();
        }
      };
      pc.addEventListener("icegatheringstatechange", done);
      setTimeout(resolve, 3000);
    });
  }
  return pc.localDescription!.sdp; // already loopback-only (see loopback.ts)
}

async function rawPeer(name: string): Promise<{ pc: RTCPeerConnection; remote: MediaStream }> {
  if (raw.has(name)) throw new Error(`raw session ${name} exists`);
  const pc = new RTCPeerConnection({ bundlePolicy: "max-bundle" });
  const remote = new MediaStream();
  pc.addEventListener("track", (event) => {
    note(`raw ${name} remote track ${event.track.kind} streams=${event.streams.map((s) => s.id).join(",")}`);
    remote.addTrack(event.track);
  });
  pc.addEventListener("connectionstatechange", () => note(`raw ${name} connection ${pc.connectionState}`));
  // No echo cancellation / noise suppression / AGC: they fade a steady tone out.
  const local = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    video: false,
  });
  for (const t of local.getTracks()) pc.addTrack(t, local);
  raw.set(name, { pc, remote, local });
  return { pc, remote };
}

const api: PstnPageApi = {
  async login(options: LoginOptions) {
    if (client) throw new Error("already logged in");
    client = createClient({
      baseUrl: options.baseUrl,
      userId: options.userId,
      accessToken: options.accessToken,
      deviceId: options.deviceId,
      // Never fall back to stun:turn.matrix.org when the homeserver has no TURN (offline tests).
      fallbackICEServerAllowed: false,
      iceCandidatePoolSize: 0,
      timelineSupport: false,
    });
    const processing = options.audioProcessing ?? false;
    await client.getMediaHandler().setAudioSettings({ autoGainControl: processing, echoCancellation: processing, noiseSuppression: processing });
    client.on(CallEventHandlerEvent.Incoming, (call: MatrixCall) => {
      track(call, "incoming");
      const waiter = incomingWaiters.shift();
      if (waiter) waiter(call.callId);
      else unclaimedIncoming.push(call.callId);
    });
    client.on(ClientEvent.TurnServersError, (error: Error) => note(`turnServers error: ${error.message}`));
    const c = client;
    const prepared = new Promise<void>((resolve, reject) => {
      const onSync = (state: string, _prev: string | null, data?: { error?: Error }) => {
        note(`sync ${state}`);
        if (state === "PREPARED") {
          c.off(ClientEvent.Sync, onSync);
          resolve();
        } else if (state === "ERROR") {
          c.off(ClientEvent.Sync, onSync);
          reject(new Error(`sync failed: ${data?.error?.message ?? "unknown"}`));
        }
      };
      c.on(ClientEvent.Sync, onSync);
    });
    await client.startClient({ initialSyncLimit: 1, lazyLoadMembers: false });
    await prepared;
    note(`logged in as ${options.userId} (${options.deviceId}), voip=${client.supportsVoip()}`);
  },

  async logout() {
    client?.stopClient();
    client = undefined;
  },

  waitForIncomingCall(timeoutMs) {
    const waiting = unclaimedIncoming.shift();
    if (waiting) return Promise.resolve(waiting);
    return new Promise((resolve, reject) => {
      const waiter = (callId: string) => {
        clearTimeout(timer);
        resolve(callId);
      };
      const timer = setTimeout(() => {
        incomingWaiters.splice(incomingWaiters.indexOf(waiter), 1);
        reject(new Error(`no incoming call within ${timeoutMs} ms; log:\n${log.slice(-20).join("\n")}`));
      }, timeoutMs);
      incomingWaiters.push(waiter);
    });
  },

  async answer(callId) {
    await getCall(callId).answer(true, false);
  },

  async reject(callId) {
    getCall(callId).reject();
  },

  async hangup(callId) {
    getCall(callId).hangup(CallErrorCode.UserHangup, false);
  },

  async placeCall(roomId) {
    if (!client) throw new Error("not logged in");
    const call = createNewMatrixCall(client, roomId);
    if (!call) throw new Error("matrix-js-sdk says this browser does not support calls");
    track(call, "outgoing");
    // Resolves once the local media is in and the peer connection exists; the invite follows.
    await call.placeVoiceCall();
    return call.callId;
  },

  state: (callId) => getCall(callId).state,

  async waitForState(callId, state, timeoutMs) {
    const call = getCall(callId);
    await waitUntil(() => call.state === state || (call.state === CallState.Ended && state !== CallState.Ended), timeoutMs, `call ${callId} to be ${state}`);
    if (call.state !== state) throw new Error(`call ${callId} ended (${call.hangupReason}) instead of reaching ${state}; log:\n${log.slice(-30).join("\n")}`);
  },

  hangupReason: (callId) => getCall(callId).hangupReason ?? null,
  hangupParty: (callId) => getCall(callId).hangupParty ?? null,
  events: () => [...log],

  async sendDtmf(name, digits) {
    const r = raw.get(name);
    const call = r ? undefined : getCall(name);
    const pc = r?.pc ?? call?.peerConn;
    const sender = pc?.getSenders().find((s) => s.track?.kind === "audio" && s.dtmf);
    if (!sender?.dtmf) throw new Error(`session ${name} has no audio sender with DTMF`);
    const dtmf = sender.dtmf;
    if (!dtmf.canInsertDTMF) throw new Error(`session ${name} cannot send DTMF (telephone-event not negotiated?)`);
    const played: string[] = [];
    for (const digit of digits) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          dtmf.removeEventListener("tonechange", onTone);
          reject(new Error(`DTMF ${digit} did not finish playing`));
        }, 3000);
        const onTone = (event: RTCDTMFToneChangeEvent) => {
          if (event.tone) {
            played.push(event.tone);
            return;
          }
          clearTimeout(timer);
          dtmf.removeEventListener("tonechange", onTone);
          resolve();
        };
        dtmf.addEventListener("tonechange", onTone);
        if (call) call.sendDtmfDigit(digit);
        else dtmf.insertDTMF(digit);
      });
      note(`${name} sent DTMF ${digit}`);
    }
    return played;
  },

  async detect(name, frequencies, ms) {
    const { remote } = session(name);
    const { samples, rate } = await record(remote, ms);
    return analyse(samples, rate, frequencies, 32767);
  },

  async measureRemote(name, ms) {
    const { remote } = session(name);
    const { samples, rate } = await record(remote, ms);
    return { samples: Array.from(samples), rate };
  },

  async candidatePair(name) {
    const r = raw.get(name);
    const pc = r ? r.pc : getCall(name).peerConn;
    if (!pc) throw new Error(`session ${name} has no peer connection`);
    return candidatePair(pc);
  },

  candidateLog: () => [...candidateLog],

  async rawOffer(name) {
    const { pc } = await rawPeer(name);
    await pc.setLocalDescription(await pc.createOffer());
    return gathered(pc);
  },

  async rawAccept(name, answerSdp) {
    const r = raw.get(name);
    if (!r) throw new Error(`no raw session ${name}`);
    await r.pc.setRemoteDescription({ type: "answer", sdp: answerSdp });
  },

  async rawAnswer(name, offerSdp) {
    const { pc } = await rawPeer(name);
    await pc.setRemoteDescription({ type: "offer", sdp: offerSdp });
    await pc.setLocalDescription(await pc.createAnswer());
    return gathered(pc);
  },

  rawState(name) {
    const r = raw.get(name);
    if (!r) throw new Error(`no raw session ${name}`);
    return r.pc.connectionState;
  },

  async rawConnected(name, timeoutMs) {
    const r = raw.get(name);
    if (!r) throw new Error(`no raw session ${name}`);
    await waitUntil(() => r.pc.connectionState === "connected", timeoutMs, `raw ${name} to connect (now ${r.pc.connectionState})`);
  },

  rawClose(name) {
    const r = raw.get(name);
    if (!r) return;
    detachMediaElement(r.remote);
    for (const t of r.local?.getTracks() ?? []) t.stop();
    r.pc.close();
    raw.delete(name);
  },
};

window.pstn = api;
note("page ready");
