import { describe, expect, it } from "vitest";
import { hasTone } from "../../src/media/audio/goertzel.js";
import { frames, fromMulaw, tone, toMulaw } from "../../src/media/audio/tones.js";
import { createSocket } from "node:dgram";
import { MediaStreamTrack, RTCPeerConnection } from "werift";
import { forgetSentPackets, MatrixPeer, stripWideTelephoneEvents } from "../../src/media/webrtc/peer.js";

const concatPcm = (chunks: Buffer[]) => fromMulaw(Buffer.concat(chunks));

describe("MatrixPeer (werift, PCMU)", () => {
  it("two peers on loopback carry µ-law frames both ways, unchanged in format", async () => {
    const a = new MatrixPeer({ iceServers: [], loopbackOnly: true });
    const b = new MatrixPeer({ iceServers: [], loopbackOnly: true });
    const atA: Buffer[] = [];
    const atB: Buffer[] = [];
    a.onAudio((f) => atA.push(f));
    b.onAudio((f) => atB.push(f));
    const offer = await a.createOffer();
    expect(offer).toMatch(/m=audio \d+ UDP\/TLS\/RTP\/SAVPF 0 101/);
    expect(offer).toMatch(/a=msid:/);
    expect(offer.match(/a=candidate:.*/g)?.every((c) => c.includes("127.0.0.1"))).toBe(true);
    const answer = await b.acceptOffer(offer);
    expect(answer).toMatch(/a=rtpmap:0 PCMU\/8000/);
    await a.acceptAnswer(answer);
    const deadline = Date.now() + 10_000;
    while ((a.connectionState !== "connected" || b.connectionState !== "connected") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect([a.connectionState, b.connectionState]).toEqual(["connected", "connected"]);
    const toB = frames(toMulaw(tone([600], 1000)));
    const toA = frames(toMulaw(tone([1000], 1000)));
    for (let i = 0; i < toB.length; i++) {
      a.sendAudio(toB[i]!);
      b.sendAudio(toA[i]!);
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(atB.length).toBeGreaterThan(40);
    expect(atB.every((f) => f.length === 160)).toBe(true);
    expect(hasTone(concatPcm(atB), 600, 8000)).toBe(true);
    expect(hasTone(concatPcm(atB), 1000, 8000)).toBe(false);
    expect(hasTone(concatPcm(atA), 1000, 8000)).toBe(true);
    a.close();
    b.close();
  }, 20_000);

  it("does not wait werift's default 5 s for a STUN server that never answers", async () => {
    const stun = createSocket("udp4");
    let stunRequests = 0;
    stun.on("message", () => stunRequests++);
    await new Promise<void>((resolve) => stun.bind(0, "127.0.0.1", resolve));
    const peer = new MatrixPeer({ iceServers: [{ urls: `stun:127.0.0.1:${stun.address().port}` }], loopbackOnly: true });
    try {
      const offer = await Promise.race([peer.createOffer(), new Promise<null>((r) => setTimeout(() => r(null), 4_000))]);
      expect(offer).not.toBeNull();
      expect(offer!.match(/a=candidate:.*/g)?.some((c) => c.includes("127.0.0.1") && c.includes("typ host"))).toBe(true);
      expect(stunRequests).toBeGreaterThan(0);
    } finally {
      peer.close();
      stun.close();
    }
  }, 15_000);

  it("keeps no history of sent packets (werift's NACK cache, which we never negotiate)", async () => {
    const pc = new RTCPeerConnection({ iceServers: [] });
    const sender = pc.addTransceiver(new MediaStreamTrack({ kind: "audio" })).sender as unknown as { rtpCache: unknown[] };
    // False would mean werift renamed the field, and calls at scale pay for the history again.
    expect(forgetSentPackets(sender)).toBe(true);
    sender.rtpCache[7] = "a packet";
    expect(sender.rtpCache[7]).toBeUndefined();
    expect(sender.rtpCache.length).toBe(0);
    await pc.close();
  });

  it("keeps only the 8 kHz telephone-event of a Chrome offer", () => {
    const offer = [
      "v=0",
      "m=audio 9 UDP/TLS/RTP/SAVPF 111 0 110 126",
      "a=rtpmap:111 opus/48000/2",
      "a=rtpmap:0 PCMU/8000",
      "a=rtpmap:110 telephone-event/48000",
      "a=fmtp:110 0-15",
      "a=rtpmap:126 telephone-event/8000",
      "",
    ].join("\r\n");
    const stripped = stripWideTelephoneEvents(offer);
    expect(stripped).toContain("m=audio 9 UDP/TLS/RTP/SAVPF 111 0 126");
    expect(stripped).not.toContain("telephone-event/48000");
    expect(stripped).not.toContain("a=fmtp:110");
    expect(stripped).toContain("a=rtpmap:126 telephone-event/8000");
  });
});
