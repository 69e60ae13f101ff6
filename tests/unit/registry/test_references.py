"""Model references as users write them."""

from __future__ import annotations

import pytest

from lanza.errors import InvalidInputError
from lanza.registry import parse_reference


@pytest.mark.parametrize(
    ("text", "name", "alias", "version"),
    [
        ("fraud@champion", "fraud", "champion", None),
        ("models:/fraud@challenger", "fraud", "challenger", None),
        ("fraud/3", "fraud", None, "3"),
        ("models:/fraud/3", "fraud", None, "3"),
        ("fraud", "fraud", "champion", None),
    ],
)
def test_parses(text: str, name: str, alias: str | None, version: str | None) -> None:
    ref = parse_reference(text)
    assert (ref.name, ref.alias, ref.version) == (name, alias, version)


def test_uris_pass_through() -> None:
    assert parse_reference("runs:/abc/model").uri == "runs:/abc/model"


@pytest.mark.parametrize("text", ["", "  ", "fr aud@x"])
def test_rejects(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_reference(text)
