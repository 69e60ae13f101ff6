"""LangSmith's run filter language, parsed once and tested against runs.

``and(eq(run_type, "llm"), gt(latency, 2))``, ``has(tags, "beta")``,
``search("paris")``, ``in(name, ["a", "b"])``, ``not(...)``, ``or(...)``; comparisons
are ``eq neq gt gte lt lte``. ``metadata_key``/``metadata_value`` and
``feedback_key``/``feedback_score`` compared inside one ``and`` refer to the same
metadata entry or the same feedback, as in LangSmith.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lanza.errors import InvalidInputError

_TOKEN = re.compile(
    r"""\s*(?:(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"""
    r"""|(?P<name>[A-Za-z_][\w.]*)|(?P<punct>[(),\[\]]))"""
)
_COMPARISONS = {"eq", "neq", "gt", "gte", "lt", "lte"}
_FUNCTIONS = {*_COMPARISONS, "and", "or", "not", "has", "in", "search", "exists"}
_LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None, "none": None}
_GROUPS = ("metadata_", "feedback_")


@dataclass(frozen=True)
class Field:
    """A run field named in a filter."""

    name: str


@dataclass(frozen=True)
class Call:
    """``name(args...)``."""

    name: str
    args: tuple[Any, ...]


def parse(text: str) -> Call:
    """The filter as a tree; a filter that cannot be read is a 400 naming where."""
    tokens = _tokens(text)
    node, rest = _expression(tokens, 0, text)
    if rest != len(tokens) or not isinstance(node, Call):
        raise InvalidInputError(
            f"The filter {text!r} is not a single expression like eq(name, 'x')."
        )
    _check(node)
    return node


def _check(node: Call) -> None:
    """Refuse unknown functions before any run is read, so a typo is never an empty page."""
    if node.name.lower() not in _FUNCTIONS:
        raise InvalidInputError(f"The filter function '{node.name}' is not known.")
    for arg in node.args:
        if isinstance(arg, Call):
            _check(arg)


def matches(node: Call, run: dict[str, Any], feedback: list[dict[str, Any]]) -> bool:
    """Whether a run (a LangSmith run view) passes the filter; ``feedback`` is the run's."""
    name = node.name.lower()
    if name == "and":
        return _all(node.args, run, feedback)
    if name == "or":
        return any(matches(_call(a), run, feedback) for a in node.args)
    if name == "not":
        return not matches(_call(node.args[0]), run, feedback)
    if _group(node) is not None:
        return _all((node,), run, feedback)
    return _test(node, run)


def _all(args: tuple[Any, ...], run: dict[str, Any], feedback: list[dict[str, Any]]) -> bool:
    plain = [a for a in args if _group(_call(a)) is None]
    if not all(matches(_call(a), run, feedback) for a in plain):
        return False
    for prefix in _GROUPS:
        grouped = [_call(a) for a in args if _group(_call(a)) == prefix]
        if grouped and not any(
            all(_test(c, item) for c in grouped) for item in _items(prefix, run, feedback)
        ):
            return False
    return True


def _items(
    prefix: str, run: dict[str, Any], feedback: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    if prefix == "metadata_":
        metadata = (run.get("extra") or {}).get("metadata") or {}
        return [{"metadata_key": k, "metadata_value": v} for k, v in metadata.items()]
    return [
        {
            "feedback_key": f["key"],
            "feedback_score": f.get("score"),
            "feedback_value": f.get("value"),
        }
        for f in feedback
    ]


def _group(node: Call) -> str | None:
    if (
        node.name.lower() not in _COMPARISONS
        or not node.args
        or not isinstance(node.args[0], Field)
    ):
        return None
    field = node.args[0].name
    return next((p for p in _GROUPS if field.startswith(p)), None)


def _test(node: Call, values: dict[str, Any]) -> bool:
    name = node.name.lower()
    if name in _COMPARISONS:
        field, expected = _pair(node)
        return _compare(name, _value(field, values), expected)
    if name == "has":
        field, expected = _pair(node)
        found = _value(field, values)
        return isinstance(found, list) and expected in found
    if name == "in":
        field, expected = _pair(node)
        return isinstance(expected, list) and _value(field, values) in expected
    if name == "search":
        needle = str(node.args[-1]).lower()
        fields = (
            [_value(node.args[0].name, values)]
            if len(node.args) > 1
            else [values.get(k) for k in ("name", "inputs", "outputs", "error")]
        )
        return any(needle in json.dumps(f, default=str).lower() for f in fields if f is not None)
    if name == "exists":
        field, _ = _pair(Call(name, (*node.args, None)))
        return _value(field, values) is not None
    raise InvalidInputError(f"The filter function '{node.name}' is not known.")


def _pair(node: Call) -> tuple[str, Any]:
    if len(node.args) != 2 or not isinstance(node.args[0], Field):
        raise InvalidInputError(f"'{node.name}' takes a field and a value.")
    return node.args[0].name, node.args[1]


def _value(field: str, run: dict[str, Any]) -> Any:
    """A run's value for a filter field (``latency`` in seconds, times as datetimes)."""
    if field in (
        "metadata_key",
        "metadata_value",
        "feedback_key",
        "feedback_score",
        "feedback_value",
    ):
        return run.get(field)
    if field == "latency":
        start, end = _time(run.get("start_time")), _time(run.get("end_time"))
        return None if start is None or end is None else (end - start).total_seconds()
    if field in ("start_time", "end_time"):
        return _time(run.get(field))
    if field == "is_root":
        return run.get("parent_run_id") is None
    if field == "error":
        return run.get("error")
    if field == "thread_id":
        metadata = (run.get("extra") or {}).get("metadata") or {}
        return next(
            (metadata[k] for k in ("thread_id", "session_id", "conversation_id") if k in metadata),
            None,
        )
    if field.startswith("metadata."):
        return ((run.get("extra") or {}).get("metadata") or {}).get(field[9:])
    value = run.get(field)
    return str(value) if field.endswith("id") and value is not None else value


def _compare(op: str, found: Any, expected: Any) -> bool:
    if isinstance(found, datetime) and isinstance(expected, str):
        expected = _time(expected)
    if isinstance(expected, bool) and not isinstance(found, bool):
        found = bool(found)  # eq(error, false): no error
    if op == "eq":
        return bool(found == expected or (found is not None and str(found) == str(expected)))
    if op == "neq":
        return not _compare("eq", found, expected)
    if found is None or expected is None:
        return False
    try:
        if op == "gt":
            return bool(found > expected)
        if op == "gte":
            return bool(found >= expected)
        if op == "lt":
            return bool(found < expected)
        return bool(found <= expected)
    except TypeError:
        return False


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInputError(f"{value!r} is not an ISO 8601 time.") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _call(node: Any) -> Call:
    if not isinstance(node, Call):
        raise InvalidInputError(f"{node!r} is not a filter expression like eq(name, 'x').")
    return node


def _tokens(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    at = 0
    while at < len(text.rstrip()):
        found = _TOKEN.match(text, at)
        if found is None or found.end() == at:
            raise InvalidInputError(f"The filter {text!r} cannot be read at position {at}.")
        kind = found.lastgroup or ""
        raw = found.group(kind)
        if kind == "string":
            value = json.loads(raw) if raw[0] == '"' else raw[1:-1].replace("\\'", "'")
            tokens.append(("value", value))
        elif kind == "number":
            tokens.append(("value", float(raw) if any(c in raw for c in ".eE") else int(raw)))
        else:
            tokens.append((kind, raw))
        at = found.end()
    return tokens


def _expression(tokens: list[tuple[str, Any]], at: int, text: str) -> tuple[Any, int]:
    if at >= len(tokens):
        raise InvalidInputError(f"The filter {text!r} ends too early.")
    kind, raw = tokens[at]
    if kind == "value":
        return raw, at + 1
    if kind == "punct" and raw == "[":
        items, at = _sequence(tokens, at + 1, "]", text)
        return list(items), at
    if kind == "name":
        if at + 1 < len(tokens) and tokens[at + 1] == ("punct", "("):
            args, end = _sequence(tokens, at + 2, ")", text)
            return Call(raw, tuple(args)), end
        if raw.lower() in _LITERALS:
            return _LITERALS[raw.lower()], at + 1
        return Field(raw), at + 1
    raise InvalidInputError(f"The filter {text!r} has an unexpected '{raw}'.")


def _sequence(
    tokens: list[tuple[str, Any]], at: int, close: str, text: str
) -> tuple[list[Any], int]:
    items: list[Any] = []
    while True:
        if at < len(tokens) and tokens[at] == ("punct", close):
            return items, at + 1
        item, at = _expression(tokens, at, text)
        items.append(item)
        if at < len(tokens) and tokens[at] == ("punct", ","):
            at += 1
        elif not (at < len(tokens) and tokens[at] == ("punct", close)):
            raise InvalidInputError(f"The filter {text!r} is missing '{close}'.")
