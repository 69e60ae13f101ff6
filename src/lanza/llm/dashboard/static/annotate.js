/* An annotation queue, one trace at a time. Keys: 1-5 score, c correct the answer,
   Enter (Ctrl+Enter in the correction) saves and moves on, s skips. */
"use strict";

const queue = decodeURIComponent(window.location.pathname.split("/").pop());
const api = `/api/v1/annotation-queues/${encodeURIComponent(queue)}`;
let current = null;
let score = null;

function reviewer() {
  return document.getElementById("reviewer").value.trim();
}

function spanRows(spans, depth, out) {
  for (const s of spans) {
    out.push(el("tr", { "data-span": s.name }, el("td", { style: `padding-left:${8 + depth * 16}px` }, s.name),
      el("td", {}, s.run_type), el("td", {}, fmt(s.latency_ms, 1) + " ms"), el("td", {}, s.status)));
    spanRows(s.children || [], depth + 1, out);
  }
  return out;
}

function pickScore(value) {
  score = value;
  for (const b of document.querySelectorAll("button.score")) b.classList.toggle("plain", Number(b.dataset.score) !== value);
  document.getElementById("picked").textContent = value ? `score ${value}` : "";
}

async function load() {
  const main = document.getElementById("main");
  if (!reviewer()) {
    main.replaceChildren(el("p", { class: "muted", id: "ask-name" }, "Type your name above to start reviewing."));
    return;
  }
  const item = await getJSON(`${api}/next?reviewer=${encodeURIComponent(reviewer())}`);
  current = item.trace;
  score = null;
  document.getElementById("remaining").textContent = `${item.remaining} to review`;
  if (!current) {
    main.replaceChildren(el("p", { class: "muted", id: "done" }, "Nothing left to review in this queue."));
    await agreement();
    return;
  }
  const root = current.spans[0] || {};
  const buttons = [1, 2, 3, 4, 5].map((n) => {
    const b = el("button", { type: "button", class: "score plain", "data-score": n, title: `key ${n}` }, String(n));
    b.addEventListener("click", () => pickScore(n));
    return b;
  });
  const save = el("button", { type: "button", id: "save", title: "Enter" }, "Save and next");
  save.addEventListener("click", () => submit(false));
  const skip = el("button", { type: "button", id: "skip", class: "plain", title: "s" }, "Skip");
  skip.addEventListener("click", () => submit(true));
  const scores = (current.scores || []).map((s) => el("li", {}, `${s.evaluator}.${s.scorer}: ${fmt(s.score, 3)}`));
  main.replaceChildren(el("div", { class: "split" },
    el("div", {},
      el("section", { class: "card", id: "trace", "data-trace": current.trace_id },
        el("h2", {}, current.name), el("p", { class: "muted" }, when(current.start_time)),
        el("h3", {}, "Input"), el("pre", { id: "inputs" }, pretty(root.inputs)),
        el("h3", {}, "Output"), el("pre", { id: "outputs" }, pretty(root.outputs))),
      el("section", { class: "card" }, el("h2", {}, "Spans"), el("table", { id: "spans" }, ...spanRows(current.spans, 0, [])))),
    el("div", {},
      el("section", { class: "card" }, el("h2", {}, "Your review"),
        el("div", { class: "pager" }, ...buttons, el("span", { id: "picked", class: "muted" })),
        el("textarea", { id: "correction", rows: 5, placeholder: "Corrected answer (optional; press c)", style: "width:100%;margin-top:8px" }),
        el("div", { class: "pager" }, save, skip, el("span", { id: "note", class: "muted" }))),
      el("section", { class: "card" }, el("h2", {}, "Evaluator scores"), scores.length ? el("ul", { id: "scores" }, ...scores) : el("p", { class: "muted" }, "none")),
      el("section", { class: "card", id: "agreement-card" }))));
  await agreement();
}

async function submit(skipped) {
  if (!current) return;
  const correction = document.getElementById("correction").value.trim();
  if (!skipped && score === null && !correction) {
    document.getElementById("note").textContent = " pick a score (1-5) or write a correction";
    return;
  }
  const body = skipped ? { reviewer: reviewer(), skip: true } : { reviewer: reviewer(), score, correction: correction || null };
  await postJSON(`${api}/reviews/${encodeURIComponent(current.trace_id)}`, body);
  await load();
}

async function agreement() {
  const a = await getJSON(`${api}/agreement`);
  let card = document.getElementById("agreement-card");
  if (!card) {
    card = el("section", { class: "card", id: "agreement-card" });
    document.getElementById("main").append(card);
  }
  card.replaceChildren(el("h2", {}, `Agreement (${a.reviews} reviews)`),
    el("table", { id: "agreement" }, el("tr", {}, ...["evaluator", "pairs", "agree", "Cohen's κ"].map((h) => el("th", {}, h))),
      ...a.evaluators.map((r) => el("tr", { "data-scorer": `${r.evaluator}.${r.scorer}` },
        el("td", {}, `${r.evaluator}.${r.scorer}`), el("td", {}, r.pairs),
        el("td", {}, r.agreement === null ? "–" : fmt(r.agreement * 100, 0) + " %"),
        el("td", { class: "kappa" }, r.kappa === null ? "–" : fmt(r.kappa, 2))))));
}

document.addEventListener("keydown", (event) => {
  const typing = event.target instanceof HTMLTextAreaElement || event.target instanceof HTMLInputElement;
  if (typing) {
    if (event.target.id === "correction" && event.key === "Enter" && event.ctrlKey) { event.preventDefault(); submit(false); }
    if (event.key === "Escape") event.target.blur();
    return;
  }
  if (["1", "2", "3", "4", "5"].includes(event.key)) pickScore(Number(event.key));
  else if (event.key === "Enter") { event.preventDefault(); submit(false); }
  else if (event.key === "s") submit(true);
  else if (event.key === "c") { event.preventDefault(); document.getElementById("correction").focus(); }
});

const who = el("input", { id: "reviewer", placeholder: "your name", "aria-label": "reviewer", value: window.localStorage.getItem("lanzaReviewer") || "" });
who.addEventListener("change", () => { window.localStorage.setItem("lanzaReviewer", reviewer()); load(); });
document.getElementById("crumb").replaceChildren(`annotate / ${queue} `, who, el("span", { id: "remaining", class: "muted" }));
load().catch((err) => document.getElementById("main").replaceChildren(el("p", { class: "error-text" }, String(err.message || err))));
