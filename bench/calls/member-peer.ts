/**
 * The Matrix member's WebRTC peer: werift, set up as the bridge's MatrixPeer (PCMU plus 8 kHz
 * telephone-event, loopback-only candidates and STUN filter, the same SDP clean-ups, answers sent
 * once gathering is complete, no history of sent packets), with one difference: its STUN
 * gathering ends at once.
 *
 * Why: werift falls back to stun.l.google.com:19302 when no STUN server is configured, and
 * gathering waits for that server-reflexive attempt (the bridge allows it 1 s). Here the name's
 * lookup sometimes stalls once many peers gather at once, which would be the harness's delay, not
 * the bridge's. This peer names a STUN server by IP literal (no lookup; nothing answers on that
 * port) and gives up on it after 1 ms.
 */
import { MediaStream, MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters, RtpHeader, RtpPacket, usePCMU, type RTCRtpTransceiver } from "werift";
import { candidateAllowed, filterSdpCandidates, forgetSentPackets, stripWideTelephoneEvents, type IceCandidate } from "../../src/media/webrtc/peer.js";

const GATHER_TIMEOUT_MS = 5_000;

export class MemberPeer {
  private readonly pc: RTCPeerConnection;
  private readonly track = new MediaStreamTrack({ kind: "audio" });
  private readonly stream = new MediaStream({ id: `member${Math.random().toString(36).slice(2, 10)}`, tracks: [] });
  private sequence = Math.floor(Math.random() * 0xffff);
  private timestamp = Math.floor(Math.random() * 0xffffffff);
  private readonly audioListeners: ((mulaw: Buffer) => void)[] = [];
  private closed = false;

  constructor() {
    this.pc = new RTCPeerConnection({
      iceServers: [{ urls: "stun:127.0.0.1:9" }],
      iceStunGatherTimeout: 0.001,
      codecs: {
        audio: [usePCMU(), new RTCRtpCodecParameters({ mimeType: "audio/telephone-event", clockRate: 8000, channels: 1, payloadType: 101 })],
        video: [],
      },
      iceAdditionalHostAddresses: ["127.0.0.1"],
      iceInterfaceAddresses: { udp4: "127.0.0.1" },
      iceUseIpv6: false,
      iceFilterStunResponse: (_message: unknown, address: readonly [string, number]) => address[0] === "127.0.0.1",
    });
    this.pc.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((rtp) => {
        if (rtp.header.payloadType === 0) for (const listener of this.audioListeners) listener(rtp.payload);
      });
    });
  }

  get connectionState(): string {
    return this.pc.connectionState;
  }

  onAudio(listener: (mulaw: Buffer) => void): void {
    this.audioListeners.push(listener);
  }

  /** Answers the ghost's offer (PCMU only), once every local candidate is in the SDP. */
  async acceptOffer(sdp: string): Promise<string> {
    await this.pc.setRemoteDescription({ type: "offer", sdp: stripWideTelephoneEvents(sdp) });
    const transceiver: RTCRtpTransceiver | undefined = this.pc.getTransceivers().find((t) => t.kind === "audio");
    if (!transceiver) throw new Error("the offer has no audio");
    forgetSentPackets(transceiver.sender);
    await transceiver.sender.replaceTrack(this.track);
    transceiver.sender.setStreams([this.stream]);
    transceiver.setDirection("sendrecv");
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    await this.gathered();
    return filterSdpCandidates(this.pc.localDescription!.sdp, true);
  }

  async addRemoteCandidate(candidate: IceCandidate): Promise<void> {
    if (!candidate.candidate || !candidateAllowed(candidate.candidate, true)) return;
    await this.pc.addIceCandidate({ candidate: candidate.candidate, sdpMid: candidate.sdpMid ?? undefined, sdpMLineIndex: candidate.sdpMLineIndex ?? undefined });
  }

  /** One 20 ms frame as one RTP packet. */
  sendAudio(mulaw: Buffer): void {
    if (this.closed) return;
    this.track.writeRtp(new RtpPacket(new RtpHeader({ sequenceNumber: this.sequence, timestamp: this.timestamp, payloadType: 0 }), mulaw));
    this.sequence = (this.sequence + 1) & 0xffff;
    this.timestamp = (this.timestamp + mulaw.length) >>> 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.pc.close().catch(() => {});
  }

  private gathered(): Promise<void> {
    if (this.pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, GATHER_TIMEOUT_MS);
      this.pc.iceGatheringStateChange.subscribe((state) => {
        if (state === "complete") {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }
}
