/* Evaluations: runs recorded by `lanza eval`, and two of them side by side (?a=RUN&b=RUN). */
"use strict";

function scoreText(scores) {
  if (!scores) return "–";
  return Object.entries(scores).map(([k, v]) => `${k}=${v === null ? "–" : fmt(v, 2)}`).join(" ") || "–";
}

async function renderList(main) {
  const runs = await getJSON("/api/v1/evaluations");
  document.getElementById("crumb").textContent = "evaluations";
  if (!runs.length) {
    main.replaceChildren(el("p", { class: "muted", id: "no-runs" }, "No evaluations yet: run one with lanza eval DATASET --target NAME."));
    return;
  }
  const metricNames = [...new Set(runs.flatMap((r) => Object.keys(r.metrics).filter((m) => m.endsWith("_mean") && !m.startsWith("latency"))))].sort();
  const head = el("tr", {}, el("th", {}, "A"), el("th", {}, "B"),
    ...["run", "target", "dataset", "started", "rows", "errors", ...metricNames, "cost $"].map((h) => el("th", {}, h)));
  const rows = runs.map((r, i) => el("tr", { "data-run": r.run_id },
    el("td", {}, radio("a", r.run_id, i === 1)),
    el("td", {}, radio("b", r.run_id, i === 0)),
    el("td", {}, r.name),
    el("td", {}, r.params.target || "–"),
    el("td", { title: r.params.dataset || "" }, (r.params.dataset || "–").split("/").pop()),
    el("td", {}, r.start_time ? new Date(r.start_time).toLocaleString() : "–"),
    el("td", {}, r.metrics.rows === undefined ? "–" : r.metrics.rows),
    el("td", {}, r.metrics.error_rate === undefined ? "–" : fmt(r.metrics.error_rate * 100, 0) + " %"),
    ...metricNames.map((m) => el("td", {}, fmt(r.metrics[m], 3))),
    el("td", {}, r.metrics.cost_usd === undefined ? "–" : fmt(r.metrics.cost_usd, 6))));
  const button = el("button", { type: "button", id: "compare" }, "Compare A and B");
  const note = el("span", { class: "muted" });
  button.addEventListener("click", () => {
    const a = document.querySelector('input[name="a"]:checked');
    const b = document.querySelector('input[name="b"]:checked');
    if (!a || !b || a.value === b.value) {
      note.textContent = " pick two different runs";
      return;
    }
    window.history.pushState(null, "", `/evaluations?a=${encodeURIComponent(a.value)}&b=${encodeURIComponent(b.value)}`);
    render();
  });
  main.replaceChildren(el("table", { id: "runs" }, head, ...rows), el("div", { class: "pager" }, button, note));
}

function radio(side, value, checked) {
  const input = el("input", { type: "radio", name: side, value, "aria-label": side + " " + value });
  input.checked = checked;
  return input;
}

async function renderComparison(main, a, b) {
  const c = await getJSON(`/api/v1/evaluations/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`);
  document.getElementById("crumb").textContent = "/ evaluations / compare";
  const sides = el("div", { class: "kpis" },
    el("div", { class: "kpi" }, el("span", { class: "muted" }, "A"), el("b", { id: "side-a" }, c.a.params.target || c.a.name), el("span", { class: "muted" }, c.a.run_id)),
    el("div", { class: "kpi" }, el("span", { class: "muted" }, "B"), el("b", { id: "side-b" }, c.b.params.target || c.b.name), el("span", { class: "muted" }, c.b.run_id)));
  const metrics = el("table", { id: "metrics" }, el("tr", {}, ...["metric", "A", "B", "B − A"].map((h) => el("th", {}, h))),
    ...c.metrics.map((m) => el("tr", { "data-metric": m.metric },
      el("td", {}, m.metric),
      el("td", { class: m.better === "a" ? "better" : m.better === "b" ? "worse" : "" }, fmt(m.a, 4)),
      el("td", { class: m.better === "b" ? "better" : m.better === "a" ? "worse" : "" }, fmt(m.b, 4)),
      el("td", {}, m.delta === null ? "–" : (m.delta > 0 ? "+" : "") + fmt(m.delta, 4)))));
  const differing = c.rows.filter((r) => r.differs).length;
  const only = el("input", { type: "checkbox", id: "only-differing" });
  const head = el("tr", {}, ...["id", "input", "expected", "A output", "A scores", "B output", "B scores"].map((h) => el("th", {}, h)));
  const rowNodes = c.rows.map((r) => el("tr", { "data-row": r.id, "data-differs": r.differs, class: r.differs ? "differs" : "" },
    el("td", {}, r.id),
    el("td", {}, r.input === null || r.input === undefined ? "–" : r.input),
    el("td", {}, r.expected === null || r.expected === undefined ? "–" : r.expected),
    el("td", { class: r.a_output !== r.b_output ? "diff" : "" }, r.a_output === null ? "–" : r.a_output),
    el("td", { class: r.scores_differ ? "diff" : "" }, scoreText(r.a_scores)),
    el("td", { class: r.a_output !== r.b_output ? "diff" : "" }, r.b_output === null ? "–" : r.b_output),
    el("td", { class: r.scores_differ ? "diff" : "" }, scoreText(r.b_scores))));
  only.addEventListener("change", () => {
    for (const row of rowNodes) row.style.display = only.checked && row.dataset.differs !== "true" ? "none" : "";
  });
  const back = el("a", { href: "/evaluations" }, "← all evaluations");
  main.replaceChildren(back, sides,
    el("section", { class: "card" }, el("h2", {}, "Metrics"), metrics),
    el("section", { class: "card" }, el("h2", {}, `Rows (${differing} of ${c.rows.length} differ)`),
      el("label", {}, only, " only rows that differ"), el("table", { id: "rows" }, head, ...rowNodes)));
}

async function render() {
  const main = document.getElementById("main");
  const params = new URLSearchParams(window.location.search);
  try {
    if (params.get("a") && params.get("b")) await renderComparison(main, params.get("a"), params.get("b"));
    else await renderList(main);
    setStatus("updated " + new Date().toLocaleTimeString());
  } catch (err) {
    main.replaceChildren(el("p", { class: "bad", id: "problem" }, err.message));
    setStatus("");
  }
}

document.getElementById("nav-evaluations").classList.add("here");
window.addEventListener("popstate", render);
render();
