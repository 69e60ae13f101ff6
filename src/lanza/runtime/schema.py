"""A model's input columns, read from its MLflow signature, with what training saw of each.

The rules that check inputs against it live in ``lanza.runtime.rules`` (``check_frame``
for frames, ``check`` for rows). A missing column, an extra column, a value of the wrong type or a
frame of the wrong shape is a ``ValidationError`` (HTTP 422) that names the column.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

NUMERIC = {"double": "float64", "float": "float32", "long": "int64", "integer": "int32"}
NUMERIC_KINDS = set(NUMERIC)
DATED = {"datetime", "date"}


@dataclass(frozen=True)
class Column:
    """One input column: name, MLflow type, whether it may be left out, and (when training
    recorded them) the range of numbers or the categories it saw."""

    name: str
    type: str
    required: bool = True
    minimum: float | None = None
    maximum: float | None = None
    categories: frozenset[str] | None = None

    @property
    def numeric(self) -> bool:
        """Numbers (ints are accepted where doubles are declared, and the reverse if whole)."""
        return self.type in NUMERIC_KINDS

    @property
    def dated(self) -> bool:
        """Dates and times."""
        return self.type in DATED


@dataclass(frozen=True)
class TensorSpec:
    """One tensor input of a model logged with a tensor signature (a numpy input example).

    ``name`` is ``None`` for the single unnamed tensor; ``shape`` has -1 where any size
    goes (the first dimension is the rows).
    """

    name: str | None
    dtype: str
    shape: tuple[int, ...]

    @property
    def label(self) -> str:
        """The name requests use for this tensor (``input`` when it has none)."""
        return self.name or "input"


@dataclass(frozen=True)
class InputSchema:
    """The columns a model takes, in order; or its tensors; and its params schema.

    ``params`` is the signature's params schema as MLflow writes it (JSON text), or
    ``None`` when the model takes no params.
    """

    columns: tuple[Column, ...]
    tensors: tuple[TensorSpec, ...] = ()
    params: str | None = None

    @property
    def names(self) -> list[str]:
        """Column names in signature order."""
        return [c.name for c in self.columns]

    @property
    def dated(self) -> set[str]:
        """Names of the date and time columns."""
        return {c.name for c in self.columns if c.dated}

    @classmethod
    def from_signature(cls, signature: Any) -> InputSchema | None:
        """Read an MLflow signature: columns, or tensors; ``None`` when there is none."""
        if signature is None:
            return None
        params = None if signature.params is None else signature.params.to_json()
        inputs = signature.inputs
        if inputs is not None and inputs.is_tensor_spec():
            tensors = tuple(
                TensorSpec(
                    None if spec.name is None else str(spec.name),
                    str(spec.type.name),
                    tuple(int(d) for d in spec.shape),
                )
                for spec in inputs.inputs
            )
            return cls((), tensors, params)
        if inputs is None or not inputs.has_input_names():
            return None if params is None else cls((), (), params)
        cols = tuple(
            Column(
                str(spec.name),
                str(getattr(spec.type, "name", spec.type)),
                bool(getattr(spec, "required", True)),
            )
            for spec in inputs.inputs
        )
        return cls(cols, (), params)

    def with_facts(self, facts: Any) -> InputSchema:
        """The schema with training's ranges and categories (``lanza.inputs``) on its columns."""
        if not isinstance(facts, dict) or not facts:
            return self
        columns = []
        for column in self.columns:
            fact = facts.get(column.name)
            if not isinstance(fact, dict):
                columns.append(column)
                continue
            categories = fact.get("categories")
            seen = frozenset(map(str, categories)) if isinstance(categories, list) else None
            low, high = _float(fact.get("min")), _float(fact.get("max"))
            columns.append(replace(column, minimum=low, maximum=high, categories=seen))
        return InputSchema(tuple(columns))

    @property
    def has_facts(self) -> bool:
        """Whether training's ranges or categories are known for any column."""
        return any(c.categories is not None or c.minimum is not None for c in self.columns)


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
