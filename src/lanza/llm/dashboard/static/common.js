/* Helpers shared by lanza's traces and evaluations pages, beside /static/lanza/common.js. */
"use strict";

function pretty(value) {
  return value === null || value === undefined ? "–" : JSON.stringify(value, null, 2);
}

function setStatus(text) {
  document.getElementById("updated").textContent = text;
}
