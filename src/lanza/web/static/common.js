/* Helpers every lanza page loads before its own script (/static/lanza/common.js).
   Plain JavaScript, no dependencies; every call goes to lanza's own API. */
"use strict";

/* Request headers: the API key the reader saved in this browser, and any extra ones. */
function headers(extra) {
  const key = window.localStorage.getItem("lanzaKey");
  return Object.assign(key ? { Authorization: "Bearer " + key } : {}, extra || {});
}

/* The sentence lanza's error body gives, else the status line. */
async function problem(response) {
  try {
    const body = await response.json();
    return (body.error && body.error.message) || body.message || body.detail || response.statusText;
  } catch (err) {
    return response.statusText;
  }
}

async function getJSON(path) {
  const response = await fetch(path, { headers: headers() });
  if (!response.ok) throw new Error(path + " answered " + response.status + ": " + (await problem(response)));
  return response.json();
}

async function postJSON(path, payload) {
  const response = await fetch(path, {
    method: "POST",
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify(payload),
  });
  if (!response.ok) throw new Error(await problem(response));
  return response.json();
}

/* An element. Attributes: null and undefined are left out; true and false follow HTML's
   boolean attributes (present, or left out) except data-* and aria-* ones, which hold the
   words "true" and "false". Children: nodes or text; null and undefined are skipped. */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (typeof v === "boolean" && !k.startsWith("data-") && !k.startsWith("aria-")) {
      if (v) node.setAttribute(k, "");
      continue;
    }
    node.setAttribute(k, v);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/* A number for reading: to `digits` places when given (so a column of figures lines up),
   else whole numbers as they are and others to 2 places; missing values and NaN as a
   dash, anything else as text. */
function fmt(value, digits) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (typeof value !== "number") return String(value);
  if (digits === undefined && Number.isInteger(value)) return String(value);
  return value.toFixed(digits === undefined ? 2 : digits);
}

/* A time as YYYY-MM-DD HH:MM:SS UTC. */
function when(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  return isNaN(date) ? String(iso) : date.toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

/* The status line at the top right of a page ("updated 12:00:01", or what went wrong). */
function setStatus(text) {
  document.getElementById("updated").textContent = text;
}

/* A value as indented JSON, or a dash when there is none. */
function pretty(value) {
  return value === null || value === undefined ? "–" : JSON.stringify(value, null, 2);
}
