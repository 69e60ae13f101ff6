/* Traces: a filtered list at /traces, one trace as a waterfall tree at /traces/{id}. */
"use strict";

const FILTERS = [
  ["name", "name", "text", "part of the name"],
  ["tag", "tag", "text", "a tag"],
  ["start_after", "after", "datetime-local", ""],
  ["start_before", "before", "datetime-local", ""],
  ["min_latency_ms", "min latency ms", "number", ""],
  ["min_tokens", "min tokens", "number", ""],
];
const PAGE = 50;

function filterForm(params) {
  const fields = FILTERS.map(([key, label, type, hint]) => {
    let value = params.get(key) || "";
    if (type === "datetime-local" && value) value = localInput(value);
    return el("label", {}, label, el("input", { name: key, type, value, placeholder: hint, min: type === "number" ? "0" : null }));
  });
  const status = el("select", { name: "status" }, ...["", "success", "error", "running"].map((s) => {
    const option = el("option", { value: s }, s || "any");
    if (s === (params.get("status") || "")) option.selected = true;
    return option;
  }));
  const form = el("form", { class: "filters", id: "filters" }, ...fields, el("label", {}, "status", status),
    el("button", { type: "submit" }, "Search"), el("button", { type: "button", class: "plain", id: "clear" }, "Clear"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [key, value] of new FormData(form).entries()) {
      if (value === "") continue;
      const input = form.elements[key];
      next.set(key, input.type === "datetime-local" ? new Date(value).toISOString() : value);
    }
    window.history.pushState(null, "", "/traces" + (next.toString() ? "?" + next : ""));
    render();
  });
  form.querySelector("#clear").addEventListener("click", () => {
    window.history.pushState(null, "", "/traces");
    render();
  });
  return form;
}

/* An ISO time as the value a datetime-local input shows (local time, minutes). */
function localInput(iso) {
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return "";
  const shifted = new Date(moment.getTime() - moment.getTimezoneOffset() * 60000);
  return shifted.toISOString().slice(0, 16);
}

async function renderList(main) {
  const params = new URLSearchParams(window.location.search);
  const query = new URLSearchParams(params);
  query.set("limit", PAGE);
  const page = await getJSON("/api/v1/traces?" + query);
  document.getElementById("crumb").textContent = "traces";
  const head = el("tr", {}, ...["trace", "started", "status", "latency ms", "spans", "tokens", "cost $", "tags", "source"].map((h) => el("th", {}, h)));
  const rows = page.traces.map((t) => el("tr", { "data-trace": t.trace_id },
    el("td", {}, el("a", { href: "/traces/" + encodeURIComponent(t.trace_id) }, t.name || t.trace_id)),
    el("td", {}, when(t.start_time)),
    el("td", { class: t.status === "error" ? "bad" : t.status === "success" ? "ok" : "muted" }, t.status),
    el("td", {}, fmt(t.latency_ms, 1)),
    el("td", {}, t.span_count),
    el("td", {}, t.total_tokens),
    el("td", {}, t.cost_usd === null ? "–" : fmt(t.cost_usd, 6)),
    el("td", {}, t.tags.join(", ")),
    el("td", {}, t.source)));
  const table = rows.length ? el("table", { id: "traces" }, head, ...rows) : el("p", { class: "muted", id: "no-traces" }, "No traces match.");
  const offset = Number(params.get("offset") || 0);
  const pager = el("div", { class: "pager" });
  if (offset > 0) pager.append(pageLink("Newer", Math.max(0, offset - PAGE)));
  if (page.next_offset !== null) pager.append(pageLink("Older", page.next_offset));
  main.replaceChildren(filterForm(params), table, pager);
}

function pageLink(label, offset) {
  const params = new URLSearchParams(window.location.search);
  params.set("offset", offset);
  const button = el("button", { type: "button", class: "plain" }, label);
  button.addEventListener("click", () => {
    window.history.pushState(null, "", "/traces?" + params);
    render();
  });
  return button;
}

/* Every span of the tree, depth first, with its depth. */
function flatten(spans, depth, out) {
  for (const span of spans) {
    out.push({ span, depth });
    flatten(span.children, depth + 1, out);
  }
  return out;
}

function seconds(iso) {
  return iso ? new Date(iso).getTime() / 1000 : null;
}

function waterfall(trace, detail) {
  const all = flatten(trace.spans, 0, []);
  const starts = all.map((x) => seconds(x.span.start_time)).filter((v) => v !== null);
  const ends = all.map((x) => seconds(x.span.end_time)).filter((v) => v !== null);
  const t0 = starts.length ? Math.min(...starts) : 0;
  const total = Math.max(1e-6, (ends.length ? Math.max(...ends) : t0) - t0);
  const container = el("div", { id: "tree" });
  const collapsed = new Set();
  const rowFor = new Map();

  function visible() {
    const hidden = new Set();
    for (const { span } of all) {
      if (hidden.has(span.id) || collapsed.has(span.id)) for (const child of span.children) hidden.add(child.id);
    }
    for (const [id, row] of rowFor) row.style.display = hidden.has(id) ? "none" : "";
  }

  for (const { span, depth } of all) {
    const start = seconds(span.start_time);
    const left = start === null ? 0 : ((start - t0) / total) * 100;
    const width = span.latency_ms === null ? 100 - left : (span.latency_ms / 1000 / total) * 100;
    const state = span.status === "error" ? "error" : span.end_time ? "" : "running";
    const toggle = el("span", { class: "toggle", "data-toggle": span.id }, span.children.length ? "▾" : "");
    const row = el("div", { class: "span-row", "data-span": span.id, "data-name": span.name, "data-depth": depth },
      el("div", { class: "span-name", style: `padding-left:${depth * 16}px` }, toggle, span.name, el("span", { class: "kind" }, span.run_type)),
      el("div", { class: "track" }, el("div", { class: ("bar " + state).trim(), style: `left:${left.toFixed(2)}%;width:${Math.max(0, Math.min(width, 100 - left)).toFixed(2)}%` })),
      el("div", { class: "ms" }, span.latency_ms === null ? "running" : fmt(span.latency_ms, 1) + " ms"));
    toggle.addEventListener("click", (event) => {
      event.stopPropagation();
      if (!span.children.length) return;
      if (collapsed.has(span.id)) collapsed.delete(span.id); else collapsed.add(span.id);
      toggle.textContent = collapsed.has(span.id) ? "▸" : "▾";
      visible();
    });
    row.addEventListener("click", () => {
      for (const other of rowFor.values()) other.classList.remove("selected");
      row.classList.add("selected");
      detail.replaceChildren(...spanDetail(span));
    });
    rowFor.set(span.id, row);
    container.append(row);
  }
  return { container, first: all.length ? all[0].span : null };
}

function spanDetail(span) {
  const tokens = span.prompt_tokens === null && span.completion_tokens === null ? "–"
    : `${span.prompt_tokens || 0} in + ${span.completion_tokens || 0} out`;
  const facts = el("dl", { class: "facts" },
    el("dt", {}, "run type"), el("dd", {}, span.run_type),
    el("dt", {}, "status"), el("dd", { class: span.status === "error" ? "bad" : "" }, span.status),
    el("dt", {}, "latency"), el("dd", {}, span.latency_ms === null ? "running" : fmt(span.latency_ms, 1) + " ms"),
    el("dt", {}, "model"), el("dd", {}, span.model || "–"),
    el("dt", {}, "tokens"), el("dd", { id: "span-tokens" }, tokens),
    el("dt", {}, "cost"), el("dd", {}, span.cost_usd === null ? "–" : "$" + fmt(span.cost_usd, 6)),
    el("dt", {}, "tags"), el("dd", {}, span.tags.join(", ") || "–"));
  const parts = [el("h2", { id: "span-title" }, span.name), facts];
  if (span.error) parts.push(el("h2", {}, "Error"), el("pre", { class: "error-text", id: "span-error" }, span.error));
  parts.push(el("h2", {}, "Inputs"), el("pre", { id: "span-inputs" }, pretty(span.inputs)));
  parts.push(el("h2", {}, "Outputs"), el("pre", { id: "span-outputs" }, pretty(span.outputs)));
  if (Object.keys(span.metadata || {}).length) parts.push(el("h2", {}, "Metadata"), el("pre", {}, pretty(span.metadata)));
  return parts;
}

function feedbackCard(trace) {
  const list = el("table", { id: "feedback" }, el("tr", {}, ...["key", "score", "comment", "correction", "when"].map((h) => el("th", {}, h))),
    ...trace.feedback.map((f) => el("tr", { "data-feedback": f.key },
      el("td", {}, f.key), el("td", {}, f.score === null ? "–" : f.score), el("td", {}, f.comment || "–"),
      el("td", {}, f.correction === null ? "–" : typeof f.correction === "string" ? f.correction : JSON.stringify(f.correction)),
      el("td", {}, when(f.created_at)))));
  const message = el("span", { id: "feedback-message", class: "muted" });
  const form = el("form", { class: "feedback", id: "feedback-form" },
    el("input", { name: "key", placeholder: "key, e.g. correctness", required: "required" }),
    el("input", { name: "score", type: "number", step: "any", placeholder: "score, e.g. 1" }),
    el("input", { name: "comment", placeholder: "comment" }),
    el("textarea", { name: "correction", rows: 2, placeholder: "correction: the right answer" }),
    el("div", {}, el("button", { type: "submit" }, "Add feedback"), " ", message));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const payload = { key: data.get("key").trim() };
    if (data.get("score") !== "") payload.score = Number(data.get("score"));
    if (data.get("comment").trim()) payload.comment = data.get("comment").trim();
    if (data.get("correction").trim()) payload.correction = data.get("correction").trim();
    try {
      await postJSON("/api/v1/traces/" + encodeURIComponent(trace.trace_id) + "/feedback", payload);
      await render();
    } catch (err) {
      message.textContent = err.message;
      message.className = "bad";
    }
  });
  return el("section", { class: "card" }, el("h2", {}, "Feedback"), list, el("h2", {}, "Add feedback"), form);
}

async function renderTrace(main, id) {
  const trace = await getJSON("/api/v1/traces/" + encodeURIComponent(id));
  document.getElementById("crumb").textContent = "/ traces / " + (trace.name || id);
  const kpis = el("div", { class: "kpis" },
    kpi("status", trace.status, trace.status === "error" ? "bad" : "ok"),
    kpi("latency ms", fmt(trace.latency_ms, 1)),
    kpi("spans", trace.span_count),
    kpi("tokens", `${trace.total_tokens} (${trace.prompt_tokens} in, ${trace.completion_tokens} out)`),
    kpi("cost $", trace.cost_usd === null ? "–" : fmt(trace.cost_usd, 6)),
    kpi("started", when(trace.start_time)),
    kpi("source", trace.source));
  const detail = el("section", { class: "card", id: "span-detail" });
  const { container, first } = waterfall(trace, detail);
  if (first) detail.replaceChildren(...spanDetail(first));
  const tree = el("section", { class: "card" }, el("h2", {}, "Spans"), container);
  main.replaceChildren(kpis, el("div", { class: "split" }, el("div", {}, tree, feedbackCard(trace)), detail));
  if (first) container.querySelector(".span-row").classList.add("selected");
}

function kpi(label, value, cls) {
  return el("div", { class: "kpi " + (cls || "") }, el("span", { class: "muted" }, label), el("b", {}, value));
}

async function render() {
  const main = document.getElementById("main");
  const match = window.location.pathname.match(/^\/traces\/(.+)$/);
  try {
    if (match) await renderTrace(main, decodeURIComponent(match[1]));
    else await renderList(main);
    setStatus("updated " + new Date().toLocaleTimeString());
  } catch (err) {
    main.replaceChildren(el("p", { class: "bad", id: "problem" }, err.message));
    setStatus("");
  }
}

document.getElementById("nav-traces").classList.add("here");
window.addEventListener("popstate", render);
render();
