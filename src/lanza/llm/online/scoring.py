"""Online scorers: a trace's question and answer in, a score out.

Live traces have no reference answer, so the scorers judge the answer on its own:
``judge`` asks an LLM deployment for a 1-5 grade of the answer to the question,
``regex`` is 1 when the evaluator's pattern matches the answer, ``similarity`` is the
cosine of question and answer (an embeddings deployment's vectors, else word counts).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from lanza.llm.evaluation.scorers import cosine
from lanza.llm.online.spec import EvaluatorSpec

Ask = Callable[[str, str], Awaitable[str]]
Embed = Callable[[str, list[str]], Awaitable[list[list[float]]]]
JUDGE_PROMPT = """You grade the answers of an assistant.
Question: {question}
Answer: {answer}
Reply with one integer from 1 (wrong or useless) to 5 (correct and helpful) and nothing else."""
WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Exchange:
    """What a trace was asked and what it answered, as text."""

    question: str
    answer: str


def exchange(root: dict[str, Any]) -> Exchange:
    """The question and answer of a trace's root span (gateway calls and any traced app)."""
    return Exchange(_question(root.get("inputs")), _answer(root.get("outputs")))


def _question(inputs: Any) -> str:
    if isinstance(inputs, dict) and isinstance(inputs.get("messages"), list):
        users = [m for m in inputs["messages"] if isinstance(m, dict) and m.get("role") == "user"]
        last = (users or inputs["messages"] or [{}])[-1]
        return _text(last.get("content") if isinstance(last, dict) else last)
    return _text(inputs)


def _answer(outputs: Any) -> str:
    if isinstance(outputs, dict):
        for key in ("text", "output", "answer", "content", "result"):
            if isinstance(outputs.get(key), str):
                return str(outputs[key])
    return _text(outputs)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        return _text(next(iter(value.values())))
    return json.dumps(value, default=str)


@dataclass
class Scorers:
    """The scorers of one evaluator, with the gateway calls they may need."""

    spec: EvaluatorSpec
    ask: Ask
    embed: Embed

    async def score(self, item: Exchange) -> dict[str, float]:
        """Every scorer's score; a scorer that cannot score (no grade in the reply) is left out."""
        scores: dict[str, float] = {}
        for name in self.spec.scorers:
            value = await getattr(self, f"_{name}")(item)
            if value is not None:
                scores[name] = value
        return scores

    async def _judge(self, item: Exchange) -> float | None:
        assert self.spec.judge is not None
        reply = await self.ask(
            self.spec.judge, JUDGE_PROMPT.format(question=item.question, answer=item.answer)
        )
        found = re.search(r"[1-5]", reply)
        return float(found.group()) if found else None

    async def _regex(self, item: Exchange) -> float | None:
        pattern = self.spec.pattern or ""
        return float(re.search(pattern, item.answer, flags=re.IGNORECASE | re.DOTALL) is not None)

    async def _similarity(self, item: Exchange) -> float | None:
        if not item.question or not item.answer:
            return None
        if self.spec.embedder:
            first, second = await self.embed(self.spec.embedder, [item.question, item.answer])
            return max(cosine(first, second), 0.0)
        return words_cosine(item.question, item.answer)


def words_cosine(a: str, b: str) -> float:
    """Cosine of two texts' word counts (lower case)."""
    left, right = Counter(WORD.findall(a.lower())), Counter(WORD.findall(b.lower()))
    dot = sum(left[w] * right[w] for w in left)
    norm = math.sqrt(sum(v * v for v in left.values())) * math.sqrt(
        sum(v * v for v in right.values())
    )
    return dot / norm if norm else 0.0
