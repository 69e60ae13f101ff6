"""Evaluation datasets: JSONL, one example per line.

Each line is an object with ``input`` (a question: the user message for a deployment
target, the variable ``{{input}}`` for a prompt target), ``inputs`` (more variables of
a prompt target) or ``messages`` (a chat sent before the question); and
``expected`` (the reference answer). ``pattern`` is an optional regular expression for
the ``regex`` scorer (default: ``expected`` as a pattern); ``id`` names the row.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lanza.errors import DataError


@dataclass(frozen=True)
class Example:
    """One row of a dataset."""

    id: str
    input: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    expected: str | None = None
    pattern: str | None = None

    @property
    def question(self) -> str:
        """A short text of what was asked, for tables and judges."""
        if self.input is not None:
            return self.input
        if self.messages:
            return str(self.messages[-1].get("content", ""))
        return json.dumps(self.inputs, sort_keys=True)


@dataclass(frozen=True)
class Dataset:
    """Examples read from a file, with the file's digest to tell versions apart."""

    path: Path
    examples: list[Example]
    digest: str


def load_dataset(path: Path) -> Dataset:
    """Read a JSONL dataset; a bad line is a 400 naming its number."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"The dataset {path} cannot be read: {exc.strerror or exc}.") from exc
    examples = []
    for number, line in enumerate(raw.decode("utf-8").splitlines(), start=1):
        if line.strip():
            examples.append(_example(line, number, path))
    if not examples:
        raise DataError(f"The dataset {path} has no examples.")
    return Dataset(path, examples, hashlib.sha256(raw).hexdigest()[:12])


def _example(line: str, number: int, path: Path) -> Example:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} line {number} is not valid JSON: {exc.msg}.") from exc
    if not isinstance(row, dict):
        raise DataError(f"{path} line {number} must be a JSON object.")
    if not any(k in row for k in ("input", "inputs", "messages")):
        raise DataError(f"{path} line {number} needs 'input', 'inputs' or 'messages'.")
    inputs = row.get("inputs") or {}
    messages = row.get("messages") or []
    if not isinstance(inputs, dict) or not isinstance(messages, list):
        raise DataError(f"{path} line {number}: 'inputs' is an object, 'messages' a list.")
    expected = row.get("expected")
    return Example(
        id=str(row.get("id", number)),
        input=None if row.get("input") is None else str(row["input"]),
        inputs=inputs,
        messages=messages,
        expected=None if expected is None else str(expected),
        pattern=row.get("pattern"),
    )
