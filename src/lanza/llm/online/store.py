"""Evaluators and their scores in lanza's database: rules, time series, windows and arms."""

from __future__ import annotations

import builtins
import math
import time
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import func, insert, select

from lanza.errors import ConflictError, InvalidInputError, NotFoundError
from lanza.llm.online.spec import EvaluatorSpec
from lanza.llm.online.tables import EvaluatorRow, ScoreRow
from lanza.store import Database


def parse_evaluator(payload: dict[str, Any]) -> EvaluatorSpec:
    """An evaluator from user input, with a one-sentence error naming the field."""
    try:
        return EvaluatorSpec.model_validate(payload)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        prefix = f"Evaluator field '{where}': " if where else "Evaluator: "
        raise InvalidInputError(f"{prefix}{message}.") from exc


class EvaluatorStore:
    """Create, list and delete evaluators; record and summarise their scores."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def create(self, spec: EvaluatorSpec, replace: bool = False) -> EvaluatorSpec:
        """Add an evaluator; 409 if the name is taken (unless ``replace``)."""
        with self.database.session() as session:
            row = session.get(EvaluatorRow, spec.name)
            if row is not None and not replace:
                raise ConflictError(f"Evaluator '{spec.name}' exists already.")
            if row is None:
                session.add(
                    EvaluatorRow(name=spec.name, spec=spec.model_dump(), created_at=time.time())
                )
            else:
                row.spec = spec.model_dump()
        return spec

    def get(self, name: str) -> EvaluatorSpec:
        """One evaluator; 404 if missing."""
        with self.database.session() as session:
            row = session.get(EvaluatorRow, name)
            if row is None:
                raise NotFoundError(f"There is no evaluator named '{name}'.")
            return EvaluatorSpec.model_validate(row.spec)

    def list(self) -> builtins.list[EvaluatorSpec]:
        """Every evaluator, by name."""
        with self.database.session() as session:
            rows = session.scalars(select(EvaluatorRow).order_by(EvaluatorRow.name))
            return [EvaluatorSpec.model_validate(r.spec) for r in rows]

    def delete(self, name: str) -> None:
        """Remove an evaluator (its scores stay); 404 if missing."""
        with self.database.session() as session:
            row = session.get(EvaluatorRow, name)
            if row is None:
                raise NotFoundError(f"There is no evaluator named '{name}'.")
            session.delete(row)

    def record(self, rows: Sequence[dict[str, Any]]) -> None:
        """Write scores (``rule, trace_id, scorer, score, arm, at``)."""
        if rows:
            with self.database.session() as session:
                session.execute(insert(ScoreRow), list(rows))

    def scored(self, rule: str, trace_id: str) -> bool:
        """Whether an evaluator has scored a trace already."""
        with self.database.session() as session:
            stmt = select(ScoreRow.id).where(ScoreRow.rule == rule, ScoreRow.trace_id == trace_id)
            return session.scalar(stmt.limit(1)) is not None

    def window(self, rule: str, scorer: str, size: int) -> builtins.list[float]:
        """The latest ``size`` scores of one scorer, newest first."""
        stmt = (
            select(ScoreRow.score)
            .where(ScoreRow.rule == rule, ScoreRow.scorer == scorer)
            .order_by(ScoreRow.at.desc(), ScoreRow.id.desc())
            .limit(size)
        )
        with self.database.session() as session:
            return [float(s) for s in session.scalars(stmt)]

    def series(self, rule: str, since: float, bucket_s: float) -> builtins.list[dict[str, Any]]:
        """Mean and count per scorer and time bucket."""
        slot = func.floor(ScoreRow.at / bucket_s)
        stmt = (
            select(slot, ScoreRow.scorer, func.avg(ScoreRow.score), func.count())
            .where(ScoreRow.rule == rule, ScoreRow.at >= since)
            .group_by(slot, ScoreRow.scorer)
            .order_by(slot)
        )
        with self.database.session() as session:
            rows = session.execute(stmt).all()
        return [
            {"at": float(s) * bucket_s, "scorer": sc, "mean": float(m), "count": int(n)}
            for s, sc, m, n in rows
        ]

    def arms(self, rule: str, scorer: str) -> dict[str, Any]:
        """Mean per prompt version with a 95 % interval, and each arm against the first."""
        stmt = select(ScoreRow.arm, ScoreRow.score).where(
            ScoreRow.rule == rule, ScoreRow.scorer == scorer, ScoreRow.arm.is_not(None)
        )
        with self.database.session() as session:
            rows = session.execute(stmt).all()
        groups: dict[str, builtins.list[float]] = {}
        for label, score in rows:
            groups.setdefault(str(label), []).append(float(score))
        arms = [describe(name, values) for name, values in sorted(groups.items())]
        base = max(arms, key=lambda a: a["n"]) if arms else None
        for arm in arms:
            arm["vs_baseline"] = None if base is None or arm is base else difference(base, arm)
        return {"rule": rule, "scorer": scorer, "baseline": base and base["arm"], "arms": arms}


def t95(df: float) -> float:
    """The two-sided 95 % quantile of Student's t (few scores make wide intervals)."""
    from scipy.stats import t

    return float(t.ppf(0.975, df))


def describe(name: str, values: builtins.list[float]) -> dict[str, Any]:
    """Count, mean, standard error and 95 % interval (Student's t) of one arm; one score
    has no interval (``ci95`` is null)."""
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    se = math.sqrt(var / n)
    half = t95(n - 1) * se if n > 1 else None
    return {
        "arm": name,
        "n": n,
        "mean": mean,
        "se": se,
        "ci95": [mean - half, mean + half] if half is not None else None,
        "var": var,
    }


def difference(base: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """Other minus baseline, with a Welch 95 % interval; significant when it excludes 0.
    An arm of one score is compared with no interval, and never significant."""
    delta = other["mean"] - base["mean"]
    if base["n"] < 2 or other["n"] < 2:
        return {"delta": delta, "ci95": None, "significant": False}
    a, b = base["var"] / base["n"], other["var"] / other["n"]
    se = math.sqrt(a + b)
    if se == 0:  # both arms constant: their sizes give the degrees of freedom
        df = base["n"] + other["n"] - 2.0
    else:  # Welch-Satterthwaite
        df = (a + b) ** 2 / (a**2 / (base["n"] - 1) + b**2 / (other["n"] - 1))
    low, high = delta - t95(df) * se, delta + t95(df) * se
    return {"delta": delta, "ci95": [low, high], "significant": low > 0 or high < 0}
