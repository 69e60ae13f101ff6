/* lanza's pages for people who don't code: predict form, upload, labelling queue, model card.
   Plain JavaScript, no dependencies; every call goes to lanza's own API. */
"use strict";

async function call(method, path, body, contentType) {
  const options = { method, headers: headers() };
  if (body !== undefined) {
    options.body = contentType ? body : JSON.stringify(body);
    options.headers["Content-Type"] = contentType || "application/json";
  }
  const response = await fetch(path, options);
  if (!response.ok) throw new Error(await problem(response));
  return response;
}

async function api(method, path, body, contentType) {
  return (await call(method, path, body, contentType)).json();
}

function percent(p) {
  return p === null || p === undefined ? "–" : Math.round(p * 100) + " %";
}

/* A number as a person writes it (as lanza.runtime.rules.plain_number does): integers as
   integers, few decimals, thousands separators from 10,000 (years stay 2007), no e-notation. */
function human(value) {
  if (value === null || value === undefined || (typeof value === "number" && Number.isNaN(value))) return "–";
  if (typeof value !== "number") return String(value);
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  const grouping = abs >= 10000;
  const digits = Number.isInteger(value) ? 0 : abs >= 100 ? 1 : null;
  if (digits !== null) return value.toLocaleString("en-US", { useGrouping: grouping, maximumFractionDigits: digits, minimumFractionDigits: 0 });
  return value.toLocaleString("en-US", { useGrouping: false, maximumSignificantDigits: abs >= 1e-4 ? 4 : 2 });
}

function signed(value) {
  return (value >= 0 ? "+" : "−") + human(Math.abs(value));
}

function showError(target, err) {
  target.replaceChildren(el("p", { class: "error", role: "alert" }, err.message || String(err)));
}

async function download(path, fallbackName) {
  const response = await call("GET", path);
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = disposition.match(/filename="([^"]+)"/);
  const url = URL.createObjectURL(await response.blob());
  const link = el("a", { href: url, download: match ? match[1] : fallbackName });
  document.body.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function tabs(name, current) {
  const base = "/deployments/" + encodeURIComponent(name);
  const links = [["predict", base], ["upload a file", base + "/upload"], ["label", base + "/label"],
    ["monitoring", "/dashboard/" + encodeURIComponent(name)]];
  document.getElementById("tabs").replaceChildren(...links.map(([label, href]) =>
    el("a", { href, class: label === current ? "current" : null }, label)));
  document.getElementById("crumb").textContent = "/ " + name;
}

/* ---- predict ------------------------------------------------------------------------ */

function input(field) {
  const attrs = { name: field.name, id: "field-" + field.name, "data-kind": field.kind };
  if (field.kind === "number") {
    return el("input", Object.assign(attrs, { type: "number", step: field.integer ? "1" : "any",
      value: field.example, placeholder: field.minimum === null ? "" : `${human(field.minimum)} to ${human(field.maximum)}` }));
  }
  if (field.kind === "category" || field.kind === "boolean") {
    const values = field.kind === "boolean" ? ["true", "false"] : field.values;
    const select = el("select", attrs, ...values.map((v) => el("option", { value: v }, field.kind === "boolean" ? (v === "true" ? "yes" : "no") : v)));
    select.value = String(field.example);
    return select;
  }
  return el("input", Object.assign(attrs, { type: field.kind === "date" ? "date" : "text", value: field.example }));
}

function hint(field) {
  if (field.kind === "number" && field.minimum !== null) return `a number; at training from ${human(field.minimum)} to ${human(field.maximum)}`;
  if (field.kind === "category") return `one of ${field.values.length} known values`;
  if (field.kind === "boolean") return "yes or no";
  if (field.kind === "date") return "a date";
  return "text";
}

function readRecord(form, fields) {
  const record = {};
  for (const field of fields) {
    const raw = form.elements[field.name].value;
    if (raw === "") record[field.name] = null;
    else if (field.kind === "number") record[field.name] = Number(raw);
    else if (field.kind === "boolean") record[field.name] = raw === "true";
    else record[field.name] = raw;
  }
  return record;
}

function contributions(explanation) {
  const items = explanation.contributions.slice(0, 8);
  if (!items.length) return el("p", { class: "muted" }, "No explanation: " + explanation.unit + ".");
  const top = Math.max(...items.map((c) => Math.abs(c.effect)), 1e-12);
  const points = explanation.unit.startsWith("points of probability");
  const rows = items.map((c) => el("tr", { "data-feature": c.feature, "data-effect": c.effect },
    el("td", {}, c.feature), el("td", {}, human(c.value)), el("td", { class: "muted" }, human(c.baseline)),
    el("td", {}, el("span", { class: "bar " + (c.effect >= 0 ? "up" : "down"), style: `width:${Math.round(90 * Math.abs(c.effect) / top)}px` }),
      " " + signed(c.effect) + (points ? " points" : ""))));
  const what = points ? `Points of ${explanation.unit.replace("points of ", "")} each input added or took away`
    : `How much each input added to or took from the predicted ${explanation.unit}`;
  const note = `${what}, compared with a typical row (${explanation.method === "occlusion" ? "each input set to its typical value in turn" : "from the model's coefficients"}` +
    (explanation.partial ? "; cut short by its time budget" : "") + ").";
  return el("div", {}, el("table", { id: "contributions" },
    el("tr", {}, ...["input", "value", "typical", "pushed by"].map((h) => el("th", {}, h))), ...rows),
    el("p", { class: "legend" }, note));
}

async function renderPredict(main, name) {
  tabs(name, "predict");
  document.title = "lanza · predict with " + name;
  const form = await api("GET", `/api/v1/deployments/${encodeURIComponent(name)}/form`);
  const fields = form.fields;
  const result = el("section", { class: "card", id: "result" }, el("h2", {}, "Prediction"),
    el("p", { class: "muted" }, "Fill in the inputs and press Predict."));
  const formEl = el("form", { class: "fields", id: "predict-form" },
    ...fields.map((f) => el("label", { for: "field-" + f.name }, f.name, el("span", {}, hint(f)), input(f))),
    el("p", { class: "legend" }, "A field left blank is filled with a typical value, and the answer says so."),
    el("button", { type: "submit", id: "predict" }, "Predict"));
  formEl.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const answer = await api("POST", `/api/v1/deployments/${encodeURIComponent(name)}/explain`, { record: readRecord(formEl, fields) });
      const probabilities = answer.probabilities ? el("table", { id: "probabilities" },
        ...Object.entries(answer.probabilities).map(([label, p]) => el("tr", {}, el("td", {}, label), el("td", {}, percent(p))))) : null;
      // Through el(), which leaves out what is null (the DOM would write "null").
      result.replaceChildren(...el("div", {}, el("h2", {}, "Prediction"),
        el("div", { class: "answer", id: "prediction", "data-value": JSON.stringify(answer.prediction) }, human(answer.prediction)),
        el("p", { id: "plain" }, answer.plain),
        answer.warnings && answer.warnings.length ? el("ul", { id: "warnings", class: "warnings" }, ...answer.warnings.map((w) => el("li", {}, w))) : null,
        probabilities,
        el("h2", {}, "What pushed it"), contributions(answer.explanation),
        el("p", { class: "legend" }, `model ${answer.model} · request ${answer.request_id}`, el("span", { id: "request-id", hidden: true }, answer.request_id))).childNodes);
    } catch (err) {
      showError(result, err);
    }
  });
  const about = form.task ? `${form.task} of ${form.target}` + (form.metric ? ` · training ${form.metric} ${human(form.cv_mean)}` : "") : "";
  const [modelName, version] = form.model.split("/");
  main.replaceChildren(el("p", { class: "muted" }, `Served by ${form.model}. ${about} `,
      el("a", { href: `/models/${encodeURIComponent(modelName)}/versions/${encodeURIComponent(version)}/card` }, "model card")),
    el("div", { class: "columns" }, el("section", { class: "card" }, el("h2", {}, "Inputs"), formEl), result));
}

/* ---- upload ------------------------------------------------------------------------- */

function problemsTable(report) {
  const parts = [];
  if (report.column_problems.length) {
    parts.push(el("h2", {}, "Columns"), el("ul", { id: "column-problems" },
      ...report.column_problems.map((p) => el("li", { "data-column": p.column }, `${p.column}: ${p.reason}`))));
  }
  if (report.row_problems.length) {
    parts.push(el("h2", {}, "Rows that could not be predicted"), el("table", { id: "problems" },
      el("tr", {}, ...["line", "column", "value", "why"].map((h) => el("th", {}, h))),
      ...report.row_problems.map((p) => el("tr", { "data-row": p.row, "data-column": p.column },
        el("td", {}, p.row), el("td", {}, p.column), el("td", {}, p.value), el("td", {}, p.reason)))));
    if (report.more_problems) parts.push(el("p", { class: "muted" }, `and ${report.more_problems} more`));
  }
  if (report.warnings.length) {
    parts.push(el("h2", {}, "Predicted, but worth a look"), el("table", { id: "warnings" },
      el("tr", {}, ...["line", "column", "value", "why"].map((h) => el("th", {}, h))),
      ...report.warnings.slice(0, 20).map((p) => el("tr", {}, el("td", {}, p.row), el("td", {}, p.column), el("td", {}, p.value), el("td", {}, p.reason)))));
    if (report.warnings.length > 20) parts.push(el("p", { class: "muted" }, `and ${report.warnings.length - 20} more; the downloaded file has every row's warnings`));
  }
  return parts;
}

async function renderUpload(main, name) {
  tabs(name, "upload a file");
  document.title = "lanza · upload to " + name;
  const base = `/api/v1/deployments/${encodeURIComponent(name)}/uploads`;
  const status = el("section", { class: "card", id: "upload-status" }, el("p", { class: "muted" }, "No file yet."));
  const picker = el("input", { type: "file", id: "file", accept: ".csv,.tsv,.txt,.xlsx,.xlsm" });
  const drop = el("div", { class: "drop", id: "drop" }, el("p", {}, "Drop a CSV or Excel file here, or choose one: "), picker,
    el("p", { class: "muted" }, "One row per case, one column per input, a header row first."));

  async function send(file) {
    status.replaceChildren(el("p", { class: "muted" }, `Checking ${file.name}…`));
    try {
      const body = await file.arrayBuffer();
      const answer = await api("POST", `${base}?filename=${encodeURIComponent(file.name)}`, body, "application/octet-stream");
      const report = answer.validation;
      const summary = el("p", { id: "summary", "data-good": report.good, "data-bad": report.bad },
        `${report.rows} rows: ${report.good} predicted, ${report.bad} could not be.`);
      const bar = el("progress", { id: "progress", max: Math.max(report.good, 1), value: answer.upload.done });
      const actions = el("div", { class: "keys", id: "downloads" });
      status.replaceChildren(summary, bar, actions, ...problemsTable(report));
      await follow(answer.upload, bar, actions);
    } catch (err) {
      showError(status, err);
    }
  }

  async function follow(upload, bar, actions) {
    while (upload.state === "running") {
      await new Promise((resolve) => window.setTimeout(resolve, 700));
      upload = await api("GET", `${base}/${upload.id}`);
      bar.value = upload.done;
    }
    if (upload.state !== "succeeded") {
      actions.replaceChildren(el("p", { class: "error" }, "The predictions failed: " + (upload.message || upload.state)));
      return;
    }
    bar.value = bar.max;
    const csv = el("button", { type: "button", id: "download-csv" }, "Download predictions (CSV)");
    const xlsx = el("button", { type: "button", class: "secondary", id: "download-xlsx" }, "Download (Excel)");
    csv.addEventListener("click", () => download(`${base}/${upload.id}/file?format=csv`, "predictions.csv"));
    xlsx.addEventListener("click", () => download(`${base}/${upload.id}/file?format=xlsx`, "predictions.xlsx"));
    actions.replaceChildren(csv, xlsx);
    actions.dataset.ready = "true";
  }

  picker.addEventListener("change", () => picker.files.length && send(picker.files[0]));
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer.files.length) send(event.dataTransfer.files[0]);
  });
  main.replaceChildren(drop, el("br"), status);
}

/* ---- labelling ---------------------------------------------------------------------- */

async function renderLabel(main, name) {
  tabs(name, "label");
  document.title = "lanza · label " + name;
  const base = `/api/v1/deployments/${encodeURIComponent(name)}/labelling`;
  const progress = el("div", { class: "kpis", id: "label-progress" });
  const stage = el("section", { class: "card", id: "item" });
  let items = [];
  let current = null;
  let busy = false;

  function showProgress(p) {
    progress.replaceChildren(
      el("div", { class: "kpi" }, el("span", { class: "muted" }, "labelled"), el("b", { id: "labelled" }, p.labelled)),
      el("div", { class: "kpi" }, el("span", { class: "muted" }, "agree with the model"), el("b", { id: "agreement" }, percent(p.agreement))),
      el("div", { class: "kpi" }, el("span", { class: "muted" }, "agreement on the random slice"), el("b", {}, percent(p.random_agreement))),
      el("div", { class: "kpi" }, el("span", { class: "muted" }, "waiting"), el("b", { id: "waiting" }, p.waiting)));
  }

  async function load() {
    const queue = await api("GET", `${base}/queue?size=20`);
    items = queue.items;
    showProgress(queue.progress);
    next();
  }

  function next() {
    current = items.shift() || null;
    if (!current) {
      stage.replaceChildren(el("p", { class: "muted", id: "empty" }, "Nothing waits for a label. New predictions will show up here."));
      return;
    }
    const features = el("table", { id: "features" }, ...Object.entries(current.features).map(([k, v]) => el("tr", {}, el("td", { class: "muted" }, k), el("td", {}, human(v)))));
    const said = `The model said ${current.prediction}` + (current.confidence === null ? "." : `, ${percent(current.confidence)} sure.`);
    const choices = el("div", { class: "keys" });
    if (current.classes) {
      current.classes.forEach((label, i) => {
        const button = el("button", { type: "button", class: String(label) === String(current.prediction) ? null : "secondary", "data-label": label },
          el("kbd", {}, i + 1), " " + label);
        button.addEventListener("click", () => answer(label));
        choices.append(button);
      });
    } else {
      const value = el("input", { type: "number", step: "any", id: "true-value", value: current.prediction });
      value.addEventListener("keydown", (event) => { if (event.key === "Enter") { event.preventDefault(); answer(Number(value.value)); } });
      choices.append(value);
    }
    stage.replaceChildren(
      el("h2", {}, "Is the model right? ", el("span", { class: "tag", id: "sample" }, current.sample === "random" ? "random check" : "model unsure")),
      el("p", { class: "answer", id: "said", "data-request": current.request_id }, said), features, choices,
      el("p", { class: "legend" }, "Keys: ", el("kbd", {}, "Enter"), " the model is right · ",
        current.classes ? el("span", {}, el("kbd", {}, "1"), "–", el("kbd", {}, String(current.classes.length)), " pick the right answer · ") : "",
        el("kbd", {}, "S"), " skip"));
  }

  async function answer(value) {
    if (!current || busy) return;
    busy = true;
    try {
      const p = await api("POST", `${base}/answers`, { request_id: current.request_id, value, sample: current.sample });
      showProgress(p);
      if (!items.length) await load(); else next();
    } catch (err) {
      showError(stage, err);
    } finally {
      busy = false;
    }
  }

  document.addEventListener("keydown", (event) => {
    if (!current || event.target.id === "true-value") return;
    if (event.key === "Enter") { event.preventDefault(); answer(current.prediction); }
    else if (event.key === "s" || event.key === "S") { next(); }
    else if (current.classes && /^[1-9]$/.test(event.key)) {
      const label = current.classes[Number(event.key) - 1];
      if (label !== undefined) answer(label);
    }
  });
  main.replaceChildren(progress, stage);
  await load();
}

/* ---- model card --------------------------------------------------------------------- */

function section(title, ...children) {
  return el("section", { class: "card" }, el("h2", {}, title), ...children);
}

function ownerForm(card, path) {
  const owner = card.owner;
  const message = el("p", { class: "legend", id: "card-saved" });
  const form = el("form", { class: "fields", id: "card-form" },
    el("label", {}, "Owners", el("span", {}, "comma-separated"), el("input", { type: "text", name: "owners", value: owner.owners.join(", ") })),
    el("label", {}, "Intended use", el("textarea", { name: "intended_use" }, owner.intended_use)),
    el("label", {}, "Limits", el("textarea", { name: "limitations" }, owner.limitations)),
    el("button", { type: "submit", id: "save-card" }, "Save (admin key)"), message);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { owners: form.elements.owners.value.split(",").map((s) => s.trim()).filter(Boolean),
      intended_use: form.elements.intended_use.value, limitations: form.elements.limitations.value };
    try {
      await api("PUT", path, body);
      message.className = "legend ok";
      message.textContent = "Saved.";
    } catch (err) {
      message.className = "legend error";
      message.textContent = err.message;
    }
  });
  return form;
}

async function renderCard(main, name, version) {
  const path = `/api/v1/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}/card`;
  const card = await api("GET", path);
  document.title = "lanza · model card " + card.ref;
  document.getElementById("crumb").textContent = "/ model card " + card.ref;
  document.getElementById("tabs").replaceChildren();
  const t = card.training, d = card.data;
  const files = `/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}/card`;
  const md = el("button", { type: "button", class: "secondary", id: "card-md" }, "Markdown");
  const html = el("button", { type: "button", class: "secondary", id: "card-html" }, "HTML");
  md.addEventListener("click", () => download(files + ".md", "card.md"));
  html.addEventListener("click", () => download(files + ".html", "card.html"));
  const leaderboard = t.leaderboard.length ? el("table", { id: "leaderboard" },
    el("tr", {}, ...Object.keys(t.leaderboard[0]).map((k) => el("th", {}, k))),
    ...t.leaderboard.map((row) => el("tr", { class: row.picked ? "ok" : null }, ...Object.values(row).map((v) => el("td", {}, human(v)))))) : null;
  const serving = card.serving.length ? el("table", { id: "serving" },
    el("tr", {}, ...["deployment", "version", "reference", "share", "device", "requests", "p50 / p99 ms", "drift", "live quality", ""].map((h) => el("th", {}, h))),
    ...card.serving.map((s) => {
      const m = s.monitoring || {};
      return el("tr", { "data-deployment": s.deployment },
        el("td", {}, el("a", { href: "/dashboard/" + encodeURIComponent(s.deployment) }, s.deployment)),
        el("td", { class: "version" }, card.ref), el("td", {}, s.reference), el("td", {}, percent(s.share)), el("td", {}, s.device),
        el("td", {}, fmt(m.requests, 0)), el("td", {}, m.latency ? fmt(m.latency.p50_ms) + " / " + fmt(m.latency.p99_ms) : "–"),
        el("td", {}, m.drift_share === null || m.drift_share === undefined ? "–" : percent(m.drift_share) + " of features"),
        el("td", {}, Object.entries(m.quality || {}).map(([k, v]) => `${k} ${fmt(v, 3)}`).join(", ") || "–"),
        el("td", {}, el("a", { href: "/deployments/" + encodeURIComponent(s.deployment) }, "try it")));
    })) : el("p", { class: "muted" }, "Not serving in any deployment.");
  const features = el("table", { id: "features" }, el("tr", {}, ...["feature", "kind", "missing", "values"].map((h) => el("th", {}, h))),
    ...d.features.map((f) => el("tr", {}, el("td", {}, f.name), el("td", {}, f.kind), el("td", {}, percent(f.missing)), el("td", {}, f.summary))));
  main.replaceChildren(
    el("div", { class: "kpis" },
      el("div", { class: "kpi" }, el("span", { class: "muted" }, "version"), el("b", { id: "card-version" }, card.ref + (card.aliases.length ? " (" + card.aliases.join(", ") + ")" : ""))),
      el("div", { class: "kpi" }, el("span", { class: "muted" }, "model"), el("b", {}, card.candidate || "–")),
      el("div", { class: "kpi" }, el("span", { class: "muted" }, "training " + (t.metric || "score")),
        el("b", { id: "card-metric", "data-metric": t.metric, "data-value": t.cv_mean }, `${t.metric} ${human(t.cv_mean)} ± ${human(t.cv_std)}`)),
      el("div", { class: "kpi" }, el("span", { class: "muted" }, "download"), el("div", { class: "keys" }, md, html))),
    el("div", { class: "card-grid" },
      section("Owners, intended use and limits", ownerForm(card, path)),
      section("Data", el("p", {}, `${d.task || "–"} of ${d.target || "–"}` + (d.classes ? ` (classes ${d.classes.join(", ")})` : "")),
        el("p", {}, `${human(d.rows)} training rows · source ${d.source || "–"} · digest ${d.digest || "–"}`), features),
      section("Training and selection", el("p", {}, `${t.folds || "–"}-fold cross-validation; ${human(t.latency_ms_per_row)} ms per row to predict.`),
        el("p", { id: "selection" }, (t.selection && t.selection.reason) || "–"),
        el("ul", { id: "search" }, ...((t.selection && t.selection.skipped) || []).map((s) => el("li", {}, `Skipped ${s.name}: ${s.reason}.`)),
          ...((t.selection && t.selection.failed) || []).map((f) => el("li", {}, `Failed ${f.name}: ${f.reason}.`)),
          ...((t.selection && t.selection.notes) || []).map((n) => el("li", {}, `Note: ${n}.`))),
        t.cost ? el("p", { id: "cost" }, `CPU cost per million predictions: $${fmt(t.cost.batch_per_million, 3)} in batch, ` +
          `$${fmt(t.cost.realtime_per_million, 3)} one at a time (${t.cost.prices}).`) : null, leaderboard)),
    el("br"), section("Serving, drift and live quality", serving));
}

/* ---- router ------------------------------------------------------------------------- */

async function route() {
  const main = document.getElementById("main");
  const path = window.location.pathname;
  let m;
  try {
    if ((m = path.match(/^\/deployments\/([^/]+)\/upload$/))) await renderUpload(main, decodeURIComponent(m[1]));
    else if ((m = path.match(/^\/deployments\/([^/]+)\/label$/))) await renderLabel(main, decodeURIComponent(m[1]));
    else if ((m = path.match(/^\/deployments\/([^/]+)$/))) await renderPredict(main, decodeURIComponent(m[1]));
    else if ((m = path.match(/^\/models\/([^/]+)\/versions\/([^/]+)\/card$/))) await renderCard(main, decodeURIComponent(m[1]), decodeURIComponent(m[2]));
    else main.replaceChildren(el("p", { class: "muted" }, "Unknown page."));
  } catch (err) {
    showError(main, err);
  }
}

route();
