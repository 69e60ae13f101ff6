"""The shipped price table, user extensions and cost arithmetic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lanza.errors import InvalidInputError
from lanza.llm.gateway.pricing import PriceTable
from lanza.llm.providers.base import Usage


def test_shipped_table_has_a_date_and_prices_by_million_tokens() -> None:
    table = PriceTable.load()
    assert table.updated.count("-") == 2
    cost = table.cost("gpt-4o-mini", Usage(prompt_tokens=1_000_000, completion_tokens=500_000))
    assert cost == pytest.approx(0.15 + 0.3)
    assert table.cost("gpt-4o-mini-2024-07-18", Usage(1000, 0)) == pytest.approx(0.00015)
    assert table.cost("no-such-model", Usage(10, 10)) is None


def test_user_file_adds_and_overrides(tmp_path: Path) -> None:
    extra = tmp_path / "prices.json"
    extra.write_text(
        json.dumps(
            {
                "updated": "2030-01-01",
                "models": {"mine": {"input": 1, "output": 2}, "gpt-4o": {"input": 0, "output": 0}},
            }
        )
    )
    table = PriceTable.load(extra)
    assert table.updated == "2030-01-01"
    assert table.cost("mine", Usage(1_000_000, 1_000_000)) == pytest.approx(3.0)
    assert table.cost("gpt-4o", Usage(1000, 1000)) == 0.0
    assert table.price("gpt-4o-mini") is not None  # shipped entries stay


@pytest.mark.parametrize(
    ("content", "message"),
    [("{", "cannot be read"), ('{"x": 1}', "no 'models'"), ('{"models": {"m": {}}}', "numeric")],
)
def test_bad_user_file_is_one_sentence(tmp_path: Path, content: str, message: str) -> None:
    extra = tmp_path / "prices.json"
    extra.write_text(content)
    with pytest.raises(InvalidInputError, match=message):
        PriceTable.load(extra)
