/* lanza's monitoring dashboard: polls the API, draws inline SVG charts. No dependencies. */
"use strict";

const POLL_MS = 3000;
const SVG = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

/* A line chart of one or more series; each point is a circle carrying its value. */
function lineChart(name, series, options) {
  const width = 360, height = 160, pad = 24;
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, "data-chart": name });
  const values = series.flatMap((s) => s.values.filter((v) => v !== null && v !== undefined));
  const guide = options && options.guide;
  if (guide !== undefined && guide !== null) values.push(guide);
  const top = values.length ? Math.max(...values) : 1;
  const max = top > 0 ? top * 1.1 : 1;
  const count = Math.max(1, ...series.map((s) => s.values.length));
  const x = (i) => pad + (count === 1 ? 0 : (i * (width - 2 * pad)) / (count - 1));
  const y = (v) => height - pad - (v / max) * (height - 2 * pad);
  svg.append(svgEl("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, stroke: "#ccd" }));
  const label = svgEl("text", { x: 2, y: 12 });
  label.textContent = fmt(max, max < 10 ? 2 : 0);
  svg.append(label);
  if (guide !== undefined && guide !== null) {
    svg.append(svgEl("line", { x1: pad, y1: y(guide), x2: width - pad, y2: y(guide), stroke: "#999", "stroke-dasharray": "4 3", "data-guide": guide }));
  }
  for (const s of series) {
    const points = s.values.map((v, i) => [i, v]).filter(([, v]) => v !== null && v !== undefined);
    if (points.length > 1) {
      const d = points.map(([i, v], n) => `${n ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
      svg.append(svgEl("path", { d, fill: "none", stroke: s.color, "stroke-width": 2 }));
    }
    for (const [i, v] of points) {
      const dot = svgEl("circle", { cx: x(i), cy: y(v), r: 2.5, fill: s.color, "data-series": s.name, "data-value": v });
      const tip = svgEl("title", {});
      tip.textContent = `${s.name}: ${fmt(v)}`;
      dot.append(tip);
      svg.append(dot);
    }
  }
  return svg;
}

/* How far past its threshold a statistic is: 1 at the threshold, more when drifting. */
function severity(f) {
  if (f.method === "ks" || f.method === "chi2") {
    const p = Math.max(f.statistic, 1e-300);
    return Math.log(p) / Math.log(f.threshold); // p-values: smaller is stronger drift
  }
  return f.statistic / f.threshold;
}

/* Bars per feature, scaled by severity with a tick at the threshold; red when drifting. */
function barChart(name, items) {
  const width = 390, rowHeight = 22, left = 130, span = 170, cap = 3; // room for "chi2 p=0.000"
  const height = Math.max(40, items.length * rowHeight + 10);
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, "data-chart": name, style: `height:${height}px` });
  const tick = left + span / cap;
  svg.append(svgEl("line", { x1: tick, y1: 2, x2: tick, y2: height - 2, stroke: "#999", "stroke-dasharray": "3 3" }));
  items.forEach((f, i) => {
    const yTop = 5 + i * rowHeight;
    const text = svgEl("text", { x: 0, y: yTop + 13 });
    text.textContent = f.column;
    svg.append(text);
    const bar = svgEl("rect", {
      x: left, y: yTop + 3, height: 14, width: Math.max(1, (Math.min(severity(f), cap) / cap) * span),
      fill: f.drifted ? "#d64545" : "#2e9d5b", "data-feature": f.column, "data-drifted": f.drifted, "data-value": f.statistic,
    });
    const tip = svgEl("title", {});
    tip.textContent = `${f.column}: ${f.method} ${fmt(f.statistic, 4)} (threshold ${f.threshold}, PSI ${fmt(f.psi, 3)})`;
    bar.append(tip);
    svg.append(bar);
    const value = svgEl("text", { x: left + span + 6, y: yTop + 13 });
    // Tests (KS, chi-squared) report a p-value, which drifts when small; distances when large.
    const test = f.method === "ks" || f.method === "chi2";
    value.textContent = test ? `${f.method} p=${fmt(f.statistic, 3)}` : `${f.method} ${fmt(f.statistic, 3)}`;
    svg.append(value);
  });
  return svg;
}

function card(title, body, legend) {
  return el("section", { class: "card" }, el("h2", {}, title), body, el("div", { class: "legend" }, legend || ""));
}

async function renderList(main) {
  const items = await getJSON("/api/v1/monitoring");
  document.getElementById("crumb").textContent = "deployments";
  if (!items.length) {
    main.replaceChildren(el("p", { class: "muted" }, "No deployments yet: create one with lanza deploy."));
    return;
  }
  const rows = items.map((d) => el("tr", { "data-deployment": d.name },
    el("td", {}, el("a", { href: "/dashboard/" + encodeURIComponent(d.name) }, d.name), " ", pageLinks(d.name)),
    el("td", {}, Object.keys(d.serving || {}).join(", ") || "–"),
    el("td", {}, d.requests),
    el("td", {}, d.latency ? fmt(d.latency.p50_ms) + " / " + fmt(d.latency.p99_ms) : "–"),
    el("td", {}, d.errors ? d.errors.total : "–"),
    el("td", { class: d.dataset_drift ? "bad" : "ok" }, d.drift_share === null ? "–" : fmt(d.drift_share * 100, 0) + " %"),
    el("td", {}, Object.entries(d.quality || {}).map(([k, v]) => `${k} ${fmt(v, 3)}`).join(", ") || "–")));
  const head = el("tr", {}, ...["deployment", "serving", "requests (window)", "p50 / p99 ms", "errors", "drifting features", "live quality"].map((h) => el("th", {}, h)));
  main.replaceChildren(el("table", { id: "deployments" }, head, ...rows));
}

/* Links to the pages for people who don't code: predict, upload, label. */
function pageLinks(name) {
  const base = "/deployments/" + encodeURIComponent(name);
  return el("span", { class: "legend" }, el("a", { href: base }, "predict"), " · ",
    el("a", { href: base + "/upload" }, "upload"), " · ", el("a", { href: base + "/label" }, "label"));
}

function kpi(label, value, cls) {
  return el("div", { class: "kpi " + (cls || "") }, el("span", { class: "muted" }, label), el("b", {}, value));
}

async function renderDeployment(main, name) {
  const r = await getJSON("/api/v1/deployments/" + encodeURIComponent(name) + "/monitoring");
  document.getElementById("crumb").textContent = "/ " + name;
  const timeline = r.traffic.timeline || [];
  const history = r.history || [];
  const features = (r.drift.features || []).concat(r.drift.prediction ? [r.drift.prediction] : []);
  const q = r.quality;
  const qualityKeys = Object.keys(q.metrics || {});
  const training = q.training ? `training ${q.training.metric} ${fmt(q.training.cv_mean, 3)} (dashed)` : "";
  const kpis = el("div", { class: "kpis" },
    kpi("serving", Object.keys(r.serving).join(", ") || "–"),
    kpi("requests in window", r.traffic.requests),
    kpi("latency p50 / p99 ms", fmt(r.latency.p50_ms) + " / " + fmt(r.latency.p99_ms)),
    kpi("errors", r.errors ? r.errors.total : "–"),
    kpi("dataset drift", r.drift.dataset_drift === null ? "–" : r.drift.dataset_drift ? "yes" : "no", r.drift.dataset_drift ? "bad" : "ok"),
    ...qualityKeys.map((k) => kpi("live " + k, fmt(q.metrics[k], 3))));
  const alerts = el("table", { id: "alerts" }, el("tr", {}, ...["fired", "metric", "value", "threshold", "webhook"].map((h) => el("th", {}, h))),
    ...(r.alerts || []).map((a) => el("tr", {}, el("td", {}, a.fired_at), el("td", {}, a.metric), el("td", {}, fmt(a.value, 4)),
      el("td", {}, a.comparison + " " + a.threshold), el("td", {}, a.delivered ? "delivered" : a.detail || "–"))));
  const grid = el("div", { class: "grid" },
    card("Traffic (requests per bucket)", lineChart("traffic", [{ name: "requests", color: "#2f6fed", values: timeline.map((b) => b.requests) }])),
    card("Latency (ms)", lineChart("latency", [
      { name: "p50", color: "#2f6fed", values: timeline.map((b) => b.p50_ms) },
      { name: "p99", color: "#e08a1e", values: timeline.map((b) => b.p99_ms) }]), "p50 blue, p99 orange"),
    card("Errors (per round)", lineChart("errors", [{ name: "errors", color: "#d64545", values: history.map((h) => h.errors) }])),
    card("Drift per feature", features.length ? barChart("drift", features) : el("p", { class: "muted" }, r.drift.reason || "no drift figures yet"), "red: drifting · dashed: threshold"),
    card("Live quality", lineChart("quality", qualityKeys.map((k, i) => ({ name: k, color: ["#2f6fed", "#2e9d5b", "#8a4fd6", "#e08a1e"][i % 4], values: history.map((h) => (h.quality || {})[k]) })), { guide: q.training ? q.training.cv_mean : null }), `${q.labelled} labelled rows · ${training}`),
    card("Alert history", alerts));
  const cards = Object.keys(r.serving).map((ref) => {
    const [model, version] = ref.split("/");
    return el("a", { href: `/models/${encodeURIComponent(model)}/versions/${encodeURIComponent(version)}/card` }, "model card " + ref);
  });
  main.replaceChildren(el("p", {}, pageLinks(name), ...cards.flatMap((c) => [" · ", c])), kpis, grid);
}

async function refresh() {
  const main = document.getElementById("main");
  const match = window.location.pathname.match(/^\/dashboard\/(.+)$/);
  try {
    if (match) await renderDeployment(main, decodeURIComponent(match[1]));
    else await renderList(main);
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (err) {
    document.getElementById("updated").textContent = "cannot reach the API: " + err.message;
  }
}

refresh();
window.setInterval(refresh, POLL_MS);
