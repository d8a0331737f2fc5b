/**
 * What the browser test page exposes as `window.pstn`, shared by the page (which implements it)
 * and the Node side (which calls it through playwright's `page.evaluate`). Plain data only: every
 * argument and result crosses the page boundary as JSON.
 *
 * "Sessions" are peer connections the page knows about: a matrix-js-sdk call (keyed by its call
 * id) or a plain RTCPeerConnection made with `rawOffer`/`rawAnswer` (keyed by the name given).
 * `detect`, `measureRemote` and `candidatePair` work on either.
 */
export interface LoginOptions {
  baseUrl: string;
  userId: string;
  accessToken: string;
  deviceId: string;
  /**
   * Chrome's microphone processing (echo cancellation, noise suppression, auto gain). Off by
   * default: noise suppression treats a steady test tone as noise and fades it out within
   * seconds. Element leaves it on; real speech survives it, tones don't.
   */
  audioProcessing?: boolean;
}

export interface ToneDetection {
  /** For each requested frequency (as a string key): its mean share of the energy (0..1) over the loud 50 ms blocks. */
  shares: Record<string, number>;
  /** For each frequency: the fraction of loud blocks where it held at least half the energy. */
  hits: Record<string, number>;
  /** RMS of the whole capture, as a fraction of full scale (0 = silence). */
  rms: number;
  /** 50 ms blocks analysed / of those, louder than the silence threshold. */
  blocks: number;
  loudBlocks: number;
  /** The sample rate the samples were taken at (the page's AudioContext runs at 48 kHz). */
  rate: number;
}

export interface CandidateInfo {
  address: string;
  port: number;
  protocol: string;
  candidateType: string;
}

/** The ICE candidate pair a peer connection is sending media over, from `getStats()`. */
export interface CandidatePairReport {
  state: string;
  nominated: boolean;
  local: CandidateInfo;
  remote: CandidateInfo;
  bytesSent: number;
  bytesReceived: number;
  /** The inbound audio RTP stream's codec, e.g. "audio/PCMU", and packet count. */
  inboundCodec: string | null;
  packetsReceived: number;
  outboundCodec: string | null;
  packetsSent: number;
}

/** One ICE candidate the loopback guard saw; `kept` false means it was dropped. */
export interface CandidateLogEntry {
  direction: "local" | "remote";
  candidate: string;
  kept: boolean;
}

export interface PstnPageApi {
  /** Starts matrix-js-sdk (no crypto) and resolves once the first sync is PREPARED. */
  login(options: LoginOptions): Promise<void>;
  /** Stops the client (ends nothing by itself). */
  logout(): Promise<void>;
  /** Resolves with the call id of the next (or an already waiting, unclaimed) incoming call. */
  waitForIncomingCall(timeoutMs: number): Promise<string>;
  /** `call.answer()`; resolves once the SDK has the local media and answered (not when connected). */
  answer(callId: string): Promise<void>;
  /** `call.reject()` (the call must be ringing). */
  reject(callId: string): Promise<void>;
  /** `call.hangup("user_hangup", false)`. */
  hangup(callId: string): Promise<void>;
  /** `createNewMatrixCall(client, roomId)` + `placeVoiceCall()`; resolves with the call id once the invite is being set up. */
  placeCall(roomId: string): Promise<string>;
  /** The call's `CallState` ("ringing", "connecting", "connected", "ended", …). */
  state(callId: string): string;
  /** Resolves when the call reaches `state` (or rejects with the event log after `timeoutMs`). */
  waitForState(callId: string, state: string, timeoutMs: number): Promise<void>;
  /** `call.hangupReason` (e.g. "user_hangup", "invite_timeout"), or null while it hasn't ended. */
  hangupReason(callId: string): string | null;
  /** "local" or "remote" once ended, else null. */
  hangupParty(callId: string): string | null;
  /** Timestamped log: call state changes, hangups, errors, feeds, candidate filtering. */
  events(): string[];
  /**
   * Sends DTMF as RFC 4733 events (RTCDTMFSender): on a call through `call.sendDtmfDigit(d)`, on a
   * raw session through the audio sender. One digit at a time, each after the previous one has
   * played (insertDTMF replaces what is still queued, so Element-style per-key calls made in a
   * quick loop would drop digits). Resolves with the tones the sender reported playing; needs
   * telephone-event/8000 negotiated.
   */
  sendDtmf(session: string, digits: string): Promise<string[]>;
  /** Records the session's remote audio for `ms` and runs Goertzel on it for each frequency. */
  detect(session: string, frequencies: number[], ms: number): Promise<ToneDetection>;
  /** Records the session's remote audio for `ms` (samples are -1..1 floats at `rate`). */
  measureRemote(session: string, ms: number): Promise<{ samples: number[]; rate: number }>;
  /** The selected ICE candidate pair and RTP counters, or null before ICE has a pair. */
  candidatePair(session: string): Promise<CandidatePairReport | null>;
  /** Every candidate the loopback guard saw, local and remote. */
  candidateLog(): CandidateLogEntry[];

  /** A plain RTCPeerConnection with the fake microphone: returns its offer (candidates gathered, loopback only). */
  rawOffer(name: string): Promise<string>;
  /** Applies the answer to a `rawOffer` connection. */
  rawAccept(name: string, answerSdp: string): Promise<void>;
  /** A plain RTCPeerConnection answering `offerSdp` with the fake microphone; returns its answer. */
  rawAnswer(name: string, offerSdp: string): Promise<string>;
  /** `connectionState` of a raw connection. */
  rawState(name: string): string;
  /** Resolves when the raw connection's `connectionState` is "connected". */
  rawConnected(name: string, timeoutMs: number): Promise<void>;
  rawClose(name: string): void;
}
