"""Rolling back walks promotions back in time."""

from __future__ import annotations

from lanza.registry.history import new_move, previous_version


def _moves(*steps: tuple[str, str | None]) -> list:  # type: ignore[type-arg]
    return [new_move("m", "champion", None, to, action, "me") for action, to in steps]


def test_previous_of_a_single_promotion_is_none() -> None:
    assert previous_version(_moves(("promote", "1"))) is None


def test_previous_after_two_promotions() -> None:
    assert previous_version(_moves(("promote", "1"), ("promote", "2"))) == "1"


def test_two_rollbacks_walk_two_steps_back() -> None:
    moves = _moves(("promote", "1"), ("promote", "2"), ("promote", "3"), ("rollback", "2"))
    assert previous_version(moves) == "1"


def test_removed_alias_is_skipped() -> None:
    moves = _moves(("promote", "1"), ("remove", None), ("promote", "2"))
    assert previous_version(moves) == "1"
