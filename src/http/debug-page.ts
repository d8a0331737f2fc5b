/** A page that draws the actor tree from /debug/actors; the token stays in the tab's session storage. */
export const DEBUG_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>matrix-pstn-bridge · actors</title>
<style>
 body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#222}
 .node{margin-left:1.2rem;border-left:2px solid #ccd;padding-left:.6rem;margin-top:.4rem}
 .id{font-weight:600}.machine{color:#557}.state{background:#eef;border-radius:4px;padding:0 .3rem;font-family:monospace}
 details{margin-top:.2rem}pre{background:#f6f6f9;padding:.4rem;margin:.2rem 0;overflow:auto}
 #err{color:#a00}
</style></head><body>
<h1>Live actor tree</h1>
<form id="f"><input id="t" type="password" placeholder="admin token" size="40"> <button>Show</button> <label><input id="auto" type="checkbox" checked> refresh every 2 s</label></form>
<p id="err"></p><div id="tree"></div>
<script>
const t=document.getElementById('t');t.value=sessionStorage.getItem('token')||'';
function esc(s){return String(s).replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]))}
function draw(n){return '<div class="node"><span class="id">'+esc(n.id)+'</span> <span class="machine">'+esc(n.machine)+'</span> <span class="state">'+esc(JSON.stringify(n.state))+'</span> '+esc(n.status)
 +'<details><summary>context</summary><pre>'+esc(JSON.stringify(n.context,null,2))+'</pre></details>'+n.children.map(draw).join('')+'</div>'}
async function load(){sessionStorage.setItem('token',t.value);
 const r=await fetch('debug/actors',{headers:{authorization:'Bearer '+t.value}});
 if(!r.ok){document.getElementById('err').textContent=(await r.json()).error;return}
 document.getElementById('err').textContent='';document.getElementById('tree').innerHTML=draw(await r.json())}
document.getElementById('f').onsubmit=e=>{e.preventDefault();load()};
setInterval(()=>{if(document.getElementById('auto').checked&&t.value)load()},2000);if(t.value)load();
</script></body></html>`;
