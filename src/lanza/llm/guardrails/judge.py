"""The judge check: another LLM deployment grades an answer 1-5 against a rule in words.

The gateway makes the call (traced as a child of the checked call, charged like it); this
module says what is asked and what the reply means.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lanza.llm.guardrails.checks import Finding
from lanza.llm.guardrails.spec import Guardrails

PROMPT = """You check the answers of an assistant against a rule.
Rule: {rule}
Question: {question}
Answer: {answer}
Reply with one integer from 1 (breaks the rule) to 5 (follows it fully) and nothing else."""
GRADE = re.compile(r"[1-5]")


def judge_prompt(rails: Guardrails, question: str, answer: str) -> str:
    """What the judge deployment is asked."""
    return PROMPT.format(rule=rails.judge_rule, question=question, answer=answer)


def verdict(rails: Guardrails, reply: str) -> Finding | None:
    """The finding a judge's reply makes: none when the grade passes; a flag (never a block)
    when the reply holds no grade."""
    found = GRADE.search(reply)
    if found is None:
        return Finding("judge", "output", "flag", detail=f"no grade in the judge's reply {reply!r}")
    grade = float(found.group())
    if grade >= rails.judge_below:
        return None
    return Finding(
        "judge",
        "output",
        rails.judge_action,
        detail=f"grade {grade:g} of 5, below {rails.judge_below:g}",
    )


def question_of(inputs: dict[str, Any]) -> str:
    """The text a call was asked: its last user message, or its prompt."""
    messages = inputs.get("messages")
    if isinstance(messages, list):
        users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        last = (users or messages or [{}])[-1]
        content = last.get("content") if isinstance(last, dict) else last
        return content if isinstance(content, str) else json.dumps(content, default=str)
    prompt = inputs.get("prompt")
    return prompt if isinstance(prompt, str) else json.dumps(prompt, default=str)
