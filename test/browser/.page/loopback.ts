/**
 * Keeps WebRTC media on loopback: wraps `window.RTCPeerConnection` (before matrix-js-sdk is
 * loaded, so every peer connection the SDK makes is one of these) so that only 127.0.0.1 ICE
 * candidates are ever handed out or taken in:
 *  - `icecandidate` events carrying any other candidate are stopped before the page's listeners
 *    see them (the null end-of-candidates event and empty candidates pass);
 *  - `localDescription`/`currentLocalDescription`/`pendingLocalDescription` lose their other
 *    `a=candidate` lines (the SDK sends the local description, with whatever candidates it has
 *    gathered, as the invite/answer);
 *  - `setRemoteDescription` drops other `a=candidate` lines and `addIceCandidate` ignores other
 *    candidates.
 */
import type { CandidateLogEntry } from "../api.js";

export const candidateLog: CandidateLogEntry[] = [];

/** `candidate:<foundation> <component> <protocol> <priority> <address> <port> typ <type> …` */
export function candidateAddress(candidate: string): string | undefined {
  return candidate.replace(/^a=/, "").split(/\s+/)[4];
}

export const isLoopbackCandidate = (candidate: string): boolean => candidateAddress(candidate) === "127.0.0.1";

export function filterSdp(sdp: string, direction: "local" | "remote"): string {
  const lines = sdp.split("\r\n");
  const kept = lines.filter((line) => {
    if (!line.startsWith("a=candidate:")) return true;
    const keep = isLoopbackCandidate(line);
    candidateLog.push({ direction, candidate: line.slice(2), kept: keep });
    return keep;
  });
  return kept.join("\r\n");
}

function filterDescription(description: RTCSessionDescription | null): RTCSessionDescription | null {
  if (!description?.sdp) return description;
  return new RTCSessionDescription({ type: description.type, sdp: filterSdp(description.sdp, "local") });
}

const Native = window.RTCPeerConnection;
const nativeProto = Native.prototype;
const getter = (name: string) => Object.getOwnPropertyDescriptor(nativeProto, name)!.get!;
const nativeLocal = getter("localDescription");
const nativeCurrentLocal = getter("currentLocalDescription");
const nativePendingLocal = getter("pendingLocalDescription");

class LoopbackPeerConnection extends Native {
  constructor(configuration?: RTCConfiguration) {
    // No STUN/TURN on loopback: the SDK passes `iceServers: undefined` when the homeserver has no
    // TURN and fallbackICEServerAllowed is false; make sure nobody else adds any.
    super({ ...configuration, iceServers: [] });
    // Registered first, so it runs before any listener the SDK adds (and before `onicecandidate`).
    this.addEventListener("icecandidate", (event) => {
      const candidate = event.candidate?.candidate;
      if (!candidate) return; // end of candidates (null or "") always passes
      const keep = isLoopbackCandidate(candidate);
      candidateLog.push({ direction: "local", candidate, kept: keep });
      if (!keep) event.stopImmediatePropagation();
    });
  }

  override get localDescription(): RTCSessionDescription | null {
    return filterDescription(nativeLocal.call(this) as RTCSessionDescription | null);
  }

  override get currentLocalDescription(): RTCSessionDescription | null {
    return filterDescription(nativeCurrentLocal.call(this) as RTCSessionDescription | null);
  }

  override get pendingLocalDescription(): RTCSessionDescription | null {
    return filterDescription(nativePendingLocal.call(this) as RTCSessionDescription | null);
  }

  override setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
    const filtered = description.sdp ? { type: description.type, sdp: filterSdp(description.sdp, "remote") } : description;
    return super.setRemoteDescription(filtered);
  }

  override addIceCandidate(candidate?: RTCIceCandidateInit | null): Promise<void> {
    const text = candidate?.candidate;
    if (text) {
      const keep = isLoopbackCandidate(text);
      candidateLog.push({ direction: "remote", candidate: text, kept: keep });
      if (!keep) return Promise.resolve();
    }
    return candidate === undefined ? super.addIceCandidate() : super.addIceCandidate(candidate);
  }
}

window.RTCPeerConnection = LoopbackPeerConnection;
