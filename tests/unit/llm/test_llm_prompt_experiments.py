"""Prompt experiment splits: parsing, stickiness per user, and shares close to the weights."""

from __future__ import annotations

from collections import Counter

import pytest

from lanza.errors import InvalidInputError
from lanza.llm.prompts.experiment import parse_split, pick

SPLIT = "support@production=90,support@candidate=10"


def test_a_plain_reference_is_no_experiment() -> None:
    assert parse_split("support@production") is None
    assert pick("support/3", "ada") == "support/3"


def test_a_user_always_gets_the_same_arm_and_users_follow_the_weights() -> None:
    assert {pick(SPLIT, "ada") for _ in range(20)} == {pick(SPLIT, "ada")}
    shares = Counter(pick(SPLIT, f"user-{i}") for i in range(5000))
    assert 0.87 < shares["support@production"] / 5000 < 0.93


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("support@a=ninety,support@b=10", "write PROMPT@ALIAS=WEIGHT"),
        ("=5", "write PROMPT@ALIAS=WEIGHT"),
        ("support@a=0,support@b=0", "the weights add up to nothing"),
    ],
)
def test_a_bad_split_names_the_term(text: str, words: str) -> None:
    with pytest.raises(InvalidInputError, match=words):
        parse_split(text)


def test_cohen_kappa_matches_the_textbook_example() -> None:
    from lanza.llm.annotation.queues import cohen_kappa

    # Two raters, 50 items: 20 both yes, 15 both no, 5 yes/no, 10 no/yes: kappa 0.4.
    pairs = [(True, True)] * 20 + [(False, False)] * 15 + [(True, False)] * 5
    pairs += [(False, True)] * 10
    kappa, observed = cohen_kappa(pairs)
    assert observed == pytest.approx(0.7)
    assert kappa == pytest.approx(0.4)
    assert cohen_kappa([]) == (None, None)
