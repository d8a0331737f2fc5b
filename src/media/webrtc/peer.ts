import {
  MediaStream,
  MediaStreamTrack,
  RTCPeerConnection,
  RTCRtpCodecParameters,
  RtpHeader,
  RtpPacket,
  usePCMU,
  type RTCIceServer,
  type RTCRtpTransceiver,
} from "werift";

/**
 * The bridge's end of a WebRTC call with a Matrix client, in werift. Audio is PCMU only (G.711
 * µ-law at 8 kHz, RTP payload type 0): exactly what phone networks and Twilio's Media Streams
 * carry, so frames cross between the two without transcoding. Keys come as RFC 4733
 * telephone-events.
 */

export interface PeerOptions {
  iceServers: RTCIceServer[];
  /** Offer and accept only 127.0.0.1 candidates (everything on one machine: sandbox, tests). */
  loopbackOnly: boolean;
}

export interface IceCandidate {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
}

const TELEPHONE_EVENT_PT = 101;
const DTMF_KEYS = "0123456789*#ABCD";
/**
 * How long werift waits for a STUN server's answer (the server-reflexive candidate) before it
 * ends gathering, in seconds; its own default is 5. Our SDP waits for gathering, so this bounds
 * what a slow or unreachable STUN server (werift asks stun.l.google.com when none is configured)
 * adds to call setup. A reachable one answers within a few hundred ms.
 */
const STUN_GATHER_TIMEOUT_S = 1;
/** A guard in case gathering never reports complete. */
const GATHER_TIMEOUT_MS = 5_000;
const LOOPBACK = /\s127\.0\.0\.1\s/;

/** Is this candidate line one we may use? Always yes, unless media must stay on loopback. */
export function candidateAllowed(candidate: string, loopbackOnly: boolean): boolean {
  return !loopbackOnly || LOOPBACK.test(` ${candidate} `);
}

/** Drops candidate lines an SDP must not carry (non-loopback ones, on one machine). */
export function filterSdpCandidates(sdp: string, loopbackOnly: boolean): string {
  if (!loopbackOnly) return sdp;
  return sdp
    .split("\r\n")
    .filter((line) => !line.startsWith("a=candidate:") || candidateAllowed(line.slice(2), true))
    .join("\r\n");
}

/**
 * werift matches a remote codec by MIME type only, so a 48 kHz telephone-event in Chrome's offer
 * would be answered as if it were ours at 8 kHz. Only the 8 kHz one is kept.
 */
export function stripWideTelephoneEvents(sdp: string): string {
  const wide = new Set<string>();
  for (const match of sdp.matchAll(/a=rtpmap:(\d+) telephone-event\/(\d+)/gi)) {
    if (match[2] !== "8000") wide.add(match[1]!);
  }
  if (wide.size === 0) return sdp;
  return sdp
    .split("\r\n")
    .filter((line) => {
      const pt = /^a=(?:rtpmap|fmtp|rtcp-fb):(\d+)/.exec(line)?.[1];
      return !pt || !wide.has(pt);
    })
    .map((line) => (line.startsWith("m=audio ") ? line.split(" ").filter((part, i) => i < 3 || !wide.has(part)).join(" ") : line))
    .join("\r\n");
}

/**
 * werift's sender keeps its last 128 RTP packets for NACK retransmission, negotiated or not. We
 * never negotiate NACK (PCMU has no rtcp-fb here), so that history only costs: with many calls
 * the packets outlive V8's young generation, and each major GC then holds every call's audio for
 * ~100 ms (bench/calls). A sink in its place keeps nothing. The peer test notices if werift
 * renames the field.
 */
export function forgetSentPackets(sender: object): boolean {
  if (!Array.isArray((sender as { rtpCache?: unknown }).rtpCache)) return false;
  const sink = new Proxy([] as unknown[], { set: () => true });
  Object.defineProperty(sender, "rtpCache", { configurable: true, get: () => sink, set: () => {} });
  return true;
}

export class MatrixPeer {
  private readonly pc: RTCPeerConnection;
  private readonly track = new MediaStreamTrack({ kind: "audio" });
  private readonly stream = new MediaStream({ id: `pstn${Math.random().toString(36).slice(2, 10)}`, tracks: [] });
  private sequence = Math.floor(Math.random() * 0xffff);
  private timestamp = Math.floor(Math.random() * 0xffffffff);
  private readonly audioListeners: ((mulaw: Buffer) => void)[] = [];
  private readonly digitListeners: ((digit: string) => void)[] = [];
  private readonly candidateListeners: ((candidate: IceCandidate | null) => void)[] = [];
  /** Candidates found after our SDP was sent, kept until someone listens for them. */
  private readonly unsentCandidates: (IceCandidate | null)[] = [];
  private sdpSent = false;
  private lastDigitTimestamp = -1;
  private closed = false;

  constructor(private readonly options: PeerOptions) {
    this.pc = new RTCPeerConnection({
      iceServers: options.iceServers,
      iceStunGatherTimeout: STUN_GATHER_TIMEOUT_S,
      codecs: {
        audio: [usePCMU(), new RTCRtpCodecParameters({ mimeType: "audio/telephone-event", clockRate: 8000, channels: 1, payloadType: TELEPHONE_EVENT_PT })],
        video: [],
      },
      // werift skips loopback when gathering unless told; the STUN filter keeps the chosen pair on it.
      ...(options.loopbackOnly
        ? {
            iceAdditionalHostAddresses: ["127.0.0.1"],
            iceInterfaceAddresses: { udp4: "127.0.0.1" },
            iceUseIpv6: false,
            iceFilterStunResponse: (_message: unknown, address: readonly [string, number]) => address[0] === "127.0.0.1",
          }
        : {}),
    });
    this.pc.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((rtp) => this.receive(rtp));
    });
    this.pc.onIceCandidate.subscribe((candidate) => {
      // Until our SDP is sent, candidates go out in it.
      if (!this.sdpSent) return;
      if (candidate && !candidateAllowed(candidate.candidate, this.options.loopbackOnly)) return;
      const value = candidate ? { candidate: candidate.candidate, sdpMid: candidate.sdpMid ?? null, sdpMLineIndex: candidate.sdpMLineIndex ?? null } : null;
      if (this.candidateListeners.length === 0) this.unsentCandidates.push(value);
      for (const listener of this.candidateListeners) listener(value);
    });
  }

  get connectionState(): string {
    return this.pc.connectionState;
  }

  onAudio(listener: (mulaw: Buffer) => void): void {
    this.audioListeners.push(listener);
  }

  onDigit(listener: (digit: string) => void): void {
    this.digitListeners.push(listener);
  }

  /** Local candidates as they are found; null once gathering is complete. */
  onCandidate(listener: (candidate: IceCandidate | null) => void): void {
    this.candidateListeners.push(listener);
    for (const candidate of this.unsentCandidates.splice(0)) listener(candidate);
  }

  /** The bridge calls a Matrix user: an offer with our audio track on a named stream (Element needs its msid). */
  async createOffer(): Promise<string> {
    forgetSentPackets(this.pc.addTransceiver(this.track, { direction: "sendrecv", streams: [this.stream] }).sender);
    await this.pc.setLocalDescription(await this.pc.createOffer());
    return this.localSdp();
  }

  /** A Matrix user calls the bridge: answer their offer with PCMU only. */
  async acceptOffer(sdp: string): Promise<string> {
    await this.pc.setRemoteDescription({ type: "offer", sdp: stripWideTelephoneEvents(sdp) });
    // The transceiver setRemoteDescription made is receive-only until given our track and stream.
    const transceiver: RTCRtpTransceiver | undefined = this.pc.getTransceivers().find((t) => t.kind === "audio");
    if (!transceiver) throw new Error("the offer has no audio");
    forgetSentPackets(transceiver.sender);
    await transceiver.sender.replaceTrack(this.track);
    transceiver.sender.setStreams([this.stream]);
    transceiver.setDirection("sendrecv");
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    return this.localSdp();
  }

  async acceptAnswer(sdp: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: "answer", sdp });
  }

  async addRemoteCandidate(candidate: IceCandidate): Promise<void> {
    if (!candidate.candidate || !candidateAllowed(candidate.candidate, this.options.loopbackOnly)) return;
    await this.pc.addIceCandidate({ candidate: candidate.candidate, sdpMid: candidate.sdpMid ?? undefined, sdpMLineIndex: candidate.sdpMLineIndex ?? undefined });
  }

  /** Sends µ-law audio to the Matrix user, in RTP packets of 20 ms. */
  sendAudio(mulaw: Buffer): void {
    if (this.closed) return;
    for (let at = 0; at < mulaw.length; at += 160) {
      const payload = mulaw.subarray(at, Math.min(at + 160, mulaw.length));
      this.track.writeRtp(new RtpPacket(new RtpHeader({ sequenceNumber: this.sequence, timestamp: this.timestamp, payloadType: 0 }), payload));
      this.sequence = (this.sequence + 1) & 0xffff;
      this.timestamp = (this.timestamp + payload.length) >>> 0;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.pc.close().catch(() => {});
  }

  private async localSdp(): Promise<string> {
    await this.gathered();
    this.sdpSent = true;
    return filterSdpCandidates(this.pc.localDescription!.sdp, this.options.loopbackOnly);
  }

  private gathered(): Promise<void> {
    if (this.pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, GATHER_TIMEOUT_MS);
      const subscription = this.pc.iceGatheringStateChange.subscribe((state) => {
        if (state === "complete") done();
      });
      function done() {
        clearTimeout(timer);
        subscription.unSubscribe();
        resolve();
      }
    });
  }

  private receive(rtp: RtpPacket): void {
    if (rtp.header.payloadType === 0) {
      for (const listener of this.audioListeners) listener(rtp.payload);
      return;
    }
    // The only dynamic payload type we negotiate is telephone-event, whatever number the offer gave it.
    if (rtp.header.payloadType < 96 || rtp.payload.length !== 4) return;
    // RFC 4733: event, end bit; a key is repeated in several packets with one timestamp.
    const event = rtp.payload[0]!;
    const end = (rtp.payload[1]! & 0x80) !== 0;
    if (!end || rtp.header.timestamp === this.lastDigitTimestamp || event >= DTMF_KEYS.length) return;
    this.lastDigitTimestamp = rtp.header.timestamp;
    for (const listener of this.digitListeners) listener(DTMF_KEYS[event]!);
  }
}
