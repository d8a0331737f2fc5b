/**
 * "The phone": one self-contained page (no build step, no external assets) that plays a handset
 * against the simulator through the control API: texts, and calls with the browser's microphone
 * and speaker. It polls, so it works behind any loopback setup. All user-supplied text is rendered
 * with textContent, never as HTML.
 */

/**
 * The page's audio conversions, hand-written because the page has no bundler: G.711 µ-law, and
 * resampling between the AudioContext's rate (usually 48 kHz) and the phone network's 8 kHz.
 * Downsampling averages each output period's input samples (a box filter: crude, but it keeps
 * most aliasing out); upsampling interpolates linearly. Defines `phoneAudio`.
 */
export const PHONE_AUDIO_JS = `
const phoneAudio = (() => {
  function linearToMulaw(sample) {
    const BIAS = 0x84, CLIP = 32635;
    const sign = sample < 0 ? 0x80 : 0;
    let magnitude = Math.min(Math.abs(sample), CLIP) + BIAS;
    let exponent = 7;
    for (let mask = 0x4000; (magnitude & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
    const mantissa = (magnitude >> (exponent + 3)) & 0x0f;
    return ~(sign | (exponent << 4) | mantissa) & 0xff;
  }
  function mulawToLinear(byte) {
    const u = ~byte & 0xff;
    const magnitude = (((u & 0x0f) << 3) + 0x84) << ((u >> 4) & 7);
    return u & 0x80 ? 0x84 - magnitude : magnitude - 0x84;
  }
  // Float samples at inRate in, 160-byte µ-law frames (20 ms at 8 kHz) out.
  class Encoder {
    constructor(inRate) { this.step = inRate / 8000; this.pos = 0; this.sum = 0; this.n = 0; this.frame = new Uint8Array(160); this.used = 0; }
    push(floats, onFrame) {
      for (let i = 0; i < floats.length; i++) {
        this.sum += floats[i]; this.n++; this.pos += 1;
        if (this.pos < this.step) continue;
        this.pos -= this.step;
        const value = Math.max(-1, Math.min(1, this.sum / this.n));
        this.sum = 0; this.n = 0;
        this.frame[this.used++] = linearToMulaw(Math.round(value * 32767));
        if (this.used === 160) { onFrame(this.frame); this.frame = new Uint8Array(160); this.used = 0; }
      }
    }
  }
  // µ-law bytes at 8 kHz in, float samples at outRate out; at most half a second is buffered.
  class Decoder {
    constructor(outRate) { this.step = 8000 / outRate; this.pos = 0; this.buffer = []; }
    push(bytes) {
      for (let i = 0; i < bytes.length; i++) this.buffer.push(mulawToLinear(bytes[i]) / 32768);
      if (this.buffer.length > 4000) { this.buffer.splice(0, this.buffer.length - 4000); this.pos = 0; }
    }
    pull(out) {
      for (let i = 0; i < out.length; i++) {
        const index = Math.floor(this.pos);
        if (index + 1 >= this.buffer.length) { out[i] = 0; continue; }
        const fraction = this.pos - index;
        out[i] = this.buffer[index] * (1 - fraction) + this.buffer[index + 1] * fraction;
        this.pos += this.step;
      }
      const consumed = Math.min(Math.floor(this.pos), this.buffer.length);
      this.buffer.splice(0, consumed);
      this.pos -= consumed;
    }
  }
  return { linearToMulaw, mulawToLinear, Encoder, Decoder };
})();
`;

export const PHONE_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Simulated phone</title>
<style>
  :root { font-family: system-ui, sans-serif; color-scheme: light dark; }
  body { margin: 0; display: flex; justify-content: center; }
  main { width: min(32rem, 100vw); min-height: 100vh; display: flex; flex-direction: column; gap: .5rem; padding: .75rem; box-sizing: border-box; }
  label { display: flex; flex-direction: column; font-size: .8rem; gap: .2rem; }
  input, select, textarea, button { font: inherit; padding: .4rem; }
  .row { display: flex; gap: .5rem; }
  .row > * { flex: 1; }
  #thread { flex: 1; overflow-y: auto; border: 1px solid #8884; border-radius: .5rem; padding: .5rem; display: flex; flex-direction: column; gap: .4rem; min-height: 16rem; }
  .bubble { max-width: 80%; padding: .4rem .6rem; border-radius: .8rem; white-space: pre-wrap; overflow-wrap: anywhere; }
  .mine { align-self: flex-end; background: #2b7cff; color: white; }
  .theirs { align-self: flex-start; background: #8883; }
  .meta { font-size: .7rem; opacity: .7; }
  .bubble img { max-width: 100%; display: block; margin-top: .3rem; border-radius: .4rem; }
  #status { font-size: .8rem; min-height: 1.2em; }
  form { display: flex; flex-direction: column; gap: .4rem; }
  #phone { border: 1px solid #8884; border-radius: .5rem; padding: .5rem; display: flex; flex-direction: column; gap: .4rem; }
  #call-status { font-weight: 600; min-height: 1.2em; }
  #keypad { display: grid; grid-template-columns: repeat(3, 1fr); gap: .3rem; }
  #said { font-size: .8rem; opacity: .8; min-height: 1em; }
</style>
</head>
<body>
<main>
  <div class="row">
    <label>My number <input id="mine" list="known" autocomplete="off"></label>
    <label>Texting <select id="peer"></select></label>
  </div>
  <datalist id="known"><option value="+15557654321"></option><option value="TWILIO"></option><option value="12345"></option></datalist>
  <section id="phone" aria-label="Calls">
    <div id="call-status" aria-live="polite">No call</div>
    <div class="row">
      <button id="call" type="button">Call</button>
      <button id="answer" type="button" disabled>Answer</button>
      <button id="hangup" type="button" disabled>Hang up</button>
    </div>
    <div id="keypad"></div>
    <label><span><input id="ring-here" type="checkbox" checked> Ring this page (answer calls here)</span></label>
    <div id="said"></div>
  </section>
  <div id="thread" aria-live="polite"></div>
  <form id="compose">
    <textarea id="body" rows="3" maxlength="1600" placeholder="Text message"></textarea>
    <div class="row">
      <input id="file" type="file" accept="image/*">
      <button type="submit">Send</button>
    </div>
  </form>
  <div id="status"></div>
</main>
<script>
${PHONE_AUDIO_JS}
(() => {
"use strict";
const $ = (id) => document.getElementById(id);
const api = "/_sim/api";
const mine = $("mine"), peer = $("peer"), thread = $("thread"), statusLine = $("status");
mine.value = localStorage.getItem("sim-phone-number") || "+15557654321";
mine.addEventListener("change", () => { localStorage.setItem("sim-phone-number", mine.value.trim()); refresh(); });
peer.addEventListener("change", () => { localStorage.setItem("sim-phone-peer", peer.value); refresh(); });

async function getJson(path) {
  const response = await fetch(api + path);
  if (!response.ok) throw new Error("HTTP " + response.status);
  return response.json();
}

let lastNumbers = "";
async function loadNumbers() {
  const { numbers } = await getJson("/numbers");
  const key = JSON.stringify(numbers.map((n) => [n.phone_number, n.friendly_name]));
  if (key === lastNumbers) return;
  lastNumbers = key;
  const wanted = peer.value || localStorage.getItem("sim-phone-peer");
  peer.replaceChildren(...numbers.map((n) => {
    const option = document.createElement("option");
    option.value = n.phone_number;
    option.textContent = n.friendly_name === n.phone_number ? n.phone_number : n.phone_number + " (" + n.friendly_name + ")";
    return option;
  }));
  if (numbers.some((n) => n.phone_number === wanted)) peer.value = wanted;
}

let lastRendered = "";
async function refresh() {
  const me = mine.value.trim(), them = peer.value;
  if (!me) return;
  const { messages } = await getJson("/messages?number=" + encodeURIComponent(me));
  const shown = messages.filter((m) => (m.from === me && m.to === them) || (m.to === me && m.from === them));
  const key = JSON.stringify(shown.map((m) => [m.sid, m.status]));
  if (key === lastRendered) return;
  lastRendered = key;
  const atBottom = thread.scrollTop + thread.clientHeight >= thread.scrollHeight - 8;
  thread.replaceChildren(...shown.map(renderMessage));
  if (atBottom) thread.scrollTop = thread.scrollHeight;
}

function renderMessage(m) {
  const sentByMe = m.from === mine.value.trim();
  const bubble = document.createElement("div");
  bubble.className = "bubble " + (sentByMe ? "mine" : "theirs");
  if (m.body) bubble.append(document.createTextNode(m.body));
  for (const media of m.media) {
    if (media.contentType.startsWith("image/")) {
      const img = document.createElement("img");
      img.src = media.url;
      img.alt = media.contentType;
      bubble.append(img);
    } else {
      const link = document.createElement("a");
      link.href = media.url;
      link.textContent = media.contentType + " (" + media.size + " bytes)";
      bubble.append(document.createElement("br"), link);
    }
  }
  const meta = document.createElement("div");
  meta.className = "meta";
  meta.textContent = m.dateCreated + (sentByMe ? "" : " · " + m.status) + (m.errorCode ? " · error " + m.errorCode : "");
  bubble.append(meta);
  return bubble;
}

function readBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ""));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

$("compose").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = $("body").value, file = $("file").files[0];
  if (!body && !file) return;
  const payload = { to: peer.value, body };
  if (file) payload.media = [{ contentType: file.type || "application/octet-stream", base64: await readBase64(file) }];
  statusLine.textContent = "Sending…";
  try {
    const response = await fetch(api + "/handsets/" + encodeURIComponent(mine.value.trim()) + "/sms", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(payload),
    });
    const result = await response.json();
    if (!response.ok) throw new Error(result.error ? result.error.message : "HTTP " + response.status);
    statusLine.textContent = result.status === 0 ? "Sent, but nobody answered the webhook." : "Sent (webhook answered " + result.status + ").";
    $("body").value = ""; $("file").value = "";
  } catch (err) {
    statusLine.textContent = "Not sent: " + err.message;
  }
  refresh();
});

// ---- calls ----
const callStatus = $("call-status"), callButton = $("call"), answerButton = $("answer"), hangupButton = $("hangup");
let current = null;
let audio = null;

async function send(method, path, body) {
  const response = await fetch(api + path, {
    method, headers: body ? { "content-type": "application/json" } : {}, body: body ? JSON.stringify(body) : undefined,
  });
  const result = await response.json();
  if (!response.ok) throw new Error(result.error ? result.error.message : "HTTP " + response.status);
  return result;
}
const handsetPath = () => "/handsets/" + encodeURIComponent(mine.value.trim());
const ended = (call) => ["completed", "busy", "failed", "no-answer", "canceled"].includes(call.status);

async function applyRingMode() {
  const me = mine.value.trim();
  if (!me) return;
  try { await send("PUT", handsetPath() + "/answer-mode", { mode: $("ring-here").checked ? "manual" : "auto" }); }
  catch (err) { statusLine.textContent = "Answer mode not set: " + err.message; }
}
$("ring-here").addEventListener("change", applyRingMode);
mine.addEventListener("change", applyRingMode);

async function startAudio() {
  if (audio) return;
  const context = new AudioContext();
  const media = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
  const source = context.createMediaStreamSource(media);
  const processor = context.createScriptProcessor(1024, 1, 1);
  const encoder = new phoneAudio.Encoder(context.sampleRate), decoder = new phoneAudio.Decoder(context.sampleRate);
  const socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + api + handsetPath() + "/audio");
  socket.binaryType = "arraybuffer";
  socket.onmessage = (event) => decoder.push(new Uint8Array(event.data));
  processor.onaudioprocess = (event) => {
    encoder.push(event.inputBuffer.getChannelData(0), (frame) => { if (socket.readyState === 1) socket.send(frame); });
    decoder.pull(event.outputBuffer.getChannelData(0));
  };
  source.connect(processor);
  processor.connect(context.destination);
  audio = { context, media, socket, processor };
}

function stopAudio() {
  if (!audio) return;
  audio.socket.close();
  audio.processor.disconnect();
  for (const track of audio.media.getTracks()) track.stop();
  audio.context.close();
  audio = null;
}

function showCall() {
  const call = current;
  const live = call && !ended(call);
  callButton.disabled = Boolean(live);
  hangupButton.disabled = !live;
  answerButton.disabled = !(live && call.role === "callee" && call.status === "ringing");
  for (const key of document.querySelectorAll("#keypad button")) key.disabled = !(live && call.status === "in-progress");
  if (!call) { callStatus.textContent = "No call"; $("said").textContent = ""; return; }
  const other = call.role === "caller" ? call.to : call.from;
  const what = call.role === "callee" && call.status === "ringing" ? "Incoming call from " + other : (call.role === "caller" ? "Call to " : "Call from ") + other;
  callStatus.textContent = what + " · " + call.status + (call.duration !== null ? " · " + call.duration + " s" : "");
  $("said").textContent = call.said.length ? "Heard: " + call.said.join(" / ") : "";
  if (live && call.status === "in-progress" && !audio) startAudio().catch((err) => { statusLine.textContent = "No audio: " + err.message; });
  if (!live) stopAudio();
}

async function refreshCall() {
  const me = mine.value.trim();
  if (!me) return;
  const { calls } = await getJson(handsetPath() + "/calls");
  const latest = calls.filter((c) => !ended(c)).at(-1) || (current ? calls.find((c) => c.sid === current.sid) : null) || null;
  current = latest;
  showCall();
}

callButton.addEventListener("click", async () => {
  try {
    await startAudio();
    current = await send("POST", handsetPath() + "/calls", { to: peer.value });
    showCall();
  } catch (err) { statusLine.textContent = "Call failed: " + err.message; }
});
answerButton.addEventListener("click", async () => {
  if (!current) return;
  try { await startAudio(); current = await send("POST", "/calls/" + current.sid + "/answer"); showCall(); }
  catch (err) { statusLine.textContent = "Not answered: " + err.message; }
});
hangupButton.addEventListener("click", async () => {
  if (!current) return;
  try { current = await send("POST", "/calls/" + current.sid + "/hangup"); showCall(); }
  catch (err) { statusLine.textContent = "Hang up failed: " + err.message; }
});
for (const key of "123456789*0#") {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = key;
  button.disabled = true;
  button.addEventListener("click", () => {
    if (current) send("POST", "/calls/" + current.sid + "/keys", { keys: key }).catch((err) => { statusLine.textContent = err.message; });
  });
  $("keypad").append(button);
}

async function tick() {
  try { await loadNumbers(); await refresh(); await refreshCall(); } catch (err) { statusLine.textContent = "Simulator unreachable: " + err.message; }
  setTimeout(tick, 1000);
}
applyRingMode();
tick();
})();
</script>
</body>
</html>
`;
