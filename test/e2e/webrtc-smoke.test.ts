import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { MediaStream, MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters, RtpHeader, RtpPacket, usePCMU } from "werift";
import { hasTone } from "../../src/media/audio/goertzel.js";
import { FRAME_SAMPLES, PHONE_RATE, fromMulaw, toMulaw, tone } from "../../src/media/audio/tones.js";
import { registerUser } from "../../src/sandbox/synapse.js";
import { analyse } from "../browser/analyse.js";
import type { CandidatePairReport, ToneDetection } from "../browser/api.js";
import { launchChromium, type LaunchedChromium, type PstnPage } from "../browser/launch.js";
import { TONES, probeFrequencies } from "../browser/tones.js";
import { TestUser } from "./harness/matrix-client.js";

/**
 * Smoke tests of the browser harness: headless Chromium (fake microphone playing a tone) talking
 * WebRTC on loopback to a werift peer in this process (both offer directions, PCMU only), and two
 * browser users calling each other with matrix-js-sdk's own call stack through the real Synapse.
 * Later bridge tests rely on everything checked here.
 */

// ------------------------------------------------------------------------------------------------
// werift side: what the bridge will do, reduced to the essentials
// ------------------------------------------------------------------------------------------------

interface ReceivedRtp {
  at: number;
  payloadType: number;
  payload: Buffer;
}

/** Keeps only 127.0.0.1 `a=candidate` lines (the rest of this machine's addresses never leave it). */
function loopbackOnly(sdp: string): string {
  return sdp
    .split("\r\n")
    .filter((line) => !line.startsWith("a=candidate:") || line.split(" ")[4] === "127.0.0.1")
    .join("\r\n");
}

function candidateAddresses(sdp: string): string[] {
  return sdp
    .split("\r\n")
    .filter((line) => line.startsWith("a=candidate:"))
    .map((line) => line.split(" ")[4] ?? "");
}

/**
 * Removes `telephone-event/48000` from an offer: werift matches codecs by MIME type only and
 * would otherwise answer a PCMU call with the 48 kHz telephone-event (protocols.md §7).
 */
function stripTelephoneEvent48k(sdp: string): string {
  const pts = [...sdp.matchAll(/^a=rtpmap:(\d+) telephone-event\/48000/gm)].map((m) => m[1]!);
  return sdp
    .split("\r\n")
    .filter((line) => !pts.some((pt) => new RegExp(`^a=(rtpmap|fmtp|rtcp-fb):${pt}( |$)`).test(line)))
    .map((line) => (line.startsWith("m=audio ") ? line.split(" ").filter((part, i) => i < 3 || !pts.includes(part)).join(" ") : line))
    .join("\r\n");
}

/** RFC 4733 DTMF at 8 kHz, next to PCMU (the payload type follows the offer's). */
const telephoneEvent8k = () => new RTCRtpCodecParameters({ mimeType: "audio/telephone-event", clockRate: 8000, channels: 1, parameters: "0-15" });

class WeriftPeer {
  readonly pc: RTCPeerConnection;
  readonly track = new MediaStreamTrack({ kind: "audio" });
  /** A stream id on the track makes werift write `a=msid:bridge0 <track>` (Element needs it). */
  readonly stream = new MediaStream({ id: "bridge0" });
  readonly received: ReceivedRtp[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(options: { telephoneEvent?: boolean } = {}) {
    this.pc = new RTCPeerConnection({
      iceServers: [],
      codecs: { audio: options.telephoneEvent ? [usePCMU(), telephoneEvent8k()] : [usePCMU()], video: [] },
      iceUseIpv6: false,
      // Gather 127.0.0.1 too (werift skips loopback by default) and bind the sockets there.
      iceAdditionalHostAddresses: ["127.0.0.1"],
      iceInterfaceAddresses: { udp4: "127.0.0.1" },
      // Chromium also sends connectivity checks to our 127.0.0.1 candidate from its sockets on the
      // machine's other addresses; answering only loopback sources pins the pair to 127.0.0.1 both ends.
      iceFilterStunResponse: (_message, address) => address[0] === "127.0.0.1",
    });
    this.pc.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((rtp) => {
        this.received.push({ at: Date.now(), payloadType: rtp.header.payloadType, payload: Buffer.from(rtp.payload) });
      });
    });
  }

  async offer(): Promise<string> {
    this.pc.addTransceiver(this.track, { direction: "sendrecv", streams: [this.stream] });
    await this.pc.setLocalDescription(await this.pc.createOffer());
    return loopbackOnly(await this.gathered());
  }

  async answer(offer: string): Promise<string> {
    await this.pc.setRemoteDescription({ type: "offer", sdp: stripTelephoneEvent48k(offer) });
    // The transceiver setRemoteDescription created is recvonly: give it our track and stream.
    const transceiver = this.pc.getTransceivers()[0]!;
    transceiver.sender.replaceTrack(this.track);
    transceiver.sender.setStreams([this.stream]);
    transceiver.setDirection("sendrecv");
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    return loopbackOnly(await this.gathered());
  }

  async accept(answer: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: "answer", sdp: answer });
  }

  private async gathered(): Promise<string> {
    if (this.pc.iceGatheringState !== "complete") {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 3000);
        const { unSubscribe } = this.pc.iceGatheringStateChange.subscribe((state) => {
          if (state !== "complete") return;
          clearTimeout(timer);
          unSubscribe();
          resolve();
        });
      });
    }
    return this.pc.localDescription!.sdp;
  }

  async connected(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.pc.connectionState !== "connected") {
      if (Date.now() > deadline) throw new Error(`werift did not connect (state ${this.pc.connectionState})`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Sends `hz` as 20 ms µ-law frames in real time (catching up if the timer runs late). */
  startTone(hz: number): void {
    let sequenceNumber = Math.floor(Math.random() * 0xffff);
    let timestamp = Math.floor(Math.random() * 0xffffffff);
    let sent = 0;
    const started = Date.now();
    this.timer = setInterval(() => {
      const due = Math.floor((Date.now() - started) / 20) + 1;
      for (; sent < due; sent++) {
        const payload = toMulaw(tone([hz], 20, { phase: sent * FRAME_SAMPLES, amplitude: 0.5 }));
        this.track.writeRtp(new RtpPacket(new RtpHeader({ sequenceNumber, timestamp }), payload));
        sequenceNumber = (sequenceNumber + 1) & 0xffff;
        timestamp = (timestamp + FRAME_SAMPLES) >>> 0;
      }
    }, 10);
  }

  /** The decoded 8 kHz audio received after `skipMs` from the first packet. */
  audio(skipMs = 500): Int16Array {
    const first = this.received[0]?.at ?? 0;
    return fromMulaw(Buffer.concat(this.received.filter((r) => r.at - first >= skipMs).map((r) => r.payload)));
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.pc.close();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const describePair = (pair: CandidatePairReport | null) =>
  pair ? `${pair.local.address}:${pair.local.port} (${pair.local.candidateType}) -> ${pair.remote.address}:${pair.remote.port} (${pair.remote.candidateType})` : "none";

const round = (detection: ToneDetection) => Object.fromEntries(Object.entries(detection.shares).map(([f, s]) => [f, Number(s.toFixed(4))]));

/** Checks werift got PCMU (PT 0, 160-byte payloads) carrying `expected` and none of the other tones. */
function expectWeriftHeard(peer: WeriftPeer, expected: number): ToneDetection {
  expect(peer.received.length).toBeGreaterThan(50);
  expect(new Set(peer.received.map((r) => r.payloadType))).toEqual(new Set([0]));
  expect(new Set(peer.received.map((r) => r.payload.length))).toEqual(new Set([160]));
  const pcm = peer.audio();
  expect(hasTone(pcm, expected, PHONE_RATE)).toBe(true);
  for (const f of probeFrequencies().filter((f) => f !== expected)) expect(hasTone(pcm, f, PHONE_RATE)).toBe(false);
  const detection = analyse(pcm, PHONE_RATE, probeFrequencies());
  expectHeard(detection, expected);
  return detection;
}

/** Checks the page hears `expected` (and none of the other tones) on the session's remote audio. */
function expectHeard(detection: ToneDetection, expected: number): void {
  expect(detection.rms).toBeGreaterThan(0.05); // not the silence of an unattached remote stream
  expect(detection.loudBlocks).toBeGreaterThan(detection.blocks * 0.8);
  expect(detection.shares[expected]).toBeGreaterThan(0.8);
  expect(detection.hits[expected]).toBeGreaterThan(0.8);
  for (const f of probeFrequencies().filter((f) => f !== expected)) expect(detection.shares[f]).toBeLessThan(0.05);
}

// ------------------------------------------------------------------------------------------------

let workDir: string;
let chromeA: LaunchedChromium;

beforeAll(async () => {
  workDir = mkdtempSync(path.join(tmpdir(), "pstn-webrtc-smoke-"));
  chromeA = await launchChromium({ toneHz: TONES.browserA, workDir: path.join(workDir, "a") });
});

afterAll(async () => {
  await chromeA?.close();
  if (workDir && !process.env.KEEP_E2E_DIR) rmSync(workDir, { recursive: true, force: true });
});

describe("Chromium <-> werift on loopback, no Matrix", () => {
  it("Chromium offers, werift answers PCMU only: audio both ways over 127.0.0.1", async () => {
    const started = Date.now();
    const page = await chromeA.newPage();
    const peer = new WeriftPeer();
    try {
      const offer = await page.pstn.rawOffer("raw");
      expect(candidateAddresses(offer).length).toBeGreaterThan(0);
      expect(new Set(candidateAddresses(offer))).toEqual(new Set(["127.0.0.1"]));
      expect(offer).toMatch(/a=rtpmap:\d+ telephone-event\/48000/);

      const answer = await peer.answer(offer);
      expect(answer).toMatch(/^m=audio 9 UDP\/TLS\/RTP\/SAVPF 0\r$/m);
      expect(answer).not.toMatch(/telephone-event\/48000/);
      expect(answer).toMatch(/^a=msid:bridge0 \S+\r$/m);
      expect(new Set(candidateAddresses(answer))).toEqual(new Set(["127.0.0.1"]));

      await page.pstn.rawAccept("raw", answer);
      peer.startTone(TONES.node);
      await Promise.all([page.pstn.rawConnected("raw", 10_000), peer.connected()]);
      const connectedMs = Date.now() - started;

      const heard = await page.pstn.detect("raw", probeFrequencies(), 2000);
      const pair = await page.pstn.candidatePair("raw");
      expect(pair).not.toBeNull();
      expect(pair!.local.address).toBe("127.0.0.1");
      expect(pair!.remote.address).toBe("127.0.0.1");
      expect(pair!.inboundCodec).toBe("audio/PCMU");
      expect(pair!.outboundCodec).toBe("audio/PCMU");
      expectHeard(heard, TONES.node);
      const weriftHeard = expectWeriftHeard(peer, TONES.browserA);

      // Nothing but loopback candidates reached either side.
      const log = await page.pstn.candidateLog();
      expect(log.filter((c) => c.kept).every((c) => c.candidate.split(" ")[4] === "127.0.0.1")).toBe(true);
      console.log(
        `[smoke] chromium offers: connected in ${connectedMs} ms, pair ${describePair(pair)}, ` +
          `page heard ${JSON.stringify(round(heard))} (rms ${heard.rms.toFixed(3)}, ${heard.rate} Hz), ` +
          `werift heard ${JSON.stringify(round(weriftHeard))} in ${peer.received.length} PCMU packets, total ${Date.now() - started} ms`,
      );
    } finally {
      await page.pstn.rawClose("raw").catch(() => undefined);
      await peer.close();
      await page.page.close();
    }
  });

  it("werift offers PCMU only, Chromium answers: audio both ways over 127.0.0.1", async () => {
    const started = Date.now();
    const page = await chromeA.newPage();
    const peer = new WeriftPeer();
    try {
      const offer = await peer.offer();
      expect(offer).toMatch(/^m=audio 9 UDP\/TLS\/RTP\/SAVPF 0\r$/m);
      expect(offer).toMatch(/^a=msid:bridge0 \S+\r$/m);
      expect(new Set(candidateAddresses(offer))).toEqual(new Set(["127.0.0.1"]));

      const answer = await page.pstn.rawAnswer("raw", offer);
      expect(answer).toMatch(/^m=audio \d+ UDP\/TLS\/RTP\/SAVPF 0\r$/m);
      expect(answer).toMatch(/^a=msid:\S+ \S+\r$/m);
      expect(candidateAddresses(answer).length).toBeGreaterThan(0);
      expect(new Set(candidateAddresses(answer))).toEqual(new Set(["127.0.0.1"]));

      await peer.accept(answer);
      peer.startTone(TONES.node);
      await Promise.all([page.pstn.rawConnected("raw", 10_000), peer.connected()]);
      const connectedMs = Date.now() - started;

      const heard = await page.pstn.detect("raw", probeFrequencies(), 2000);
      // The raw samples too (what detect() analyses in the page), checked here in Node.
      const { samples, rate } = await page.pstn.measureRemote("raw", 500);
      expect(samples.length).toBeGreaterThan(rate * 0.4);
      expect(analyse(samples, rate, [TONES.node], 32767).shares[TONES.node]).toBeGreaterThan(0.8);
      const pair = await page.pstn.candidatePair("raw");
      expect(pair!.local.address).toBe("127.0.0.1");
      expect(pair!.remote.address).toBe("127.0.0.1");
      expect(pair!.inboundCodec).toBe("audio/PCMU");
      expect(pair!.outboundCodec).toBe("audio/PCMU");
      expectHeard(heard, TONES.node);
      const weriftHeard = expectWeriftHeard(peer, TONES.browserA);
      console.log(
        `[smoke] werift offers: connected in ${connectedMs} ms, pair ${describePair(pair)}, ` +
          `page heard ${JSON.stringify(round(heard))} (rms ${heard.rms.toFixed(3)}), ` +
          `werift heard ${JSON.stringify(round(weriftHeard))} in ${peer.received.length} PCMU packets, total ${Date.now() - started} ms`,
      );
    } finally {
      await page.pstn.rawClose("raw").catch(() => undefined);
      await peer.close();
      await page.page.close();
    }
  });

  it("werift answers PCMU + telephone-event/8000: Chromium's DTMF arrives as RFC 4733 events", async () => {
    const started = Date.now();
    const page = await chromeA.newPage();
    const peer = new WeriftPeer({ telephoneEvent: true });
    try {
      const offer = await page.pstn.rawOffer("raw");
      const te8k = /^a=rtpmap:(\d+) telephone-event\/8000\r$/m.exec(offer)?.[1];
      expect(te8k).toBeDefined();
      const answer = await peer.answer(offer);
      expect(answer).toMatch(new RegExp(`^m=audio 9 UDP/TLS/RTP/SAVPF 0 ${te8k}\r$`, "m"));
      expect(answer).toContain(`a=rtpmap:${te8k} telephone-event/8000`);
      await page.pstn.rawAccept("raw", answer);
      await Promise.all([page.pstn.rawConnected("raw", 10_000), peer.connected()]);

      const played = await page.pstn.sendDtmf("raw", "1#");
      expect(played).toEqual(["1", "#"]);
      await sleep(200);
      const events = peer.received.filter((r) => r.payloadType === Number(te8k));
      // RFC 4733: event code, E bit on the (repeated) end packets. "#" is event 11.
      const codes = [...new Set(events.map((r) => r.payload[0]))];
      expect(codes).toEqual([1, 11]);
      expect(events.filter((r) => (r.payload[1]! & 0x80) !== 0).map((r) => r.payload[0])).toEqual(expect.arrayContaining([1, 11]));
      expect(peer.received.filter((r) => r.payloadType !== 0 && r.payloadType !== Number(te8k))).toEqual([]);
      console.log(`[smoke] DTMF: played ${played.join("")}, werift got ${events.length} telephone-event packets (PT ${te8k}), total ${Date.now() - started} ms`);
    } finally {
      await page.pstn.rawClose("raw").catch(() => undefined);
      await peer.close();
      await page.page.close();
    }
  });
});

describe("matrix-js-sdk call between two browser users through Synapse", () => {
  const env = inject("e2e");
  let chromeB: LaunchedChromium | undefined;
  const pages: PstnPage[] = [];

  afterAll(async () => {
    for (const page of pages) await page.pstn.logout().catch(() => undefined);
    await chromeB?.close();
  });

  it("A calls B, B answers, each hears the other's tone, A hangs up, B sees user_hangup", async () => {
    const started = Date.now();
    const suffix = randomBytes(3).toString("hex");
    const [alice, bob] = await Promise.all(
      ["alice", "bob"].map((name) =>
        registerUser(env.homeserverUrl, env.sharedSecret, `smoke-${name}-${suffix}`, `${name}-password`, { displayName: name }),
      ),
    );
    const aliceUser = new TestUser(env.homeserverUrl, alice!.userId, alice!.accessToken);
    const bobUser = new TestUser(env.homeserverUrl, bob!.userId, bob!.accessToken);
    const roomId = await aliceUser.createRoom({ invite: [bob!.userId], isDirect: true });
    await bobUser.join(roomId);
    expect(await aliceUser.membership(roomId, bob!.userId)).toBe("join");

    chromeB = await launchChromium({ toneHz: TONES.browserB, workDir: path.join(workDir, "b") });
    const [a, b] = await Promise.all([chromeA.newPage(), chromeB.newPage()]);
    pages.push(a!, b!);
    const pageA = a!.pstn;
    const pageB = b!.pstn;
    try {
      await Promise.all([
        pageA.login({ baseUrl: env.homeserverUrl, userId: alice!.userId, accessToken: alice!.accessToken, deviceId: alice!.deviceId }),
        pageB.login({ baseUrl: env.homeserverUrl, userId: bob!.userId, accessToken: bob!.accessToken, deviceId: bob!.deviceId }),
      ]);

      const callId = await pageA.placeCall(roomId);
      const incoming = await pageB.waitForIncomingCall(15_000);
      expect(incoming).toBe(callId);
      await pageB.waitForState(incoming, "ringing", 5000);
      await pageB.answer(incoming);
      await Promise.all([pageA.waitForState(callId, "connected", 15_000), pageB.waitForState(callId, "connected", 15_000)]);
      const connectedMs = Date.now() - started;

      const [heardByA, heardByB] = await Promise.all([
        pageA.detect(callId, probeFrequencies(), 2000),
        pageB.detect(callId, probeFrequencies(), 2000),
      ]);
      expectHeard(heardByA, TONES.browserB);
      expectHeard(heardByB, TONES.browserA);

      // Only 127.0.0.1 candidates went through Synapse; ICE connected using them.
      const timeline = await aliceUser.timeline(roomId);
      const candidateEvents = timeline.filter((e) => e.type === "m.call.candidates" || e.type === "m.call.invite" || e.type === "m.call.answer");
      expect(candidateEvents.map((e) => e.type)).toEqual(expect.arrayContaining(["m.call.invite", "m.call.answer"]));
      const signalled = candidateEvents.flatMap((e) => {
        const content = e.content as { candidates?: { candidate: string }[]; offer?: { sdp: string }; answer?: { sdp: string } };
        return [
          ...(content.candidates ?? []).map((c) => c.candidate).filter(Boolean).map((c) => c.split(" ")[4]),
          ...candidateAddresses(content.offer?.sdp ?? content.answer?.sdp ?? ""),
        ];
      });
      expect(signalled.length).toBeGreaterThan(0);
      expect(new Set(signalled)).toEqual(new Set(["127.0.0.1"]));
      const [pairA, pairB] = await Promise.all([pageA.candidatePair(callId), pageB.candidatePair(callId)]);
      expect(pairA?.state).toBe("succeeded");
      expect(pairB?.state).toBe("succeeded");
      // Each side sends to the other's signalled 127.0.0.1 candidate or to a peer-reflexive
      // address learnt from the other's checks (Chromium also checks from sockets on the
      // machine's other addresses, and getStats hides prflx addresses as ""): both ends are always
      // addresses of this machine, so the media never leaves it.
      const ownAddresses = new Set(["", ...Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address))]);
      for (const pair of [pairA!, pairB!]) {
        expect([pair.local.address, pair.remote.address]).toContain("127.0.0.1");
        expect(ownAddresses).toContain(pair.local.address);
        expect(ownAddresses).toContain(pair.remote.address);
      }

      // Chrome <-> Chrome negotiates telephone-event, so js-sdk's sendDtmfDigit plays.
      expect(await pageA.sendDtmf(callId, "1#")).toEqual(["1", "#"]);

      await pageA.hangup(callId);
      await pageB.waitForState(callId, "ended", 10_000);
      expect(await pageA.state(callId)).toBe("ended");
      expect(await pageA.hangupReason(callId)).toBe("user_hangup");
      expect(await pageB.hangupReason(callId)).toBe("user_hangup");
      expect(await pageB.hangupParty(callId)).toBe("remote");
      const hangup = await aliceUser.waitFor(roomId, (e) => e.type === "m.call.hangup", { what: "m.call.hangup" });
      expect(hangup.content).toMatchObject({ call_id: callId, version: "1", reason: "user_hangup" });

      // A second call, which B rejects: A's call ends as a remote user_hangup, B's never rings on.
      const second = await pageA.placeCall(roomId);
      expect(await pageB.waitForIncomingCall(15_000)).toBe(second);
      await pageB.waitForState(second, "ringing", 5000);
      await pageB.reject(second);
      await pageA.waitForState(second, "ended", 10_000);
      expect(await pageA.hangupParty(second)).toBe("remote");
      expect(await pageA.hangupReason(second)).toBe("user_hangup");
      expect(await pageB.state(second)).toBe("ended");
      await aliceUser.waitFor(roomId, (e) => e.type === "m.call.reject" && e.content.call_id === second, { what: "m.call.reject" });

      const bobEvents = await pageB.events();
      expect(bobEvents.some((line) => line.includes(`${callId} state ringing -> wait_local_media`) || line.includes(`${callId} state ringing -> create_answer`))).toBe(true);
      console.log(
        `[smoke] matrix call: connected ${connectedMs} ms after start, A pair ${describePair(pairA)}, B pair ${describePair(pairB)}, ` +
          `A heard ${JSON.stringify(round(heardByA))} (rms ${heardByA.rms.toFixed(3)}), B heard ${JSON.stringify(round(heardByB))} (rms ${heardByB.rms.toFixed(3)}), ` +
          `total ${Date.now() - started} ms\n  B's log:\n  ${bobEvents.join("\n  ")}`,
      );
    } catch (err) {
      console.log(`A's log:\n${(await pageA.events().catch(() => [])).join("\n")}\nB's log:\n${(await pageB.events().catch(() => [])).join("\n")}`);
      console.log(`A's console (tail):\n${a!.console().slice(-60).join("\n")}`);
      throw err;
    }
  });
});
