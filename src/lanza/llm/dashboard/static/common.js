/* Helpers shared by lanza's traces and evaluations pages. No dependencies. */
"use strict";

function headers(extra) {
  const key = window.localStorage.getItem("lanzaKey");
  return Object.assign(key ? { Authorization: "Bearer " + key } : {}, extra || {});
}

async function problem(response) {
  try {
    const body = await response.json();
    return (body.error && body.error.message) || body.detail || response.statusText;
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

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined) node.setAttribute(k, v);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function fmt(value, digits) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return Number(value).toFixed(digits === undefined ? 2 : digits);
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "–";
}

function pretty(value) {
  return value === null || value === undefined ? "–" : JSON.stringify(value, null, 2);
}

function setStatus(text) {
  document.getElementById("updated").textContent = text;
}
