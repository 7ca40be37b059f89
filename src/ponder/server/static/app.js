// Ponder's web page: plain JavaScript, no build step. Talks to the same server's /v1 API.
"use strict";

const $ = (id) => document.getElementById(id);
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                 "#7f7f7f", "#bcbd22", "#17becf"];
let KEY = sessionStorage.getItem("ponder-key") || "";

function headers(json = true) {
  const h = {};
  if (json) h["Content-Type"] = "application/json";
  if (KEY) h["Authorization"] = "Bearer " + KEY;
  return h;
}

function showError(msg) {
  const el = $("error");
  el.textContent = msg || "";
  el.hidden = !msg;
}

async function api(path, options = {}) {
  const res = await fetch(path, { ...options, headers: { ...headers(!options.raw), ...(options.headers || {}) } });
  if (!res.ok) {
    let msg = res.status + " " + res.statusText;
    try { msg = (await res.json()).error.message; } catch (e) { /* not JSON */ }
    if (res.status === 401) msg += " (enter an API key above)";
    throw new Error(msg);
  }
  return res.json();
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function current() { return $("collection").value; }

async function loadCollections(select) {
  try {
    const data = await api("/v1/collections");
    const sel = $("collection");
    const keep = select || sel.value;
    sel.replaceChildren(...data.collections.map((c) => el("option", { value: c.name }, c.name)));
    if (keep && data.collections.some((c) => c.name === keep)) sel.value = keep;
    showInfo(data.collections.find((c) => c.name === sel.value));
    showError("");
  } catch (e) { showError(e.message); }
}

function showInfo(info) {
  $("col-info").textContent = info
    ? `${info.documents} documents, ${info.chunks} chunks, ${info.model}, ${info.index} index`
    : "No collection yet: create one.";
}

$("key-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  KEY = $("key").value.trim();
  sessionStorage.setItem("ponder-key", KEY);
  loadCollections();
});
$("refresh-btn").addEventListener("click", () => loadCollections());
$("collection").addEventListener("change", () => loadCollections(current()));

$("create-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const name = $("new-collection").value.trim();
  if (!name) return;
  try {
    await api("/v1/collections", { method: "POST", body: JSON.stringify({ name }) });
    $("new-collection").value = "";
    await loadCollections(name);
  } catch (e) { showError(e.message); }
});

// ------------------------------------------------------------------ upload
$("upload-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const files = $("files").files;
  if (!files.length || !current()) { showError("Pick a collection and at least one file."); return; }
  const form = new FormData();
  for (const f of files) form.append("files", f, f.name);
  const xhr = new XMLHttpRequest();
  const bar = $("upload-progress");
  xhr.open("POST", `/v1/collections/${encodeURIComponent(current())}/documents`);
  if (KEY) xhr.setRequestHeader("Authorization", "Bearer " + KEY);
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = 0.5 * e.loaded / e.total; };
  xhr.onload = () => {
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch (e) { /* ignore */ }
    if (xhr.status !== 202) { showError(body.error ? body.error.message : "upload failed"); bar.value = 0; return; }
    showError("");
    pollJob(body.id);
  };
  xhr.onerror = () => showError("upload failed: network error");
  $("job-status").textContent = "uploading…";
  xhr.send(form);
});

async function pollJob(id) {
  const bar = $("upload-progress");
  try {
    const job = await api(`/v1/jobs/${id}`);
    bar.value = 0.5 + 0.5 * job.progress;
    if (job.status === "done") {
      const r = job.report;
      let text = `done: ${r.added} added, ${r.updated} updated, ${r.unchanged} unchanged, ${r.chunks} chunks`;
      if (r.skipped.length) text += "; skipped: " + r.skipped.map((s) => `${s.source} (${s.reason})`).join("; ");
      $("job-status").textContent = text;
      bar.value = 1;
      loadCollections(current());
      return;
    }
    if (job.status === "failed") { $("job-status").textContent = "failed: " + job.error; return; }
    $("job-status").textContent = `${job.status}: ${job.files_done}/${job.files_total} files, ${job.chunks_done}/${job.chunks_total} chunks`;
    setTimeout(() => pollJob(id), 300);
  } catch (e) { showError(e.message); }
}

// ------------------------------------------------------------------ search
$("search-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const body = { query: $("query").value, k: Number($("k").value) || 5,
                 strategy: $("strategy").value, explain: $("explain").checked };
  const where = $("where").value.trim();
  if (where) {
    try { body.where = JSON.parse(where); } catch (e) { showError("Filter is not valid JSON: " + e.message); return; }
  }
  try {
    const data = await api(`/v1/collections/${encodeURIComponent(current())}/query`, { method: "POST", body: JSON.stringify(body) });
    showError("");
    $("plan").hidden = !data.plan_text;
    $("plan").textContent = data.plan_text || "";
    $("results").replaceChildren(...data.results.map((h) => el("li", {},
      el("div", { class: "hit-meta" }, `${h.score.toFixed(3)} · ${basename(h.source) || h.id} · ${JSON.stringify(h.metadata)}`),
      el("div", {}, h.text.slice(0, 400)))));
    if (!data.results.length) $("results").replaceChildren(el("li", {}, "no results"));
  } catch (e) { showError(e.message); }
});

function basename(s) { return s ? s.split(/[\\/]/).pop() : ""; }

// ------------------------------------------------------------------ ask (SSE over fetch)
$("ask-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const out = $("answer");
  out.textContent = "";
  $("citations").replaceChildren();
  $("answer-notes").textContent = "thinking…";
  try {
    const res = await fetch("/v1/ask", { method: "POST", headers: headers(),
      body: JSON.stringify({ question: $("question").value, collection: current(), stream: true }) });
    if (!res.ok) { let m = res.statusText; try { m = (await res.json()).error.message; } catch (e) { /**/ } throw new Error(m); }
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const raw = buf.slice(0, cut); buf = buf.slice(cut + 2);
        const ev2 = parseEvent(raw);
        if (ev2.event === "token") out.textContent += ev2.data.text;
        else if (ev2.event === "final") showAnswer(ev2.data);
        else if (ev2.event === "error") throw new Error(ev2.data.error.message);
      }
    }
    showError("");
  } catch (e) { showError(e.message); $("answer-notes").textContent = ""; }
});

function parseEvent(raw) {
  let event = "message"; const data = [];
  for (const line of raw.split("\n")) {
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).trim());
  }
  return { event, data: JSON.parse(data.join("\n") || "null") };
}

function showAnswer(a) {
  const out = $("answer");
  out.replaceChildren();
  const unsupported = new Set(a.unsupported);
  const byN = new Map(a.citations.map((c) => [c.n, c]));
  // the checked answer, with [n] as buttons that open the cited text
  const parts = a.answer.split(/(\[\d+\])/);
  for (const part of parts) {
    const m = part.match(/^\[(\d+)\]$/);
    if (m && byN.has(Number(m[1]))) {
      out.append(el("button", { type: "button", class: "cite", "data-n": m[1],
        "aria-label": `open source ${m[1]}`, onclick: () => openCitation(byN.get(Number(m[1]))) }, `[${m[1]}]`));
    } else {
      const span = el("span", {}, part);
      if ([...unsupported].some((s) => part.includes(s))) span.className = "unsupported";
      out.append(span);
    }
  }
  $("citations").replaceChildren(...a.citations.map((c) => el("li", { value: c.n },
    el("button", { type: "button", class: "cite", "data-n": c.n, onclick: () => openCitation(c) },
       `[${c.n}] ${basename(c.source) || c.chunk_id}`),
    " ", el("span", { class: "hit-meta" }, c.location + (c.inferred ? " (not cited by the model; supports the answer)" : "")))));
  const notes = [];
  if (a.unsupported.length) notes.push(`${a.unsupported.length} sentence(s) not supported by the sources`);
  if (a.injections.length) notes.push(`${a.injections.length} instruction-like passage(s) removed from the sources`);
  if (a.timings && a.timings.total !== undefined) notes.push(`${a.timings.total.toFixed(2)} s`);
  $("answer-notes").textContent = `${a.status}` + (notes.length ? " · " + notes.join(" · ") : "");
}

function openCitation(c) {
  const box = $("viewer-text");
  box.replaceChildren();
  const text = c.text || "";
  const quote = (c.quote || "").trim();
  const at = quote ? text.indexOf(quote) : -1;
  if (at >= 0) {
    box.append(text.slice(0, at), el("mark", { id: "cited-span" }, quote), text.slice(at + quote.length));
  } else {
    box.append(el("mark", { id: "cited-span" }, text));
  }
  $("viewer-title").textContent = `[${c.n}] ${basename(c.source) || c.chunk_id}`;
  $("viewer-where").textContent = c.location;
  $("viewer").showModal();
  const mark = $("cited-span");
  if (mark && mark.scrollIntoView) mark.scrollIntoView({ block: "center" });
}

// ------------------------------------------------------------------ map
$("map-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const params = new URLSearchParams({ sample: "1500" });
  const by = $("color-by").value.trim();
  if (by) params.set("color_by", by);
  try {
    const m = await api(`/v1/collections/${encodeURIComponent(current())}/map?${params}`);
    drawMap(m);
    showError("");
  } catch (e) { showError(e.message); }
});

function drawMap(m) {
  const svg = $("map");
  const NS = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  const counts = {};
  for (const p of m.points) counts[p.label] = (counts[p.label] || 0) + 1;
  const ranked = Object.keys(counts).sort((a, b) => counts[b] - counts[a] || a.localeCompare(b));
  const color = (lab) => { const i = ranked.indexOf(lab); return i >= 0 && i < 9 ? PALETTE[i] : PALETTE[7]; };
  const xs = m.points.map((p) => p.x), ys = m.points.map((p) => p.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const W = 600, H = 400, P = 12;
  m.points.forEach((p, i) => {
    const c = document.createElementNS(NS, "circle");
    c.setAttribute("cx", P + (p.x - x0) / ((x1 - x0) || 1) * (W - 2 * P));
    c.setAttribute("cy", H - P - (p.y - y0) / ((y1 - y0) || 1) * (H - 2 * P));
    c.setAttribute("r", 4);
    c.setAttribute("fill", color(p.label));
    c.setAttribute("tabindex", "0");
    c.dataset.i = i;
    const t = document.createElementNS(NS, "title"); t.textContent = p.label; c.append(t);
    svg.append(c);
  });
  const show = (ev) => { const i = ev.target.dataset && ev.target.dataset.i; if (i === undefined) return;
    const p = m.points[i]; $("map-chunk").textContent = `${p.label} · ${basename(p.source) || p.id}\n\n${p.text}`; };
  svg.onmouseover = show; svg.onfocusin = show;
  $("map-legend").replaceChildren(...ranked.slice(0, 10).map((lab) =>
    el("li", {}, el("span", { style: `background:${color(lab)}` }), lab)));
  $("map-info").textContent = `${m.points.length} of ${m.total} chunks, ${m.method.toUpperCase()}` +
    (m.explained && m.explained[0] ? ` (variance kept ${(100 * (m.explained[0] + m.explained[1])).toFixed(0)} %)` : "");
}

if (KEY) $("key").value = KEY;
loadCollections();
