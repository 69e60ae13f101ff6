/* Spend: the gateway's cost ledger over time per API key and per deployment, and budgets. */
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const COLOURS = ["#2f6fed", "#d64545", "#1e9e6a", "#c77d00", "#7a4fd6", "#444"];

function svg(tag, attrs) {
  const node = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

/* Stacked bars: one per time bucket, one colour per series (key or deployment). */
function spendChart(name, data, by) {
  const width = 520, height = 180, pad = 28;
  const slots = [...new Set(data.points.map((p) => p.at))].sort((a, b) => a - b);
  const names = Object.keys(data.totals).sort();
  const totals = slots.map((s) => data.points.filter((p) => p.at === s).reduce((t, p) => t + p.cost_usd, 0));
  const max = Math.max(1e-9, ...totals) * 1.1;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, "data-chart": name });
  chart.append(svg("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, stroke: "#ccd" }));
  const top = svg("text", { x: 2, y: 12 });
  top.textContent = "$" + fmt(max, max < 1 ? 4 : 2);
  chart.append(top);
  const step = (width - 2 * pad) / Math.max(1, slots.length);
  slots.forEach((slot, i) => {
    let base = height - pad;
    names.forEach((series, n) => {
      const point = data.points.find((p) => p.at === slot && p[by] === series);
      if (!point) return;
      const h = (point.cost_usd / max) * (height - 2 * pad);
      base -= h;
      const bar = svg("rect", { x: pad + i * step + 1, y: base, width: Math.max(2, step - 2), height: Math.max(h, 0.5),
        fill: COLOURS[n % COLOURS.length], "data-series": series, "data-value": point.cost_usd });
      const tip = svg("title", {});
      tip.textContent = `${series} ${new Date(slot * 1000).toISOString().slice(0, 16)}: $${fmt(point.cost_usd, 6)}, ${point.calls} calls`;
      bar.append(tip);
      chart.append(bar);
    });
  });
  const legend = names.map((series, n) => el("span", { style: `color:${COLOURS[n % COLOURS.length]}`, "data-legend": series },
    `■ ${series} $${fmt(data.totals[series], 4)}  `));
  return el("section", { class: "card" }, el("h2", {}, `Spend per ${by}`), chart, el("div", { class: "legend" }, ...legend));
}

function budgetsTable(budgets) {
  if (!budgets.length) return el("p", { class: "muted", id: "no-budgets" }, "No budgets: lanza llm budgets set --key K --usd 50 --per month --action block");
  return el("table", { id: "budgets" },
    el("tr", {}, ...["budget", "limit", "spent", "action", "resets"].map((h) => el("th", {}, h))),
    ...budgets.map((b) => el("tr", { "data-budget": b.name, class: b.over ? "differs" : "" },
      el("td", {}, b.name),
      el("td", {}, `$${fmt(b.usd, 2)} / ${b.per}`),
      el("td", { class: b.over ? "worse" : "" }, `$${fmt(b.spent_usd, 4)}`),
      el("td", {}, b.action),
      el("td", {}, when(b.resets_at)))));
}

async function render() {
  const main = document.getElementById("main");
  document.getElementById("crumb").textContent = "spend";
  const hours = Number(new URLSearchParams(window.location.search).get("hours") || 24);
  const bucket = hours > 72 ? "day" : hours > 3 ? "hour" : "minute";
  const query = `hours=${hours}&bucket=${bucket}`;
  try {
    const [byKey, byDeployment, budgets] = await Promise.all([
      getJSON(`/api/v1/llm/spend?${query}&by=key`),
      getJSON(`/api/v1/llm/spend?${query}&by=deployment`),
      getJSON("/api/v1/llm/budgets"),
    ]);
    const total = Object.values(byKey.totals).reduce((t, v) => t + v, 0);
    main.replaceChildren(
      el("div", { class: "kpis" }, el("div", { class: "kpi" }, el("span", { class: "muted" }, `spent, last ${hours} h`), el("b", { id: "total" }, "$" + fmt(total, 4)))),
      spendChart("spend-key", byKey, "key"),
      spendChart("spend-deployment", byDeployment, "deployment"),
      el("section", { class: "card" }, el("h2", {}, "Budgets"), budgetsTable(budgets)));
    setStatus("updated " + new Date().toLocaleTimeString());
  } catch (err) {
    main.replaceChildren(el("p", { class: "error-text" }, String(err.message || err)));
  }
}

document.getElementById("nav-spend").classList.add("here");
render();
