/**
 * "The phone": one self-contained page (no build step, no external assets) that plays a handset
 * against the simulator through the control API. It polls, so it works behind any loopback setup.
 * All user-supplied text is rendered with textContent, never as HTML.
 */
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
</style>
</head>
<body>
<main>
  <div class="row">
    <label>My number <input id="mine" list="known" autocomplete="off"></label>
    <label>Texting <select id="peer"></select></label>
  </div>
  <datalist id="known"><option value="+15557654321"></option><option value="TWILIO"></option><option value="12345"></option></datalist>
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

async function tick() {
  try { await loadNumbers(); await refresh(); } catch (err) { statusLine.textContent = "Simulator unreachable: " + err.message; }
  setTimeout(tick, 1000);
}
tick();
})();
</script>
</body>
</html>
`;
