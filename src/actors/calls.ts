import { randomBytes } from "node:crypto";
import { fromCallback, fromPromise } from "xstate";
import { checkDestination } from "../calls/policy.js";
import type { Clock } from "../clock.js";
import type { Config } from "../config/types.js";
import { addressOf, contactOf, displayName, WITHHELD } from "../contacts.js";
import { errorCodeOf, userMessageOf } from "../errors.js";
import { makePortalId, type E164, type LinkId, type PortalId, type RoomId, type UserId } from "../ids.js";
import type { Logger } from "../log.js";
import type { CallEvent, CallInput, CallRef, Leg } from "../machines/call.machine.js";
import type { ControlRoomEvent } from "../machines/control-room.machine.js";
import type { MatrixGateway } from "../matrix/gateway.js";
import type { PortalRooms } from "../matrix/portals.js";
import { callVersion, hangupContent, INVITE_LIFETIME_MS, makePartyId, rejectContent, sdpOf } from "../matrix/voip.js";
import type { CallIncoming, CallRecording, CallStatusChanged } from "../providers/events.js";
import { isVoiceCapable, webhookUrls, type CallPlan, type ProviderMediaStream } from "../providers/types.js";
import type { Storage } from "../storage/index.js";
import type { CallEndReason } from "../storage/calls.js";
import { CallSessions, callNotice, type CallSession } from "./call-session.js";
import type { ProviderClients } from "./clients.js";

export interface CallDeps {
  storage: Storage;
  matrix: MatrixGateway;
  portals: PortalRooms;
  clients: ProviderClients;
  config: Config["calls"];
  publicBaseUrl: string;
  clock: Clock;
  log: Logger;
  /** Sends an event to a control room's actors. */
  send(roomId: RoomId, event: ControlRoomEvent): void;
}

/** Voicemail recordings larger than this are not brought into Matrix. */
const MAX_RECORDING_BYTES = 20 * 1024 * 1024;
/** The provider keeps dialling a little longer than Matrix rings, so our own timeout decides. */
const DIAL_MARGIN_S = 5;

const newCallId = () => `call${randomBytes(10).toString("hex").slice(0, 16).replace(/[^0-9a-z]/g, "0")}`;
const newToken = () => randomBytes(18).toString("base64url");

/**
 * Calls, end to end: the provider's webhooks and media stream on one side, Matrix VoIP on the
 * other, one call actor per call deciding, one session per call doing. Everything the webhooks
 * need is decided synchronously from the database (what the caller hears must be answered at once).
 */
export function createCalls(deps: CallDeps) {
  const { storage, matrix, portals, clock } = deps;
  const log = deps.log.child({ component: "calls" });
  const sessions = new CallSessions({
    storage,
    matrix,
    portals,
    clock,
    log,
    loopbackMediaOnly: deps.config.loopbackMediaOnly,
    iceServers: deps.config.iceServers,
    report: deps.send,
  });

  const linkOfPortal = (portalId: PortalId) => {
    const portal = storage.portals.get(portalId)!;
    return { portal, link: storage.links.byRoom(portal.controlRoomId) };
  };
  const voiceClient = (portalId: PortalId) => {
    const { link } = linkOfPortal(portalId);
    if (!link) return null;
    const client = deps.clients.forLink(link);
    return isVoiceCapable(client) ? { client, link } : null;
  };
  const input = (callId: string, portalId: PortalId, controlRoomId: RoomId, direction: "in" | "out", caller?: Leg): CallInput => ({
    callId,
    portalId,
    controlRoomId,
    direction,
    createdAt: clock.now(),
    ringTimeoutMs: deps.config.ringTimeoutSeconds * 1000,
    voicemail: deps.config.voicemail.enabled,
    ...(caller ? { caller } : {}),
  });

  /** Where each member is rung: a room of just them and the ghost (Element rings only there). */
  async function callRooms(portalId: PortalId): Promise<{ userId: UserId; roomId: RoomId }[]> {
    const portal = storage.portals.get(portalId)!;
    const roomId = await portals.ensureRoom(portalId);
    const ghost = portals.ghostOf(portal);
    const members = await portals.controlRoomMembers(portal.controlRoomId);
    if (members.length === 1) {
      const inPortal = [...(await matrix.members(roomId, ghost)).entries()].filter(([, m]) => m === "join").map(([u]) => u);
      if (inPortal.length === 2 && inPortal.includes(members[0]!)) return [{ userId: members[0]!, roomId }];
    }
    return Promise.all(members.map(async (userId) => ({ userId, roomId: await callRoomOf(portalId, userId) })));
  }

  /** A member's own call room for a contact, created the first time (the member is invited to it). */
  async function callRoomOf(portalId: PortalId, userId: UserId): Promise<RoomId> {
    const existing = storage.calls.callRoom(portalId, userId);
    if (existing) return existing;
    const portal = storage.portals.get(portalId)!;
    const ghost = portals.ghostOf(portal);
    const name = portals.nameOf(portal.controlRoomId, portal.contact);
    const roomId = await matrix.createPortalRoom(ghost, { invite: [userId], name: `📞 ${name}`, topic: `Calls with ${name}; texts are in the shared room`, initialState: [] });
    storage.calls.setCallRoom(portalId, userId, roomId);
    return roomId;
  }

  async function notice(portalId: PortalId, callId: string, body: string): Promise<void> {
    const { portal } = linkOfPortal(portalId);
    try {
      const roomId = await portals.ensureRoom(portalId);
      await matrix.sendAs(portals.ghostOf(portal), roomId, `pstn.callnote.${callId}`, { msgtype: "m.notice", body });
    } catch (err) {
      log.warn({ err, callId }, "could not post a call notice");
    }
  }

  async function finish(ref: CallRef, reason: CallEndReason, session: CallSession): Promise<void> {
    const call = storage.calls.get(ref.callId);
    const voice = voiceClient(ref.portalId);
    await session.end(reason, async () => {
      if (call?.providerCallId && voice) await voice.client.hangupCall(call.providerCallId);
    });
    const now = clock.now();
    log.info({ callId: ref.callId, reason }, "call ended");
    storage.calls.setState(ref.callId, "ended", { endReason: reason, now });
    sessions.close(ref.callId);
    if (!call) return;
    const { portal } = linkOfPortal(ref.portalId);
    const who = call.answeredBy ?? session.answeredBy() ?? (call.direction === "out" ? storage.calls.legs(ref.callId)[0]?.userId ?? null : null);
    const name = who ? ((await matrix.memberName(portal.roomId!, who, portals.ghostOf(portal)).catch(() => null)) ?? who) : null;
    const seconds = call.answeredAt ? (now - call.answeredAt) / 1000 : null;
    await notice(ref.portalId, ref.callId, callNotice(call.direction, reason, displayName(portal.contact), name, reason === "completed" ? seconds : null));
  }

  const effects = {
    actors: {
      ring: fromCallback<CallEvent, CallRef>(({ input: ref, sendBack }) => {
        const session = sessions.open(ref.callId, ref.portalId, ref.controlRoomId);
        session.startRingback();
        void callRooms(ref.portalId)
          // The invite outlives our ring timeout, so the member's client hears our hangup rather than timing out alone.
          .then((rooms) => session.ring(rooms, Math.min(INVITE_LIFETIME_MS, deps.config.ringTimeoutSeconds * 1000 + 10_000)))
          .then((legs) => sendBack({ type: "ring.started", legs }))
          .catch((err: unknown) => {
            log.warn({ err, callId: ref.callId }, "could not ring anyone");
            sendBack({ type: "ring.started", legs: 0 });
          });
        return () => void session.stopRinging();
      }),
      bridgeAudio: fromCallback<CallEvent, CallRef & { leg: Leg }>(({ input: ref }) => sessions.open(ref.callId, ref.portalId, ref.controlRoomId).bridgeAudio(ref.leg)),
      dial: fromPromise<void, CallRef & { caller: Leg }>(async ({ input: ref }) => {
        const voice = voiceClient(ref.portalId);
        const { portal } = linkOfPortal(ref.portalId);
        const to = addressOf(portal.contact);
        if (!voice || !to || !to.startsWith("+")) throw new Error("this contact can't be called");
        const base = webhookUrls(deps.publicBaseUrl, voice.link.provider, voice.link.id);
        const { providerCallId } = await voice.client.placeCall({
          from: voice.link.phoneNumber,
          to: to as E164,
          answerUrl: `${deps.publicBaseUrl}/webhooks/${voice.link.provider}/${voice.link.id}/voice-out?call=${ref.callId}`,
          statusCallback: `${base.callStatus}?call=${ref.callId}`,
          timeoutSeconds: deps.config.ringTimeoutSeconds + DIAL_MARGIN_S,
        });
        storage.calls.setProviderId(ref.callId, providerCallId);
      }),
      startVoicemail: fromPromise<void, CallRef>(async ({ input: ref }) => {
        const session = sessions.open(ref.callId, ref.portalId, ref.controlRoomId);
        await session.stopRinging();
        if (!session.closeStream()) throw new Error("no media stream to hand over to voicemail");
      }),
    },
    actions: {
      persist: ({ context }: { context: CallRef }, params: { state: "ringing" | "answered" | "voicemail" | "ended" }) =>
        storage.calls.setState(context.callId, params.state, { now: clock.now() }),
      selectAnswer: ({ context }: { context: CallRef }, params: { leg: Leg }) =>
        void sessions.open(context.callId, context.portalId, context.controlRoomId).selectAnswer(params.leg),
      answerCaller: ({ context }: { context: CallRef }, params: { leg: Leg }) =>
        void sessions.open(context.callId, context.portalId, context.controlRoomId).answerCaller(params.leg),
      finish: ({ context }: { context: CallRef }, params: { reason: CallEndReason }) =>
        void finish(context, params.reason, sessions.open(context.callId, context.portalId, context.controlRoomId)).catch((err: unknown) =>
          log.error({ err, callId: context.callId }, "could not finish a call"),
        ),
      postVoicemail: ({ context }: { context: CallRef }, params: { url: string; durationSeconds: number }) =>
        void postVoicemail(context, params.url, params.durationSeconds),
    },
  };

  async function postVoicemail(ref: CallRef, url: string, durationSeconds: number): Promise<void> {
    const voice = voiceClient(ref.portalId);
    const { portal } = linkOfPortal(ref.portalId);
    try {
      if (!voice) throw new Error("no linked number to fetch the recording with");
      const { data, contentType } = await voice.client.fetchRecording(url, MAX_RECORDING_BYTES);
      const roomId = await portals.ensureRoom(ref.portalId);
      const ghost = portals.ghostOf(portal);
      const mxc = await matrix.upload(data, contentType, "voicemail.wav", ghost);
      const duration = Math.round(durationSeconds * 1000);
      await matrix.sendAs(ghost, roomId, `pstn.voicemail.${ref.callId}`, {
        msgtype: "m.audio",
        body: `Voicemail from ${displayName(portal.contact)} (${durationSeconds} s)`,
        url: mxc,
        info: { mimetype: contentType, size: data.length, duration },
        "org.matrix.msc1767.audio": { duration },
        "org.matrix.msc3245.voice": {},
      });
    } catch (err) {
      log.warn({ err, callId: ref.callId }, "could not post a voicemail");
      await notice(ref.portalId, `${ref.callId}.vm`, `⚠️ A voicemail from ${displayName(portal.contact)} could not be brought over: ${userMessageOf(err)}`);
    }
  }

  // ── Provider side (webhooks and media streams) ─────────────────────────────────────────

  function incomingCall(event: CallIncoming): CallPlan {
    const link = storage.links.get(event.linkId);
    if (!link) return { kind: "reject", reason: "rejected" };
    if (!deps.config.enabled) return { kind: "say", text: "Sorry, this number does not take calls. Please send a text message instead." };
    const contact = event.from ? contactOf({ kind: "number", number: event.from }) : WITHHELD;
    if (storage.contacts.get(link.roomId, contact).blocked) {
      log.info({ linkId: link.id }, "refused a call from a blocked number");
      return { kind: "reject", reason: "rejected" };
    }
    const known = storage.calls.byProviderId(event.providerCallId);
    const callId = known?.id ?? newCallId();
    const token = newToken();
    if (!known) {
      const portal = storage.portals.ensure(link.roomId, contact, makePortalId, clock.now());
      log.info({ callId, portalId: portal.id }, "incoming call");
      storage.calls.create({ id: callId, portalId: portal.id, direction: "in", providerCallId: event.providerCallId, streamToken: token, now: clock.now() });
      sessions.open(callId, portal.id, link.roomId);
      deps.send(link.roomId, { type: "call.start", call: input(callId, portal.id, link.roomId, "in") });
    } else {
      storage.db.prepare("UPDATE calls SET stream_token = ? WHERE id = ?").run(token, callId);
    }
    return { kind: "stream", parameters: { callId, token } };
  }

  function outboundAnswered(linkId: LinkId, callId: string): CallPlan {
    const call = storage.calls.get(callId);
    if (!call || call.direction !== "out" || call.state === "ended" || storage.links.get(linkId) === undefined) return { kind: "hangup" };
    const token = newToken();
    storage.db.prepare("UPDATE calls SET stream_token = ? WHERE id = ?").run(token, callId);
    return { kind: "stream", parameters: { callId, token } };
  }

  function afterStream(_linkId: LinkId, providerCallId: string): CallPlan {
    const call = storage.calls.byProviderId(providerCallId);
    if (call?.state === "voicemail") {
      return { kind: "voicemail", greeting: deps.config.voicemail.greeting, maxLengthSeconds: deps.config.voicemail.maxLengthSeconds };
    }
    return { kind: "hangup" };
  }

  function mediaStream(linkId: LinkId, stream: ProviderMediaStream): void {
    const callId = stream.parameters.callId ?? "";
    const token = stream.parameters.token ?? "";
    const call = storage.calls.get(callId);
    // The token is one-time and the stream must belong to this link's call: anything else is refused.
    if (!call || !storage.calls.claimStreamToken(callId, token) || storage.portals.get(call.portalId)?.controlRoomId !== storage.links.get(linkId)?.roomId) {
      log.warn({ linkId }, "refused a media stream without a valid one-time token");
      stream.close();
      return;
    }
    const portal = storage.portals.get(call.portalId)!;
    sessions.open(callId, call.portalId, portal.controlRoomId).attachStream(stream);
  }

  /** Provider call events (status callbacks, recordings) to the call's actor. */
  function providerEvent(event: CallStatusChanged | CallRecording): void {
    const call = (event.type === "call.status" && event.callId ? storage.calls.get(event.callId) : undefined) ?? storage.calls.byProviderId(event.providerCallId);
    if (!call || call.state === "ended") return;
    if (!call.providerCallId) storage.calls.setProviderId(call.id, event.providerCallId);
    const controlRoomId = storage.portals.get(call.portalId)!.controlRoomId;
    deps.send(controlRoomId, {
      type: "call.event",
      callId: call.id,
      event: event.type === "call.status" ? { type: "provider.status", status: event.status } : { type: "provider.recording", url: event.url, durationSeconds: event.durationSeconds },
    });
  }

  // ── Matrix side ────────────────────────────────────────────────────────────────────────

  /** A m.call.* event from a user (not one of ours) in a room the bridge knows. */
  async function matrixEvent(roomId: RoomId, sender: UserId, type: string, content: Record<string, unknown>): Promise<void> {
    const matrixCallId = typeof content.call_id === "string" ? content.call_id : null;
    if (!matrixCallId) return;
    if (type === "m.call.invite") return outboundInvite(roomId, sender, matrixCallId, content);
    const callId = storage.calls.callOfLeg(matrixCallId);
    const call = callId ? storage.calls.get(callId) : undefined;
    if (!call || call.state === "ended") return;
    const portal = storage.portals.get(call.portalId)!;
    await sessions.open(call.id, call.portalId, portal.controlRoomId).onMatrixEvent(type, content);
  }

  /** A member calls a contact's ghost from Matrix: dial the phone. */
  async function outboundInvite(roomId: RoomId, sender: UserId, matrixCallId: string, content: Record<string, unknown>): Promise<void> {
    const portalId = storage.portals.byRoom(roomId)?.id ?? storage.calls.portalOfCallRoom(roomId);
    if (!portalId) {
      log.info({ roomId }, "a call invite in a room that is no contact's: ignored");
      return;
    }
    const portal = storage.portals.get(portalId)!;
    const ghost = portals.ghostOf(portal);
    const refuse = async (why: string) => {
      const party = makePartyId();
      await matrix.sendAs(ghost, roomId, `pstn.refuse.${matrixCallId}`, rejectContent(matrixCallId, party, "unknown_error"), "m.call.reject").catch(() => null);
      await matrix.sendAs(ghost, roomId, `pstn.refuse.note.${matrixCallId}`, { msgtype: "m.notice", body: `📞 ${why}` }).catch(() => null);
    };
    const offer = sdpOf(content, "offer");
    if (!offer || callVersion(content) === 0) return refuse("This call can't be bridged: the client uses a call version the bridge doesn't support. Update the client.");
    if (storage.calls.callOfLeg(matrixCallId)) return;
    const voice = voiceClient(portalId);
    const address = addressOf(portal.contact);
    if (!deps.config.enabled || !voice) return refuse("Calls are not available for this number.");
    if (!address?.startsWith("+")) return refuse(`${displayName(portal.contact)} can't be called back.`);
    try {
      checkDestination(address as E164, voice.link.phoneNumber, deps.config);
    } catch (err) {
      return refuse(userMessageOf(err));
    }
    const callId = newCallId();
    log.info({ callId, portalId }, "outbound call from Matrix");
    storage.calls.create({ id: callId, portalId, direction: "out", providerCallId: null, streamToken: null, now: clock.now() });
    const leg: Leg = { matrixCallId, roomId, userId: sender };
    const session = sessions.open(callId, portalId, portal.controlRoomId);
    session.addCallerLeg(leg, typeof content.party_id === "string" ? content.party_id : "", offer);
    deps.send(portal.controlRoomId, { type: "call.start", call: input(callId, portalId, portal.controlRoomId, "out", leg) });
  }

  /** Calls a previous run left open are ended on both sides and noted in their rooms. */
  async function endLeftovers(): Promise<void> {
    for (const call of storage.calls.open()) {
      const portal = storage.portals.get(call.portalId);
      if (!portal) continue;
      const session = sessions.open(call.id, call.portalId, portal.controlRoomId);
      for (const leg of storage.calls.legs(call.id).filter((l) => !l.ended)) {
        // A member's own call we hadn't answered yet is rejected; anything else hung up.
        const unanswered = call.direction === "out" && call.state === "ringing";
        await matrix
          .sendAs(
            portals.ghostOf(portal),
            leg.roomId,
            `pstn.restart.${leg.matrixCallId}`,
            unanswered ? rejectContent(leg.matrixCallId, leg.partyId, "unknown_error") : hangupContent(leg.matrixCallId, leg.partyId, "unknown_error"),
            unanswered ? "m.call.reject" : "m.call.hangup",
          )
          .catch((err: unknown) => log.warn({ err, code: errorCodeOf(err) }, "could not end a leftover call leg"));
        storage.calls.endLeg(call.id, leg.matrixCallId);
      }
      await finish({ callId: call.id, portalId: call.portalId, controlRoomId: portal.controlRoomId }, "restart", session);
    }
  }

  /** On a clean stop: ends every live call now rather than leaving it to the next start. */
  async function shutdown(): Promise<void> {
    await Promise.all(
      sessions.all().map((session) =>
        finish({ callId: session.callId, portalId: session.portalId, controlRoomId: session.controlRoomId }, "restart", session).catch(() => {}),
      ),
    );
  }

  /** A call actor failed: end its call on both sides rather than leave it hanging. */
  async function abort(callId: string): Promise<void> {
    const session = sessions.get(callId);
    if (session) await finish({ callId, portalId: session.portalId, controlRoomId: session.controlRoomId }, "failed", session);
  }

  return { effects, incomingCall, outboundAnswered, afterStream, mediaStream, providerEvent, matrixEvent, callRoomOf, endLeftovers, shutdown, abort };
}

export type Calls = ReturnType<typeof createCalls>;
