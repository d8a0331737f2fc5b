/**
 * The Matrix member's side of a call, played as their client would: the ghost's `m.call.invite`
 * (a PUT the bridge makes to the stub homeserver) is answered with a werift peer (set up like
 * the bridge's own MatrixPeer, loopback only: see member-peer.ts), and the member's `m.call.answer` goes to the bridge as an
 * appservice transaction from the stub, like any event from a homeserver user. The ghost's
 * trickled `m.call.candidates` are given to the peer; its `m.call.select_answer` marks the call
 * answered; its `m.call.hangup` ends this side.
 */
import { performance } from "node:perf_hooks";
import { answerContent, makePartyId } from "../../src/matrix/voip.js";
import type { StubEvent, StubHomeserver } from "../messaging/stub-homeserver.js";
import { readTag, type FrameLog } from "./media.js";
import { MemberPeer } from "./member-peer.js";

export class MatrixLeg {
  peer: MemberPeer | null = null;
  readonly partyId = makePartyId();
  matrixCallId: string | null = null;
  roomId: string | null = null;
  /** When the ghost's invite, our answer, the ghost's select_answer and hangup happened (performance.now()). */
  inviteAt = NaN;
  answerSentAt = NaN;
  answerComputeMs = NaN;
  selectedAt = NaN;
  hangupAt = NaN;
  hangupReason: string | null = null;
  error: string | null = null;
  invites = 0;
  otherAudio = 0;

  constructor(
    readonly slot: number,
    private readonly stub: StubHomeserver,
    private readonly member: string,
    /** Frames the bridge sends to the member (phone → matrix). */
    private readonly inbound: FrameLog,
  ) {}

  get connected(): boolean {
    return this.peer !== null && this.peer.connectionState === "connected" && Number.isNaN(this.hangupAt);
  }

  /** A call event the ghost sent (its PUT reached the stub at `at`). */
  async onGhostEvent(event: StubEvent, at: number): Promise<void> {
    const content = event.content;
    if (this.matrixCallId && content.call_id !== this.matrixCallId) return;
    switch (event.type) {
      case "m.call.invite":
        this.invites++;
        if (this.peer) return;
        this.inviteAt = at;
        this.matrixCallId = String(content.call_id);
        this.roomId = event.room_id;
        await this.answer(String((content.offer as { sdp?: unknown } | undefined)?.sdp ?? ""));
        return;
      case "m.call.candidates":
        for (const candidate of Array.isArray(content.candidates) ? (content.candidates as { candidate: string; sdpMid?: string | null; sdpMLineIndex?: number | null }[]) : []) {
          await this.peer?.addRemoteCandidate(candidate).catch(() => {});
        }
        return;
      case "m.call.select_answer":
        if (content.selected_party_id === this.partyId) this.selectedAt = at;
        return;
      case "m.call.hangup":
      case "m.call.reject":
        this.hangupAt = at;
        this.hangupReason = typeof content.reason === "string" ? content.reason : event.type;
        this.peer?.close();
        return;
    }
  }

  private async answer(offer: string): Promise<void> {
    try {
      const started = performance.now();
      const peer = new MemberPeer();
      this.peer = peer;
      peer.onAudio((mulaw) => {
        const at = performance.now();
        const tag = readTag(mulaw);
        if (!tag || tag.direction !== "phoneToMatrix" || tag.slot !== this.slot) {
          this.otherAudio++;
          return;
        }
        this.inbound.markReceived(tag.seq, at);
      });
      const sdp = await peer.acceptOffer(offer);
      this.answerComputeMs = performance.now() - started;
      this.answerSentAt = performance.now();
      this.stub.sendAs(this.member, this.roomId!, answerContent(this.matrixCallId!, this.partyId, sdp), "m.call.answer");
    } catch (err) {
      this.error = `could not answer: ${err instanceof Error ? err.message : String(err)}`;
    }
  }

  /** The member hangs up (only used when the phone side could not). */
  hangup(): void {
    if (!this.matrixCallId || !this.roomId || !Number.isNaN(this.hangupAt)) return;
    this.stub.sendAs(this.member, this.roomId, { call_id: this.matrixCallId, party_id: this.partyId, version: "1", reason: "user_hangup" }, "m.call.hangup");
  }

  close(): void {
    this.peer?.close();
  }
}
