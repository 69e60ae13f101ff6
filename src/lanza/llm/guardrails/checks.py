"""The built-in checks: PII patterns, banned words, maximum length and JSON-schema validity.

Card numbers must pass the Luhn check and IBANs the ISO 13616 mod-97 check, so order
numbers and dates are not taken for them. Checks run in a fixed order (cards and IBANs
before phone numbers, whose pattern would otherwise claim their digits).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lanza.llm.guardrails.spec import Guardrails, Side

PATTERNS: dict[str, re.Pattern[str]] = {
    "card": re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])"),
    "iban": re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b"),
    "email": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    # A whole number: not the tail or the head of a longer run of digit groups.
    "phone": re.compile(r"(?<![\w+])(?<!\d[ .-])\+?\d(?:[ ().-]{0,2}\d){7,14}(?!\w|[ .-]\d)"),
}
# Cheap tests that rule a kind out before its pattern scans the text position by position.
NEEDS: dict[str, re.Pattern[str]] = {
    "card": re.compile(r"\d"),
    "iban": re.compile(r"[A-Z]{2}\d\d"),
    "email": re.compile(r"@"),
    "phone": re.compile(r"\d"),
}
VALIDATORS: dict[str, Callable[[str], bool]] = {
    "card": lambda s: _luhn(re.sub(r"\D", "", s)),
    "iban": lambda s: _iban(s.replace(" ", "")),
}


@dataclass(frozen=True)
class Finding:
    """One thing a check found, and what was done about it."""

    check: str
    side: Side
    action: str
    count: int = 1
    detail: str | None = None

    def view(self) -> dict[str, Any]:
        """The finding as JSON, as it is kept on the trace."""
        out: dict[str, Any] = {
            "check": self.check,
            "side": self.side,
            "action": self.action,
            "count": self.count,
        }
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass
class Screened:
    """A text after the checks: possibly rewritten, with what was found and any refusal."""

    text: str
    findings: list[Finding] = field(default_factory=list)
    blocked: str | None = None


def screen(text: str, rails: Guardrails, side: Side) -> Screened:
    """Run every check that applies to ``side`` over ``text``."""
    out = Screened(text)
    if side not in rails.sides or not rails.active:
        return out
    for kind in (k for k in PATTERNS if k in rails.pii):
        _pii(out, kind, rails, side)
    if rails.banned_words:
        _banned(out, rails, side)
    if rails.max_chars and len(out.text) > rails.max_chars:
        _length(out, rails, side)
    if side == "output" and rails.json_schema is not None:
        _schema(out, rails, side)
    return out


def _pii(out: Screened, kind: str, rails: Guardrails, side: Side) -> None:
    if NEEDS[kind].search(out.text) is None:
        return
    valid = VALIDATORS.get(kind)
    hits = 0
    placeholder = f"[{kind.upper()}]"

    def replace(match: re.Match[str]) -> str:
        nonlocal hits
        if valid is not None and not valid(match.group()):
            return match.group()
        hits += 1
        return placeholder

    # One pass: the rewritten text is kept only when the action is to redact.
    rewritten = PATTERNS[kind].sub(replace, out.text)
    if not hits:
        return
    _record(out, Finding(f"pii:{kind}", side, rails.pii_action, hits))
    if rails.pii_action == "redact":
        out.text = rewritten


def _banned(out: Screened, rails: Guardrails, side: Side) -> None:
    pattern = _banned_pattern(tuple(rails.banned_words))
    hits = pattern.findall(out.text)
    if not hits:
        return
    found = sorted({h.lower() for h in hits})
    _record(out, Finding("banned_words", side, rails.banned_action, len(hits), ", ".join(found)))
    if rails.banned_action == "redact":
        out.text = pattern.sub("[REDACTED]", out.text)


@functools.lru_cache(maxsize=256)
def _banned_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(w) for w in words)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def _length(out: Screened, rails: Guardrails, side: Side) -> None:
    assert rails.max_chars is not None
    detail = f"{len(out.text)} characters, limit {rails.max_chars}"
    _record(out, Finding("max_chars", side, rails.length_action, 1, detail))
    if rails.length_action == "redact":
        out.text = out.text[: rails.max_chars]


def _schema(out: Screened, rails: Guardrails, side: Side) -> None:
    from jsonschema import Draft202012Validator

    try:
        document = json.loads(out.text)
    except json.JSONDecodeError as exc:
        problem: str | None = f"not JSON ({exc.msg} at character {exc.pos})"
    else:
        error = next(
            iter(Draft202012Validator(rails.json_schema or {}).iter_errors(document)), None
        )
        where = "/".join(str(p) for p in error.absolute_path) if error else ""
        problem = f"{error.message}{f' at /{where}' if where else ''}" if error else None
    if problem is not None:
        _record(out, Finding("json_schema", side, rails.schema_action, 1, problem))


def _record(out: Screened, finding: Finding) -> None:
    out.findings.append(finding)
    if finding.action == "block" and out.blocked is None:
        what = finding.check.replace("pii:", "personal data: ").replace("_", " ")
        detail = f" ({finding.detail})" if finding.detail else ""
        out.blocked = f"{what}{detail}"


def _luhn(digits: str) -> bool:
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _iban(text: str) -> bool:
    if not 15 <= len(text) <= 34:
        return False
    moved = text[4:] + text[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1
