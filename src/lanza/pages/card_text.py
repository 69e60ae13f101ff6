"""A model card as Markdown and as one self-contained HTML file, to share with another team."""

from __future__ import annotations

import html
from typing import Any

STYLE = (
    "body{font:14px/1.5 system-ui,sans-serif;color:#1d2330;max-width:860px;margin:24px auto;"
    "padding:0 16px}table{border-collapse:collapse}th,td{border:1px solid #e3e6ee;"
    "padding:4px 8px;text-align:left}h1{color:#2f6fed}"
)


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def sections(card: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]] | None]]:
    """The card as (title, lines of text, optional table rows with a header row)."""
    data, training, owner = card["data"], card["training"], card["owner"]
    selection = training.get("selection") or {}
    model = [
        f"Version {card['ref']}"
        + (f" ({', '.join(card['aliases'])})" if card["aliases"] else "")
        + f", registered {card['created_at'][:19]}.",
        f"Model: {card['candidate'] or 'unknown'}.",
    ]
    owners = [
        "Owners: " + (", ".join(owner["owners"]) or "not set"),
        "Intended use: " + (owner["intended_use"] or "not written yet"),
        "Limits: " + (owner["limitations"] or "not written yet"),
    ]
    facts = [
        f"Task: {data['task'] or '–'}; target: {data['target'] or '–'}"
        + (f"; classes: {', '.join(map(str, data['classes']))}" if data["classes"] else "")
        + ".",
        f"Training rows: {_num(data['rows'])}; source: {data['source'] or '–'}; "
        f"digest {data['digest'] or '–'}.",
    ]
    features = [["feature", "kind", "missing", "values"]] + [
        [f["name"], f["kind"], f"{f['missing'] * 100:.1f} %", f["summary"]]
        for f in data["features"]
    ]
    metric = training["metric"] or "score"
    scores = [
        f"Training metric: {metric} {_num(training['cv_mean'])} ± {_num(training['cv_std'])} "
        f"({_num(training['folds'])}-fold cross-validation).",
        "Why this model: " + str(selection.get("reason") or "–"),
        f"Predict latency at training: {_num(training['latency_ms_per_row'])} ms per row.",
    ]
    selection = training.get("selection") or {}
    scores += [f"Skipped {s['name']}: {s['reason']}." for s in selection.get("skipped", [])]
    scores += [f"Failed {f['name']}: {f['reason']}." for f in selection.get("failed", [])]
    scores += [f"Note: {n}." for n in selection.get("notes", [])]
    cost = training.get("cost")
    if cost:
        scores.append(
            f"CPU cost per million predictions: ${_num(cost['batch_per_million'], 3)} in batch, "
            f"${_num(cost['realtime_per_million'], 3)} one at a time ({cost['prices']})."
        )
    board = training["leaderboard"]
    board_rows = None
    if board:
        keys = [k for k in board[0] if k != "complexity"]
        board_rows = [keys] + [[_num(row.get(k)) for k in keys] for row in board]
    serving_rows = [
        [
            "deployment",
            "reference",
            "share",
            "device",
            "requests",
            "p99 ms",
            "drift",
            "live quality",
        ]
    ]
    for s in card["serving"]:
        m = s.get("monitoring") or {}
        latency = m.get("latency") or {}
        quality = ", ".join(f"{k} {_num(v, 3)}" for k, v in (m.get("quality") or {}).items())
        drift = m.get("drift_share")
        serving_rows.append(
            [
                s["deployment"],
                s["reference"],
                f"{s['share'] * 100:.0f} %",
                s["device"],
                _num(m.get("requests")),
                _num(latency.get("p99_ms"), 3),
                "–" if drift is None else f"{drift * 100:.0f} % of features",
                quality or "–",
            ]
        )
    serving_text = [] if card["serving"] else ["Not serving in any deployment."]
    return [
        ("Model", model, None),
        ("Owners, intended use and limits", owners, None),
        ("Data", facts, features if data["features"] else None),
        ("Training and selection", scores, board_rows),
        (
            "Serving, drift and live quality",
            serving_text,
            serving_rows if card["serving"] else None,
        ),
    ]


MARKDOWN_ACTIVE = str.maketrans({c: "\\" + c for c in "\\`[]<>&|"})


def md(text: str) -> str:
    """Text as Markdown that renders as that text: no raw HTML, no link, no line break.

    Card fields are written by users; escaping the characters that open HTML, links,
    images, code and table cells keeps a field from adding ``<script>`` or a
    ``javascript:`` link to the card wherever it is rendered.
    """
    return " ".join(str(text).split()).translate(MARKDOWN_ACTIVE)


def to_markdown(card: dict[str, Any]) -> str:
    """The card as Markdown, every value escaped."""
    out = [f"# Model card: {md(card['ref'])}", ""]
    for title, lines, table in sections(card):
        out += [f"## {md(title)}", ""]
        out += [f"- {md(line)}" for line in lines]
        if table:
            out += ["", "| " + " | ".join(map(md, table[0])) + " |", "|" + " --- |" * len(table[0])]
            out += ["| " + " | ".join(md(c) for c in row) + " |" for row in table[1:]]
        out.append("")
    return "\n".join(out)


def to_html(card: dict[str, Any]) -> str:
    """The card as one HTML file with its style inline (no outside resource)."""
    e = html.escape
    body = [f"<h1>Model card: {e(card['ref'])}</h1>"]
    for title, lines, table in sections(card):
        body.append(f"<h2>{e(title)}</h2><ul>")
        body += [f"<li>{e(line)}</li>" for line in lines]
        body.append("</ul>")
        if table:
            head = "".join(f"<th>{e(c)}</th>" for c in table[0])
            rows = "".join(
                "<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in table[1:]
            )
            body.append(f"<table><tr>{head}</tr>{rows}</table>")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Model card {e(card['ref'])}</title><style>{STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>"
    )
