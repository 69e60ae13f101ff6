"""Which signature changes a swap may make without refusing today's requests."""

from __future__ import annotations

from lanza.runtime.schema import Column, InputSchema
from lanza.serving.compat import incompatibility

OLD = InputSchema((Column("a", "double"), Column("b", "string")))


def test_the_same_columns_and_a_superset_with_optional_columns_are_compatible() -> None:
    assert incompatibility(OLD, OLD) is None
    wider = InputSchema((*OLD.columns, Column("c", "double", required=False)))
    assert incompatibility(OLD, wider) is None
    ints = InputSchema((Column("a", "long"), Column("b", "string")))
    assert incompatibility(OLD, ints) is None


def test_a_dropped_renamed_retyped_or_newly_required_column_is_not() -> None:
    renamed = InputSchema((Column("x", "double"), Column("b", "string")))
    assert "column 'a'" in (incompatibility(OLD, renamed) or "")
    retyped = InputSchema((Column("a", "string"), Column("b", "string")))
    assert "changes type from double to string" in (incompatibility(OLD, retyped) or "")
    required = InputSchema((*OLD.columns, Column("c", "double")))
    assert "requires column 'c'" in (incompatibility(OLD, required) or "")


def test_versions_without_a_signature_are_not_judged() -> None:
    assert incompatibility(OLD, None) is None
    assert incompatibility(None, OLD) is None
