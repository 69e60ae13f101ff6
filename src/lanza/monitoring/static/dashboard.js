/* lanza's monitoring dashboard: polls the API, draws inline SVG charts. No dependencies. */
"use strict";

const POLL_MS = 3000;
const SVG = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

/* A time as HH:MM:SS (UTC) for axis labels. */
function clock(iso) {
  const date = new Date(iso);
  return isNaN(date) ? "" : date.toISOString().slice(11, 19);
}

/* A line chart of one or more series over time; each point is a circle carrying its value.
   options.times: ISO times of the points (the x axis); options.range: [min, max] of the
   metric (an accuracy stops at 1); options.guide: a dashed reference line. */
function lineChart(name, series, options) {
  const opts = options || {};
  const width = 360, height = 170, left = 34, right = 10, top = 8, bottom = 28;
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, "data-chart": name, style: `height:${height}px` });
  const values = series.flatMap((s) => s.values.filter((v) => v !== null && v !== undefined));
  const guide = opts.guide;
  if (guide !== undefined && guide !== null) values.push(guide);
  const range = opts.range || [0, null];
  const low = range[0] !== null ? range[0] : Math.min(0, ...values);
  let high = values.length ? Math.max(...values) * 1.1 : 1;
  if (range[1] !== null && range[1] !== undefined) high = Math.min(high, range[1]);
  if (!(high > low)) high = low + 1;
  const count = Math.max(1, ...series.map((s) => s.values.length));
  const x = (i) => left + (count === 1 ? 0 : (i * (width - left - right)) / (count - 1));
  const y = (v) => height - bottom - ((v - low) / (high - low)) * (height - top - bottom);
  svg.append(svgEl("line", { x1: left, y1: height - bottom, x2: width - right, y2: height - bottom, stroke: "#ccd" }));
  svg.append(svgEl("line", { x1: left, y1: top, x2: left, y2: height - bottom, stroke: "#ccd" }));
  for (const [v, at] of [[high, top + 8], [low, height - bottom]]) {
    const label = svgEl("text", { x: left - 4, y: at, "text-anchor": "end", "data-axis": "y" });
    label.textContent = fmt(v, Math.abs(high - low) < 10 ? 2 : 0);
    svg.append(label);
  }
  const times = opts.times || [];
  if (times.length) {
    const picks = count === 1 ? [0] : [0, Math.floor((count - 1) / 2), count - 1];
    for (const i of picks) {
      const anchor = i === 0 && count > 1 ? "start" : i === count - 1 && count > 1 ? "end" : "middle";
      const label = svgEl("text", { x: x(i), y: height - 8, "text-anchor": anchor, "data-axis": "x" });
      label.textContent = clock(times[i]);
      svg.append(label);
    }
  }
  if (guide !== undefined && guide !== null) {
    svg.append(svgEl("line", { x1: left, y1: y(guide), x2: width - right, y2: y(guide), stroke: "#999", "stroke-dasharray": "4 3", "data-guide": guide }));
  }
  for (const s of series) {
    const points = s.values.map((v, i) => [i, v]).filter(([, v]) => v !== null && v !== undefined);
    if (points.length > 1) {
      const d = points.map(([i, v], n) => `${n ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
      svg.append(svgEl("path", { d, fill: "none", stroke: s.color, "stroke-width": 2, "stroke-dasharray": s.dashed ? "5 3" : "none" }));
    }
    for (const [i, v] of points) {
      const dot = svgEl("circle", { cx: x(i), cy: y(v), r: 2.5, fill: s.color, "data-series": s.name, "data-value": v });
      const tip = svgEl("title", {});
      tip.textContent = `${s.name}: ${fmt(v)}${times[i] ? " at " + clock(times[i]) : ""}`;
      dot.append(tip);
      svg.append(dot);
    }
  }
  return svg;
}

/* Bars of each column's effect size against its threshold (the dashed tick); red when drifting. */
function barChart(name, items) {
  const width = 390, rowHeight = 22, left = 130, span = 170, cap = 3;
  const height = Math.max(40, items.length * rowHeight + 10);
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, "data-chart": name, style: `height:${height}px` });
  const tick = left + span / cap;
  svg.append(svgEl("line", { x1: tick, y1: 2, x2: tick, y2: height - 2, stroke: "#999", "stroke-dasharray": "3 3" }));
  items.forEach((f, i) => {
    const yTop = 5 + i * rowHeight;
    const text = svgEl("text", { x: 0, y: yTop + 13 });
    text.textContent = f.column;
    svg.append(text);
    const ratio = f.threshold > 0 ? f.effect_size / f.threshold : 0;
    const bar = svgEl("rect", {
      x: left, y: yTop + 3, height: 14, width: Math.max(1, (Math.min(ratio, cap) / cap) * span),
      fill: f.drifted ? "#d64545" : "#2e9d5b", "data-feature": f.column, "data-drifted": f.drifted, "data-value": f.effect_size,
    });
    const tip = svgEl("title", {});
    tip.textContent = `${f.column}: effect ${fmt(f.effect_size, 3)} ${UNITS[f.effect] || ""} (threshold ${f.threshold}), ${f.test} ${fmt(f.statistic, 4)}, p ${pValue(f.p_value)}`;
    bar.append(tip);
    svg.append(bar);
    const value = svgEl("text", { x: left + span + 6, y: yTop + 13 });
    value.textContent = `${fmt(f.effect_size, 3)} ${UNITS[f.effect] || ""}`;
    svg.append(value);
  });
  return svg;
}

const UNITS = { wasserstein_sd: "SD", total_variation: "moved" };
const COLOURS = { healthy: "ok", watch: "warn", degraded: "bad" };

function pValue(p) {
  if (p === null || p === undefined) return "–";
  return p < 0.001 ? "< 0.001" : fmt(p, 3);
}

/* Each column's test and effect size in their own columns. */
function driftTable(items) {
  const head = el("tr", {}, ...["column", "test", "statistic", "p-value", "effect size", "threshold", "drifts"].map((h) => el("th", {}, h)));
  return el("table", { id: "drift-table" }, head, ...items.map((f) => el("tr", { "data-column": f.column, class: f.drifted ? "bad" : "" },
    el("td", {}, f.column), el("td", {}, f.test), el("td", {}, fmt(f.statistic, 4)), el("td", {}, pValue(f.p_value)),
    el("td", {}, `${fmt(f.effect_size, 3)} ${UNITS[f.effect] || ""}`), el("td", {}, f.threshold), el("td", {}, f.drifted ? "yes" : "no"))));
}

/* The verdict and its reasons. */
function healthBox(health) {
  if (!health) return el("p", { class: "muted" }, "no verdict yet");
  return el("div", { id: "health", class: "health " + COLOURS[health.status], "data-status": health.status },
    el("b", {}, health.status),
    el("ul", {}, ...health.reasons.map((r) => el("li", { class: COLOURS[r.level] }, r.text))));
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
    el("td", {}, d.drift_share === null ? "–" : fmt(d.drift_share * 100, 0) + " %"),
    el("td", {}, Object.entries(d.quality || {}).map(([k, v]) => `${k} ${fmt(v, 3)}`).join(", ") || "–"),
    el("td", {}, Object.entries(d.estimated || {}).map(([k, v]) => `${k} ${fmt(v, 3)}`).join(", ") || "–"),
    el("td", { class: d.health ? COLOURS[d.health.status] : "", "data-health": d.health ? d.health.status : "" },
      d.health ? d.health.status : "–", d.health && d.health.reasons.length ? el("div", { class: "legend" }, d.health.reasons[0].text) : null)));
  const head = el("tr", {}, ...["deployment", "serving", "requests (window)", "p50 / p99 ms", "errors", "drifting features", "live quality", "estimated quality", "health"].map((h) => el("th", {}, h)));
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
  const est = r.estimated || {};
  const qualityKeys = [...new Set(Object.keys(q.metrics || {}).concat(Object.keys(est.metrics || {})))];
  const errorMetric = (k) => k === "rmse" || k === "mae";
  const training = q.training ? `training ${q.training.metric} ${fmt(q.training.cv_mean, 3)} (dashed grey)` : "";
  const status = r.health ? r.health.status : null;
  const kpis = el("div", { class: "kpis" },
    kpi("health", status || "–", status ? COLOURS[status] : ""),
    kpi("serving", Object.keys(r.serving).join(", ") || "–"),
    kpi("requests in window", r.traffic.requests),
    kpi("latency p50 / p99 ms", fmt(r.latency.p50_ms) + " / " + fmt(r.latency.p99_ms)),
    kpi("errors", r.errors ? r.errors.total : "–"),
    kpi("drifting features", r.drift.share === null ? "–" : fmt(r.drift.share * 100, 0) + " %"),
    ...qualityKeys.filter((k) => (q.metrics || {})[k] !== undefined).map((k) => kpi("live " + k, fmt(q.metrics[k], 3))),
    ...qualityKeys.filter((k) => (est.metrics || {})[k] !== undefined).map((k) => kpi("estimated " + k, fmt(est.metrics[k], 3))));
  const alerts = el("table", { id: "alerts" }, el("tr", {}, ...["fired", "metric", "value", "threshold", "webhook"].map((h) => el("th", {}, h))),
    ...(r.alerts || []).map((a) => el("tr", {}, el("td", {}, when(a.fired_at)), el("td", {}, a.metric), el("td", {}, fmt(a.value, 4)),
      el("td", {}, a.comparison + " " + a.threshold), el("td", {}, a.delivered ? "delivered" : a.detail || "–"))));
  const colours = ["#2f6fed", "#2e9d5b", "#8a4fd6", "#e08a1e"];
  const qualitySeries = qualityKeys.flatMap((k, i) => [
    { name: k, color: colours[i % 4], values: history.map((h) => (h.quality || {})[k]) },
    { name: "estimated " + k, color: colours[i % 4], dashed: true, values: history.map((h) => (h.estimated || {})[k]) }]);
  const scores = qualityKeys.length && !qualityKeys.some(errorMetric);
  const span = r.window && r.window.since ? `window ${when(r.window.since)} to ${when(r.window.until)}` : "";
  const grid = el("div", { class: "grid" },
    card("Health", healthBox(r.health)),
    card("Traffic (requests per time bucket)", lineChart("traffic", [{ name: "requests", color: "#2f6fed", values: timeline.map((b) => b.requests) }], { times: timeline.map((b) => b.t) }), span),
    card("Latency (ms)", lineChart("latency", [
      { name: "p50", color: "#2f6fed", values: timeline.map((b) => b.p50_ms) },
      { name: "p99", color: "#e08a1e", values: timeline.map((b) => b.p99_ms) }], { times: timeline.map((b) => b.t) }), "p50 blue, p99 orange"),
    card("Error rate (failed share of requests, per round)", lineChart("errors", [{ name: "error rate", color: "#d64545", values: history.map((h) => h.error_rate) }], { times: history.map((h) => h.t), range: [0, 1] })),
    card("Drift: effect size per column", features.length ? barChart("drift", features) : el("p", { class: "muted" }, r.drift.reason || "no drift figures yet"), "red: drifting · dashed: threshold"),
    card("Drift tests", features.length ? driftTable(features) : el("p", { class: "muted" }, r.drift.reason || "no drift figures yet")),
    card("Quality: live (solid) and estimated without labels (dashed)", lineChart("quality", qualitySeries, { times: history.map((h) => h.t), guide: q.training ? q.training.cv_mean : null, range: scores ? [0, 1] : [0, null] }), `${q.labels_text || q.labelled + " labelled rows"} · ${training}`),
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
