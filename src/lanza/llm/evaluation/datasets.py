"""The workspace's named datasets: JSONL files under ``LANZA_HOME/datasets``, built from traces.

A dataset built from traces has one row per trace: the root span's inputs become the
row's ``input`` (one text), ``messages`` (a chat) or ``inputs`` (prompt variables), and
its ``expected`` answer is the latest feedback correction on the trace, else the root's
output. ``lanza eval NAME`` reads a named dataset as it reads a JSONL path
(``dataset.py`` reads the file).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lanza.errors import ConflictError, InvalidInputError, NotFoundError
from lanza.llm.tracing.queries import TraceQuery, TraceReader

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
TEXT_KEYS = ("input", "question", "query", "prompt", "text")
ANSWER_KEYS = ("output", "text", "answer", "content", "result")


@dataclass(frozen=True)
class DatasetInfo:
    """A named dataset: where it is and how many rows it has."""

    name: str
    path: str
    rows: int
    corrected: int
    modified: str

    def view(self) -> dict[str, Any]:
        """As JSON."""
        return asdict(self)


class DatasetLibrary:
    """Named datasets in one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def of(cls, home: Path) -> DatasetLibrary:
        """The library of a workspace whose state folder is ``home``."""
        return cls(home / "datasets")

    def path(self, name: str) -> Path:
        """The file of a dataset name (which need not exist yet)."""
        if not NAME.match(name):
            raise InvalidInputError(
                f"'{name}' is not a dataset name: use 1-100 letters, digits, '.', '_' or '-'."
            )
        return self.folder / f"{name}.jsonl"

    def all(self) -> list[DatasetInfo]:
        """Every dataset, by name."""
        if not self.folder.is_dir():
            return []
        return [self.info(p.stem) for p in sorted(self.folder.glob("*.jsonl"))]

    def info(self, name: str) -> DatasetInfo:
        """One dataset's summary; 404 when there is none by that name."""
        path = self.path(name)
        if not path.is_file():
            raise NotFoundError(f"There is no dataset named '{name}'.")
        # "\n" only: splitlines() would also cut at U+2028 and the like inside a JSON string
        rows = [json.loads(line) for line in path.read_text().split("\n") if line.strip()]
        moment = datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat()
        corrected = sum(1 for r in rows if r.get("expected_from") == "correction")
        return DatasetInfo(name, str(path), len(rows), corrected, moment)

    def rows(self, name: str, limit: int = 100) -> list[dict[str, Any]]:
        """The first rows of a dataset."""
        path = self.info(name).path
        with open(path, encoding="utf-8") as handle:
            lines = (line for line in handle if line.strip())
            return [json.loads(line) for _, line in zip(range(limit), lines, strict=False)]

    def resolve(self, given: Path) -> Path:
        """A JSONL path as given, or the file of the named dataset when no such path exists."""
        if given.exists() or not NAME.match(str(given)):
            return given
        named = self.folder / f"{given}.jsonl"
        return named if named.is_file() else given

    def write(self, name: str, rows: list[dict[str, Any]], overwrite: bool = False) -> DatasetInfo:
        """Save rows as a named dataset, atomically; 409 if it exists and not ``overwrite``."""
        path = self.path(name)
        if path.exists() and not overwrite:
            raise ConflictError(f"Dataset '{name}' exists already; pass overwrite to replace it.")
        if not rows:
            raise InvalidInputError(f"Dataset '{name}' would have no rows; nothing was written.")
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".jsonl.partial")
        with open(partial, "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        os.replace(partial, path)
        return self.info(name)


def rows_from_traces(
    reader: TraceReader, query: TraceQuery, limit: int, corrections_only: bool = False
) -> list[dict[str, Any]]:
    """Dataset rows from the traces a query finds, newest first, at most ``limit``."""
    rows: list[dict[str, Any]] = []
    page = query.model_copy(update={"limit": min(500, max(1, limit)), "offset": query.offset})
    while len(rows) < limit:
        found = reader.list(page)
        for summary in found["traces"]:
            row = row_from_trace(reader.get(summary["trace_id"]), corrections_only)
            if row is not None:
                rows.append(row)
            if len(rows) == limit:
                break
        if found["next_offset"] is None:
            break
        page = page.model_copy(update={"offset": found["next_offset"]})
    return rows


def row_from_trace(trace: dict[str, Any], corrections_only: bool = False) -> dict[str, Any] | None:
    """One dataset row from a trace (None when its root has no inputs to replay)."""
    if not trace["spans"]:
        return None
    root = trace["spans"][0]
    row: dict[str, Any] = {"id": trace["trace_id"]}
    question = _question(root.get("inputs") or {})
    if question is None:
        return None
    row.update(question)
    corrections = [f["correction"] for f in trace["feedback"] if f["correction"] is not None]
    if corrections:
        row["expected"], row["expected_from"] = _text(corrections[-1]), "correction"
    elif corrections_only:
        return None
    elif root.get("outputs") is not None:
        row["expected"], row["expected_from"] = _text(root["outputs"]), "output"
    row["trace_id"] = trace["trace_id"]
    return row


def _question(inputs: dict[str, Any]) -> dict[str, Any] | None:
    """``input`` for one text, ``messages`` for a chat, else ``inputs`` (prompt variables)."""
    if not inputs:
        return None
    messages = inputs.get("messages")
    if isinstance(messages, list) and all(isinstance(m, dict) for m in messages):
        return {"messages": messages}
    texts = [v for v in inputs.values() if isinstance(v, str)]
    if len(inputs) == 1 and texts:
        return {"input": texts[0]}
    for key in TEXT_KEYS:
        if isinstance(inputs.get(key), str):
            rest = {k: v for k, v in inputs.items() if k != key}
            return {"input": inputs[key], **({"inputs": rest} if rest else {})}
    return {"inputs": inputs}


def _text(value: Any) -> str:
    """An answer as text: a string as is, the usual answer field of an object, else JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ANSWER_KEYS:
            if isinstance(value.get(key), str):
                return str(value[key])
        if len(value) == 1:
            return _text(next(iter(value.values())))
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
