/* lanza's automation page: pipelines with their runs and decisions, and schedules.
   Polls the automation API and redraws in place; runs a reader opened stay open. */
"use strict";

const POLL_MS = 3000;
const RUNS = 20;
const opened = new Set();
const details = new Map();

function table(id, heads, rows) {
  const head = el("tr", {}, ...heads.map((h) => el("th", {}, h)));
  return el("table", { id }, head, ...rows);
}

/* The decide step of a run: decision, reason and the champion/challenger figures. */
function decision(run) {
  const steps = (run.detail && run.detail.steps) || [];
  return steps.filter((s) => s.step === "decide").pop() || {};
}

function triggers(spec) {
  const t = spec.triggers || {};
  const parts = [];
  if (t.cron) parts.push("cron " + t.cron);
  if (t.every) parts.push("every " + t.every);
  if (t.alerts && t.alerts.length) parts.push("alerts " + t.alerts.join(", "));
  return parts.join(" · ") || "on demand";
}

function stepList(run) {
  const steps = (run.detail && run.detail.steps) || [];
  return el("ol", { class: "steps" }, ...steps.map((s) => {
    const info = Object.entries(s)
      .filter(([k, v]) => !["step", "at", "original"].includes(k) && v !== null && v !== undefined)
      .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : fmt(v, 4)}`)
      .join(" · ");
    return el("li", { "data-step": s.step }, el("b", {}, s.step), " ", el("span", { class: "muted" }, when(s.at)), " ",
      el("span", { class: "info" }, info));
  }));
}

function runRows(run) {
  const d = decision(run);
  const state = run.state;
  const row = el("tr", { class: "run", "data-run": run.id, title: "show the steps" },
    el("td", {}, when(run.created_at)),
    el("td", {}, run.trigger),
    el("td", { class: "state " + state, "data-field": "state" }, state),
    el("td", { "data-field": "step" }, run.step || "–"),
    el("td", { class: "reason", "data-field": "reason" }, run.reason || d.reason || "–"),
    el("td", { "data-field": "champion" }, fmt(d.champion, 4)),
    el("td", { "data-field": "challenger" }, fmt(d.challenger, 4)),
    el("td", { "data-field": "labelled" }, fmt(d.labelled)),
    el("td", { class: "mono", "data-field": "mlflow" }, run.mlflow_run_id || "–"));
  row.addEventListener("click", () => toggle(run.id));
  const rows = [row];
  if (opened.has(run.id)) {
    const full = details.get(run.id) || run;
    rows.push(el("tr", { class: "steps", "data-steps": run.id }, el("td", { colspan: 9 }, stepList(full))));
  }
  return rows;
}

async function toggle(runId) {
  if (opened.has(runId)) opened.delete(runId);
  else opened.add(runId);
  await refresh();
}

function pipelineCard(pipeline, runs) {
  const spec = pipeline.spec || {};
  const facts = `model ${spec.model} → deployment ${spec.deployment} · ${spec.rollout || "shadow"} for ${spec.window || "–"}` +
    ` · ${spec.metric || "–"} better by more than ${spec.margin} · ${triggers(spec)}`;
  const body = runs.length
    ? table("runs-" + pipeline.name, ["started", "trigger", "state", "step", "decision", "champion", "challenger", "labelled", "MLflow run"],
      runs.flatMap(runRows))
    : el("p", { class: "muted" }, "No runs yet: start one with lanza pipelines run " + pipeline.name + ".");
  return el("section", { class: "card", "data-pipeline": pipeline.name },
    el("h2", {}, pipeline.name), el("div", { class: "legend" }, facts), body);
}

async function renderPipelines() {
  const pipelines = await getJSON("/api/v1/pipelines");
  const box = document.getElementById("pipelines");
  if (!pipelines.length) {
    box.replaceChildren(el("p", { class: "muted" }, "No pipelines yet: add one to lanza.yaml and run lanza apply."));
    return;
  }
  const cards = [];
  for (const pipeline of pipelines) {
    const runs = await getJSON(`/api/v1/pipelines/${encodeURIComponent(pipeline.name)}/runs?limit=${RUNS}`);
    for (const run of runs) {
      if (opened.has(run.id)) details.set(run.id, await getJSON(`/api/v1/pipeline-runs/${encodeURIComponent(run.id)}`));
    }
    cards.push(pipelineCard(pipeline, runs));
  }
  box.replaceChildren(el("div", { class: "stack" }, ...cards));
}

async function renderSchedules() {
  const schedules = await getJSON("/api/v1/schedules");
  const box = document.getElementById("schedules");
  if (!schedules.length) {
    box.replaceChildren(el("p", { class: "muted" }, "No schedules yet: add one to lanza.yaml and run lanza apply."));
    return;
  }
  const rows = [];
  for (const schedule of schedules) {
    const runs = await getJSON(`/api/v1/schedules/${encodeURIComponent(schedule.name)}/runs?limit=5`);
    const spec = schedule.spec || {};
    const last = runs[0];
    rows.push(el("tr", { "data-schedule": schedule.name },
      el("td", {}, schedule.name),
      el("td", {}, spec.model || "–"),
      el("td", {}, spec.cron ? "cron " + spec.cron : spec.every ? "every " + spec.every : "–"),
      el("td", { class: "mono" }, spec.input || "–"),
      el("td", { "data-field": "last" }, last ? when(last.due_at || last.created_at) : "never"),
      el("td", { class: last ? "state " + last.state : "", "data-field": "last-state" }, last ? last.state : "–"),
      el("td", { class: "mono" }, last && last.job_id ? last.job_id : "–"),
      el("td", { "data-field": "next" }, when(schedule.next_run_at))));
  }
  box.replaceChildren(table("schedule-list", ["schedule", "model", "when", "input", "last run", "state", "batch job", "next run"], rows));
}

async function refresh() {
  const status = document.getElementById("updated");
  try {
    await Promise.all([renderPipelines(), renderSchedules()]);
    status.textContent = "updated " + new Date().toLocaleTimeString();
  } catch (err) {
    status.textContent = "cannot reach the API: " + err.message;
  }
}

refresh();
setInterval(refresh, POLL_MS);
