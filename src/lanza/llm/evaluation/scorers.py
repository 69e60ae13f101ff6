"""Scorers: each turns (example, output) into a score in [0, 1], or ``None`` when it cannot.

``exact``, ``contains`` and ``regex`` compare text; ``similarity`` is the cosine of
local embeddings; ``judge`` asks an LLM deployment for a 1-5 grade.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from lanza.errors import InvalidInputError
from lanza.llm.evaluation.dataset import Example

SCORERS = ("exact", "contains", "regex", "similarity", "judge")
Embed = Callable[[list[str]], Awaitable[list[list[float]]]]
Ask = Callable[[str], Awaitable[str]]
JUDGE_PROMPT = """You grade answers. Compare the answer with the reference.
Question: {question}
Reference answer: {expected}
Answer to grade: {output}
Reply with one integer from 1 (wrong) to 5 (fully correct) and nothing else."""


def parse_scorers(text: str) -> list[str]:
    """``exact,contains`` into names; an unknown name is a 400 listing the known ones."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCORERS]
    if unknown or not names:
        raise InvalidInputError(
            f"Unknown scorer(s) {', '.join(unknown) or '(none)'}; use {', '.join(SCORERS)}."
        )
    return names


def normalise(text: str) -> str:
    """Lower case, single spaces, no surrounding space or final full stop."""
    return " ".join(text.lower().split()).rstrip(".")


def exact(example: Example, output: str) -> float | None:
    """1 when the output equals the expected answer (case and spacing aside)."""
    if example.expected is None:
        return None
    return float(normalise(output) == normalise(example.expected))


def contains(example: Example, output: str) -> float | None:
    """1 when the expected answer appears in the output."""
    if example.expected is None:
        return None
    return float(normalise(example.expected) in normalise(output))


def regex(example: Example, output: str) -> float | None:
    """1 when the row's pattern (or its expected answer as a pattern) matches the output."""
    pattern = example.pattern or example.expected
    if pattern is None:
        return None
    try:
        return float(re.search(pattern, output, flags=re.IGNORECASE | re.DOTALL) is not None)
    except re.error as exc:
        raise InvalidInputError(f"Row {example.id}: '{pattern}' is not a regex: {exc}.") from exc


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity, 0 for a zero vector."""
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b, strict=True)) / norm if norm else 0.0


@dataclass
class Similarity:
    """Cosine of the output's and the expected answer's embeddings, floored at 0."""

    embed: Embed

    async def __call__(self, example: Example, output: str) -> float | None:
        if example.expected is None:
            return None
        first, second = await self.embed([output, example.expected])
        return max(cosine(first, second), 0.0)


@dataclass
class Judge:
    """An LLM's 1-5 grade, mapped to 0-1; ``None`` when the reply holds no grade."""

    ask: Ask

    async def __call__(self, example: Example, output: str) -> float | None:
        reply = await self.ask(
            JUDGE_PROMPT.format(
                question=example.question, expected=example.expected or "(none)", output=output
            )
        )
        found = re.search(r"[1-5]", reply)
        return (int(found.group()) - 1) / 4 if found else None
