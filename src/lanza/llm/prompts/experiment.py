"""Prompt experiments: ``support@production=90,support@candidate=10`` splits traffic.

A reference with ``=WEIGHT`` terms is an experiment; each request gets one arm. With a
user id (the ``X-Lanza-User`` header, else the OpenAI ``user`` field) the arm is fixed
per user: a hash of the experiment and the user picks it, so a user sees one version
for the experiment's life. Without one, the arm is drawn at random by weight.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from lanza.errors import InvalidInputError


@dataclass(frozen=True)
class Arm:
    """One prompt version of an experiment and its share of the traffic."""

    reference: str
    weight: float


def parse_split(text: str) -> list[Arm] | None:
    """The arms of an experiment, or None when ``text`` is a plain prompt reference."""
    if "=" not in text:
        return None
    arms = []
    for term in text.split(","):
        reference, sep, weight = term.strip().rpartition("=")
        try:
            share = float(weight)
        except ValueError:
            share = -1.0
        if not sep or not reference or share < 0:
            raise InvalidInputError(
                f"Prompt experiment term '{term.strip()}': write PROMPT@ALIAS=WEIGHT, "
                "e.g. support@production=90,support@candidate=10."
            )
        arms.append(Arm(reference.strip(), share))
    if sum(a.weight for a in arms) <= 0:
        raise InvalidInputError(f"Prompt experiment '{text}': the weights add up to nothing.")
    return arms


def pick(text: str, user: str | None) -> str:
    """The prompt reference this request uses (``text`` itself when it is no experiment)."""
    arms = parse_split(text)
    if arms is None:
        return text
    total = sum(a.weight for a in arms)
    if user:
        digest = hashlib.sha256(f"{text}|{user}".encode()).digest()
        point = int.from_bytes(digest[:8], "big") / 2**64 * total
    else:
        point = random.random() * total
    for arm in arms:
        if point < arm.weight:
            return arm.reference
        point -= arm.weight
    return arms[-1].reference
