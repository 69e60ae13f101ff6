"""Prompt arms compared: Student's t intervals, and no interval from one score."""

from __future__ import annotations

import pytest

from lanza.llm.online.store import describe, difference


def test_an_arm_of_few_scores_gets_a_students_t_interval() -> None:
    arm = describe("support@candidate", [1.0, 2.0, 3.0])
    assert (arm["n"], arm["mean"]) == (3, 2.0)
    # mean ± t(0.975, 2) · s/√n = 2 ± 4.3027 · 1/√3
    assert arm["ci95"] == pytest.approx([2 - 2.48420, 2 + 2.48420], abs=1e-4)


def test_one_score_has_no_interval_and_is_never_significant() -> None:
    one = describe("support@candidate", [5.0])
    assert one["ci95"] is None
    many = describe("support@production", [1.0, 1.0, 2.0, 1.0])
    assert difference(many, one) == {"delta": 3.75, "ci95": None, "significant": False}


def test_welch_interval_of_two_arms() -> None:
    base = describe("a", [1.0, 2.0, 3.0, 4.0])
    other = describe("b", [4.0, 5.0, 6.0, 7.0])
    compared = difference(base, other)
    # delta 3; each variance 5/3, se √(2 · 5/3 / 4) = 0.9129; df 6, t 2.4469
    assert compared["delta"] == 3.0
    assert compared["ci95"] == pytest.approx([3 - 2.23375, 3 + 2.23375], abs=1e-4)
    assert compared["significant"] is True
