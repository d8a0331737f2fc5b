import { describe, expect, it } from "vitest";
import { hasTone } from "../../src/media/audio/goertzel.js";
import { frames, fromMulaw, tone, toMulaw } from "../../src/media/audio/tones.js";
import { MatrixPeer, stripWideTelephoneEvents } from "../../src/media/webrtc/peer.js";

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
