"""Read ``lanza.yaml`` into a ``LanzaFile``, with errors that point at the line.

PyYAML's node tree keeps where every key and value starts; validation errors from
pydantic carry a path (``deployments``, 0, ``traffic``); the two together give
"lanza.yaml line 12: deployments[0].traffic: …".
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pydantic
import yaml

from lanza.automation.spec import LanzaFile
from lanza.errors import SpecFileError

Path_ = tuple[str | int, ...]
KINDS = (
    *("models", "deployments", "llm_deployments", "prompts", "evaluators"),
    *("alerts", "schedules", "pipelines"),
)


def load_file(path: str | Path) -> LanzaFile:
    """Parse and validate a file; SpecFileError naming its line and field."""
    file = Path(path)
    if not file.is_file():
        raise SpecFileError(f"There is no file {file}.")
    return load_text(file.read_text(), file.name)


def load_text(text: str, source: str = "lanza.yaml") -> LanzaFile:
    """Parse and validate YAML text; ``source`` names it in errors."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecFileError(f"{source}{line}: not valid YAML: {problem}.") from None
    lines: dict[Path_, int] = {}
    if node is not None:
        _index(node, (), lines)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecFileError(f"{source} line 1: the file must be a mapping of sections.")
    try:
        parsed = LanzaFile.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        raise SpecFileError(_describe(source, first, lines)) from None
    _unique(parsed, source, lines)
    return parsed


def line_of(lines: dict[Path_, int], path: Sequence[str | int]) -> int:
    """The line of the deepest part of ``path`` the file has."""
    key = tuple(path)
    while key and key not in lines:
        key = key[:-1]
    return lines.get(key, 1)


def dotted(path: Sequence[str | int]) -> str:
    """``('deployments', 0, 'traffic')`` as ``deployments[0].traffic``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _index(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, str(key.value))
            lines[child] = key.start_mark.line + 1
            _index(value, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index(item, (*path, index), lines)


def _describe(source: str, error: Any, lines: dict[Path_, int]) -> str:
    # Union and tagged members add their own names to the path; keep what the file has.
    path = [p for p in error["loc"] if isinstance(p, int) or not str(p).startswith("function-")]
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if error["type"] == "extra_forbidden":
        message = "is not a known field"
    elif error["type"] == "missing":
        message = "is required"
    return f"{source} line {line_of(lines, path)}: {dotted(path)}: {message}."


def _unique(parsed: LanzaFile, source: str, lines: dict[Path_, int]) -> None:
    for kind in KINDS:
        seen: set[str] = set()
        for index, item in enumerate(getattr(parsed, kind)):
            key = item.key if kind == "alerts" else item.name
            if key in seen:
                path = (kind, index, "metric" if kind == "alerts" else "name")
                raise SpecFileError(
                    f"{source} line {line_of(lines, path)}: {dotted(path)}: "
                    f"'{key}' appears twice in {kind}."
                )
            seen.add(key)
