/* Online evaluators: each one's live counters, its mean score over time per scorer, and
   its prompt versions compared with 95 % intervals. */
"use strict";

const NS = "http://www.w3.org/2000/svg";
const PALETTE = { judge: "#2f6fed", regex: "#1e9e6a", similarity: "#c77d00" };

function node(tag, attrs) {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
  return n;
}

function scoreChart(name, points) {
  const width = 520, height = 160, pad = 24;
  const chart = node("svg", { viewBox: `0 0 ${width} ${height}`, "data-chart": name });
  const slots = [...new Set(points.map((p) => p.at))].sort((a, b) => a - b);
  const max = Math.max(1, ...points.map((p) => p.mean)) * 1.1;
  const x = (i) => pad + (slots.length < 2 ? 0 : (i * (width - 2 * pad)) / (slots.length - 1));
  const y = (v) => height - pad - (v / max) * (height - 2 * pad);
  chart.append(node("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, stroke: "#ccd" }));
  for (const scorer of [...new Set(points.map((p) => p.scorer))]) {
    const mine = points.filter((p) => p.scorer === scorer);
    for (const p of mine) {
      const dot = node("circle", { cx: x(slots.indexOf(p.at)), cy: y(p.mean), r: 3, fill: PALETTE[scorer] || "#444", "data-series": scorer, "data-value": p.mean });
      const tip = node("title", {});
      tip.textContent = `${scorer}: ${fmt(p.mean, 3)} (${p.count} traces)`;
      dot.append(tip);
      chart.append(dot);
    }
  }
  return chart;
}

function armsTable(arms) {
  if (!arms.arms.length) return el("p", { class: "muted" }, "No prompt versions in these traces.");
  return el("table", { class: "arms" },
    el("tr", {}, ...["prompt version", "traces", `mean ${arms.scorer}`, "95 % CI", "vs most used"].map((h) => el("th", {}, h))),
    ...arms.arms.map((a) => el("tr", { "data-arm": a.arm },
      el("td", {}, a.arm), el("td", {}, a.n), el("td", {}, fmt(a.mean, 3)),
      el("td", { class: "ci" }, a.ci95 ? `[${fmt(a.ci95[0], 3)}, ${fmt(a.ci95[1], 3)}]` : "– (one score)"),
      el("td", { class: a.vs_baseline && a.vs_baseline.significant ? (a.vs_baseline.delta > 0 ? "better" : "worse") : "" },
        a.vs_baseline ? `${a.vs_baseline.delta >= 0 ? "+" : ""}${fmt(a.vs_baseline.delta, 3)}${a.vs_baseline.significant ? " *" : ""}` : "baseline"))));
}

async function evaluatorCard(e) {
  const name = encodeURIComponent(e.name);
  const [scores, arms] = await Promise.all([
    getJSON(`/api/v1/evaluators/${name}/scores?hours=24&bucket_s=60`),
    getJSON(`/api/v1/evaluators/${name}/arms`),
  ]);
  const s = e.status || {};
  const facts = el("dl", { class: "facts" },
    el("dt", {}, "filter"), el("dd", {}, e.filter || "(all traces)"),
    el("dt", {}, "scorers"), el("dd", {}, e.scorers.join(", ") + (e.judge ? ` (judge ${e.judge})` : "")),
    el("dt", {}, "sample"), el("dd", {}, `${fmt(e.sample * 100, 0)} % (now ${fmt((s.effective_sample ?? e.sample) * 100, 1)} %)`),
    el("dt", {}, "scored"), el("dd", { class: "scored" }, s.scored ?? 0),
    el("dt", {}, "dropped"), el("dd", { class: "dropped" }, s.dropped ?? 0),
    el("dt", {}, "window mean"), el("dd", { class: "means" }, Object.entries(s.window_mean || {}).map(([k, v]) => `${k} ${fmt(v, 3)}`).join(" · ") || "–"));
  const alert = s.alerting ? el("p", { class: "error-text alerting" }, `alert: ${e.alert_scorer || e.scorers[0]} below ${e.alert_below} over the last ${e.alert_window} traces`) : null;
  return el("section", { class: "card", "data-evaluator": e.name }, el("h2", {}, e.name), alert, facts,
    scoreChart("scores-" + e.name, scores.points), armsTable(arms));
}

async function render() {
  const main = document.getElementById("main");
  document.getElementById("crumb").textContent = "evaluators";
  try {
    const evaluators = await getJSON("/api/v1/evaluators");
    if (!evaluators.length) {
      main.replaceChildren(el("p", { class: "muted", id: "no-evaluators" }, "No online evaluators: lanza evaluators add NAME --scorers judge --judge DEPLOYMENT"));
      return;
    }
    main.replaceChildren(...(await Promise.all(evaluators.map(evaluatorCard))));
    setStatus("updated " + new Date().toLocaleTimeString());
  } catch (err) {
    main.replaceChildren(el("p", { class: "error-text" }, String(err.message || err)));
  }
}

document.getElementById("nav-evaluators").classList.add("here");
render();
