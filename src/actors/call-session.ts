import type { Clock } from "../clock.js";
import { errorCodeOf } from "../errors.js";
import type { EventId, PortalId, RoomId, UserId } from "../ids.js";
import type { Logger } from "../log.js";
import type { CallEvent, Leg } from "../machines/call.machine.js";
import type { ControlRoomEvent } from "../machines/control-room.machine.js";
import { dtmf, frames, ringback, toMulaw } from "../media/audio/tones.js";
import { MatrixPeer, type IceCandidate, type PeerOptions } from "../media/webrtc/peer.js";
import type { MatrixGateway } from "../matrix/gateway.js";
import type { PortalRooms } from "../matrix/portals.js";
import {
  answerContent,
  candidatesContent,
  hangupContent,
  hangupReasonFor,
  inviteContent,
  makeMatrixCallId,
  makePartyId,
  rejectContent,
  selectAnswerContent,
  type HangupReason,
} from "../matrix/voip.js";
import type { ProviderMediaStream } from "../providers/types.js";
import type { Storage } from "../storage/index.js";
import type { CallEndReason } from "../storage/calls.js";

export interface CallSessionDeps {
  storage: Storage;
  matrix: MatrixGateway;
  portals: PortalRooms;
  clock: Clock;
  log: Logger;
  loopbackMediaOnly: boolean;
  iceServers: PeerOptions["iceServers"];
  /** Tells the call's actor something happened. */
  report(controlRoomId: RoomId, event: ControlRoomEvent): void;
}

/** One Matrix side of a call: a member's client, our peer for it, and where it stands. */
interface LegState {
  leg: Leg;
  /** Our party id in this Matrix call. */
  partyId: string;
  /** Their party id, once they answered (inbound) or from their invite (outbound). */
  theirParty: string | null;
  peer: MatrixPeer | null;
  /** Their offer, for a call they placed (answered once the phone answers). */
  offer: string | null;
  /** Candidates that arrived before there was a peer to give them to. */
  pending: IceCandidate[];
  ended: boolean;
}

/** How often trickled candidates are sent, batched (the spec suggests batching). */
const CANDIDATE_BATCH_MS = 100;

/**
 * The live parts of one call: the provider's media stream, one werift peer per Matrix leg, the
 * ringback, the audio bridge. The call machine decides; this does. Every method is safe to call
 * twice and never throws at its caller for a far side that went away: failures are logged, and
 * the ones that matter reach the machine as events.
 */
export class CallSession {
  private stream: ProviderMediaStream | null = null;
  private readonly legs = new Map<string, LegState>();
  private ringbackTimer: NodeJS.Timeout | null = null;
  private ringbackAt = 0;
  private bridged: LegState | null = null;
  private readonly wired = new WeakSet<MatrixPeer>();
  private finished = false;
  /** The call is ringing: a stream that opens now plays ringback at once. */
  private ringing = false;
  private readonly log: Logger;

  constructor(
    readonly callId: string,
    readonly portalId: PortalId,
    readonly controlRoomId: RoomId,
    private readonly deps: CallSessionDeps,
  ) {
    this.log = deps.log.child({ callId });
  }

  private get ghost(): UserId {
    return this.deps.portals.ghostOf(this.deps.storage.portals.get(this.portalId)!);
  }

  private report(event: CallEvent): void {
    this.deps.report(this.controlRoomId, { type: "call.event", callId: this.callId, event });
  }

  // ── The provider's side ────────────────────────────────────────────────────────────────

  attachStream(stream: ProviderMediaStream): void {
    if (this.stream || this.finished) {
      stream.close();
      return;
    }
    this.stream = stream;
    stream.onDigit((digit) => this.phoneKey(digit));
    stream.onClose(() => {
      if (this.stream === stream) this.stream = null;
    });
    this.connectAudio();
    if (this.ringing) this.startRingback();
    this.report({ type: "stream.started" });
  }

  /** The caller hears ringback while Matrix rings. */
  startRingback(): void {
    this.ringing = true;
    if (this.ringbackTimer || !this.stream) return;
    const tick = () => {
      // 100 ms at a time, paced by the clock: Twilio plays what it gets in order.
      this.stream?.sendAudio(toMulaw(ringback(100, this.ringbackAt)));
      this.ringbackAt += 100;
    };
    tick();
    this.ringbackTimer = setInterval(tick, 100);
  }

  stopRingback(): void {
    this.ringing = false;
    if (this.ringbackTimer) clearInterval(this.ringbackTimer);
    this.ringbackTimer = null;
    this.stream?.clearAudio();
  }

  /** Voicemail: closing the stream makes the provider ask what next, and the plan is voicemail. */
  closeStream(): boolean {
    this.stopRingback();
    if (!this.stream) return false;
    this.stream.close();
    this.stream = null;
    return true;
  }

  // ── The Matrix side ────────────────────────────────────────────────────────────────────

  /** Rings every member, each in their own room with the ghost; returns how many were rung. */
  async ring(rooms: { userId: UserId; roomId: RoomId }[], lifetimeMs: number): Promise<number> {
    const ghost = this.ghost;
    let rung = 0;
    await Promise.all(
      rooms.map(async ({ userId, roomId }) => {
        const state: LegState = {
          leg: { matrixCallId: makeMatrixCallId(), roomId, userId },
          partyId: makePartyId(),
          theirParty: null,
          peer: new MatrixPeer({ iceServers: this.deps.iceServers, loopbackOnly: this.deps.loopbackMediaOnly }),
          offer: null,
          pending: [],
          ended: false,
        };
        try {
          const offer = await state.peer!.createOffer();
          this.legs.set(state.leg.matrixCallId, state);
          this.deps.storage.calls.addLeg({ callId: this.callId, matrixCallId: state.leg.matrixCallId, partyId: state.partyId, roomId, userId });
          this.trickle(state, ghost);
          await this.deps.matrix.sendAs(ghost, roomId, `pstn.invite.${state.leg.matrixCallId}`, inviteContent(state.leg.matrixCallId, state.partyId, offer, userId, lifetimeMs), "m.call.invite");
          rung++;
        } catch (err) {
          this.log.warn({ err, userId }, "could not ring a member");
          state.peer?.close();
          this.legs.delete(state.leg.matrixCallId);
        }
      }),
    );
    return rung;
  }

  /** A member's call that starts an outbound call: their offer is answered once the phone answers. */
  addCallerLeg(leg: Leg, theirParty: string, offer: string): void {
    const partyId = makePartyId();
    this.legs.set(leg.matrixCallId, { leg, partyId, theirParty, peer: null, offer, pending: [], ended: false });
    this.deps.storage.calls.addLeg({ callId: this.callId, partyId, ...leg });
  }

  /** Outbound: the phone answered; answer the member's Matrix call with our PCMU peer. */
  async answerCaller(leg: Leg): Promise<void> {
    const state = this.legs.get(leg.matrixCallId);
    if (!state?.offer || state.peer || state.ended) return;
    state.peer = new MatrixPeer({ iceServers: this.deps.iceServers, loopbackOnly: this.deps.loopbackMediaOnly });
    try {
      const answer = await state.peer.acceptOffer(state.offer);
      for (const candidate of state.pending.splice(0)) await state.peer.addRemoteCandidate(candidate);
      const ghost = this.ghost;
      this.trickle(state, ghost);
      await this.deps.matrix.sendAs(ghost, leg.roomId, `pstn.answer.${leg.matrixCallId}`, answerContent(leg.matrixCallId, state.partyId, answer), "m.call.answer");
      this.connectAudio();
    } catch (err) {
      this.log.warn({ err }, "could not answer the member's call");
      this.report({ type: "matrix.hangup", leg });
    }
  }

  /** A m.call.* event from a member's client in one of this call's legs. */
  async onMatrixEvent(type: string, content: Record<string, unknown>): Promise<void> {
    const state = this.legs.get(String(content.call_id));
    if (!state || state.ended) return;
    switch (type) {
      case "m.call.answer": {
        const sdp = (content.answer as { sdp?: unknown } | undefined)?.sdp;
        if (typeof sdp !== "string" || !state.peer || state.theirParty) return;
        state.theirParty = typeof content.party_id === "string" ? content.party_id : null;
        try {
          await state.peer.acceptAnswer(sdp);
          for (const candidate of state.pending.splice(0)) await state.peer.addRemoteCandidate(candidate);
          this.report({ type: "matrix.answer", leg: state.leg });
        } catch (err) {
          this.log.warn({ err }, "a member's answer could not be used");
          await this.hangupLeg(state, "user_media_failed");
          this.report({ type: "matrix.reject", leg: state.leg });
        }
        return;
      }
      case "m.call.candidates": {
        const candidates = Array.isArray(content.candidates) ? (content.candidates as IceCandidate[]) : [];
        for (const candidate of candidates) {
          if (state.peer && (state.theirParty || state.offer)) await state.peer.addRemoteCandidate(candidate).catch((err: unknown) => this.log.debug({ err }, "bad candidate"));
          else state.pending.push(candidate);
        }
        return;
      }
      case "m.call.reject":
        state.ended = true;
        state.peer?.close();
        this.deps.storage.calls.endLeg(this.callId, state.leg.matrixCallId);
        this.report({ type: "matrix.reject", leg: state.leg });
        return;
      case "m.call.hangup":
        state.ended = true;
        this.deps.storage.calls.endLeg(this.callId, state.leg.matrixCallId);
        this.report({ type: "matrix.hangup", leg: state.leg });
        return;
      case "m.call.select_answer":
        // Another of the member's devices took the call: this answer of ours is not needed.
        if (content.selected_party_id !== state.partyId) {
          state.ended = true;
          this.report({ type: "matrix.hangup", leg: state.leg });
        }
        return;
      default:
        // m.call.negotiate (hold, ICE restart) and stream metadata changes are tolerated: the
        // audio path stays as it was.
        this.log.debug({ type }, "call event tolerated");
    }
  }

  /** The first to answer gets the call; everyone else stops ringing. */
  async selectAnswer(leg: Leg): Promise<void> {
    const ghost = this.ghost;
    const chosen = this.legs.get(leg.matrixCallId);
    if (chosen?.theirParty) {
      await this.send(ghost, chosen.leg.roomId, `pstn.select.${leg.matrixCallId}`, selectAnswerContent(leg.matrixCallId, chosen.partyId, chosen.theirParty), "m.call.select_answer");
    }
    await Promise.all(
      [...this.legs.values()].filter((s) => s !== chosen && !s.ended).map((s) => this.hangupLeg(s, "answered_elsewhere")),
    );
    this.deps.storage.calls.setState(this.callId, "answered", { answeredBy: leg.userId, now: this.deps.clock.now() });
  }

  /** Stops ringing every leg that hasn't answered (time out, voicemail, caller gone). */
  async stopRinging(): Promise<void> {
    await Promise.all([...this.legs.values()].filter((s) => !s.ended && s !== this.bridged && !s.theirParty).map((s) => this.hangupLeg(s, "invite_timeout")));
  }

  /** Audio both ways between the phone and the answered leg, keys included (as in-band tones). */
  bridgeAudio(leg: Leg): () => void {
    const state = this.legs.get(leg.matrixCallId);
    if (!state) return () => {};
    this.bridged = state;
    this.stopRingback();
    this.connectAudio();
    return () => {
      this.bridged = null;
    };
  }

  /** Joins the answered leg's peer and the provider's stream once both exist (either may come later). */
  private connectAudio(): void {
    const state = this.bridged;
    const stream = this.stream;
    const peer = state?.peer;
    if (!state || !stream || !peer || this.wired.has(peer)) return;
    this.wired.add(peer);
    const live = () => this.bridged === state && this.stream === stream && !this.finished;
    stream.onAudio((mulaw) => {
      if (live()) peer.sendAudio(mulaw);
    });
    peer.onAudio((mulaw) => {
      if (live()) stream.sendAudio(mulaw);
    });
    // Twilio takes only audio from us: keys pressed in Matrix reach the phone network as tones.
    peer.onDigit((digit) => {
      if (!live()) return;
      this.log.debug({ digit }, "key pressed in Matrix");
      stream.sendAudio(toMulaw(dtmf(digit)));
    });
  }

  /** A key the phone pressed (reported by the provider): the Matrix user hears it. */
  private phoneKey(digit: string): void {
    const peer = this.bridged?.peer;
    if (!peer) return;
    for (const frame of frames(toMulaw(dtmf(digit)))) peer.sendAudio(frame);
  }

  // ── The end ────────────────────────────────────────────────────────────────────────────

  /** Ends the call everywhere it still lives; the rest (notices, state) is the caller's. */
  async end(reason: CallEndReason, hangupProvider: () => Promise<void>): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.stopRingback();
    const matrixReason = hangupReasonFor(reason);
    await Promise.all([
      hangupProvider().catch((err: unknown) => this.log.warn({ err }, "could not hang up the phone side")),
      ...[...this.legs.values()].filter((s) => !s.ended).map((s) => this.hangupLeg(s, matrixReason)),
    ]);
    for (const state of this.legs.values()) state.peer?.close();
    this.stream?.close();
    this.stream = null;
  }

  answeredBy(): UserId | null {
    return this.bridged?.leg.userId ?? null;
  }

  private async hangupLeg(state: LegState, reason: HangupReason): Promise<void> {
    if (state.ended) return;
    state.ended = true;
    const unanswered = state.offer !== null && state.peer === null;
    state.peer?.close();
    this.deps.storage.calls.endLeg(this.callId, state.leg.matrixCallId);
    // A member's call we never answered is rejected; anything else is hung up.
    const [type, content] = unanswered
      ? (["m.call.reject", rejectContent(state.leg.matrixCallId, state.partyId, reason)] as const)
      : (["m.call.hangup", hangupContent(state.leg.matrixCallId, state.partyId, reason)] as const);
    await this.send(this.ghost, state.leg.roomId, `pstn.end.${state.leg.matrixCallId}`, content, type);
  }

  /** Our candidates as they are found, in small batches, ending with the empty end-of-candidates. */
  private trickle(state: LegState, ghost: UserId): void {
    let batch: IceCandidate[] = [];
    let timer: NodeJS.Timeout | null = null;
    let n = 0;
    const flush = () => {
      timer = null;
      if (batch.length === 0) return;
      const candidates = batch;
      batch = [];
      void this.send(ghost, state.leg.roomId, `pstn.cand.${state.leg.matrixCallId}.${n++}`, candidatesContent(state.leg.matrixCallId, state.partyId, candidates), "m.call.candidates");
    };
    state.peer?.onCandidate((candidate) => {
      batch.push(candidate ?? { candidate: "", sdpMid: "0", sdpMLineIndex: 0 });
      if (!timer) timer = setTimeout(flush, CANDIDATE_BATCH_MS);
    });
  }

  private async send(ghost: UserId, roomId: RoomId, txnId: string, content: Record<string, unknown>, type: string): Promise<EventId | null> {
    try {
      return await this.deps.matrix.sendAs(ghost, roomId, txnId, content, type);
    } catch (err) {
      this.log.warn({ err, type, code: errorCodeOf(err) }, "could not send a call event");
      return null;
    }
  }
}

/** The live sessions, by call id. */
export class CallSessions {
  private readonly sessions = new Map<string, CallSession>();

  constructor(private readonly deps: CallSessionDeps) {}

  open(callId: string, portalId: PortalId, controlRoomId: RoomId): CallSession {
    let session = this.sessions.get(callId);
    if (!session) {
      session = new CallSession(callId, portalId, controlRoomId, this.deps);
      this.sessions.set(callId, session);
    }
    return session;
  }

  get(callId: string): CallSession | undefined {
    return this.sessions.get(callId);
  }

  close(callId: string): void {
    this.sessions.delete(callId);
  }

  all(): CallSession[] {
    return [...this.sessions.values()];
  }
}

/** Describes a call's end for the contact's portal room. */
export function callNotice(direction: "in" | "out", reason: CallEndReason, contact: string, who: string | null, seconds: number | null, detail?: string): string {
  const length = seconds === null ? "" : `, ${Math.floor(seconds / 60)}:${String(Math.round(seconds % 60)).padStart(2, "0")}`;
  if (direction === "in") {
    switch (reason) {
      case "completed":
        return `📞 Call from ${contact} answered by ${who ?? "someone"}${length}`;
      case "voicemail":
        return `📞 Missed call from ${contact}: voicemail below`;
      case "restart":
        return `📞 Call from ${contact} ended: the bridge restarted`;
      default:
        return `📞 Missed call from ${contact}`;
    }
  }
  const caller = who ?? "Someone";
  switch (reason) {
    case "completed":
      return `📞 ${caller} called ${contact}${length}`;
    case "busy":
      return `📞 ${caller} called ${contact}: the line was busy`;
    case "no-answer":
      return `📞 ${caller} called ${contact}: no answer`;
    case "canceled":
      return `📞 ${caller} called ${contact} and hung up before it was answered`;
    case "restart":
      return `📞 ${caller}'s call to ${contact} ended: the bridge restarted`;
    default:
      return `📞 ${caller}'s call to ${contact} could not be placed${detail ? `: ${detail}` : ""}`;
  }
}
