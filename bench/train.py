"""Training: ``lanza train`` against FLAML's AutoML with the same time budget on the data zoo.

For each table of ``tests/zoo.py`` both tools get the same budget and the same metric
(lanza's default for the table: ROC AUC, average precision when imbalanced, macro F1,
RMSE) and cross-validate with 5 folds. Printed per table: each tool's CV score, lanza's
standard error, the wall time, the model's size pickled (for both tools the fitted
objects a prediction needs: lanza's pipeline with its preprocessing; FLAML's estimator
and data transformers; lanza's skops file, what it ships, beside it) and single-row
predict latency (median of 30 calls on one row, in this process). The last lines count
the tables where lanza is within one SE or better, faster to train, within its budget
(at most 10 % over), smaller and faster on one row. Tables run one after another in this process,
lanza first; all in one temporary LANZA_HOME whose database is set up before the first
table (a user's home after its first command). Run:

    .venv/bin/python bench/train.py --budget 30                  # every table, both tools
    .venv/bin/python bench/train.py --budget 30 --no-flaml --markdown docs/zoo.md
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import pickle
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.zoo import TABLES, ZooTable  # noqa: E402

# lanza's metric names to FLAML's, and whether FLAML's loss is ``1 - score``.
FLAML_METRICS = {
    "roc_auc": ("roc_auc", True),
    "average_precision": ("ap", True),
    "f1_macro": ("macro_f1", True),
    "rmse": ("rmse", False),
}
LATENCY_CALLS = 30


@dataclass
class Row:
    """One table's figures for one tool."""

    table: str
    tool: str
    metric: str
    score: float
    se: float | None
    seconds: float
    size_kb: float
    latency_ms: float
    pick: str
    best: str = ""
    best_score: float | None = None
    file_kb: float | None = None
    """lanza's skops file, what it registers (a zip of typed parts: larger than a pickle)."""


def latency_ms(predict: Any, one: pd.DataFrame) -> float:
    """Median milliseconds of ``predict(one)`` over 30 calls."""
    timings = []
    for _ in range(LATENCY_CALLS):
        began = time.perf_counter()
        predict(one)
        timings.append(time.perf_counter() - began)
    return float(np.median(timings) * 1000)


def run_lanza(table: ZooTable, frame: pd.DataFrame, budget: float, home: Path) -> Row:
    """Train with lanza in ``home``; figures from its leaderboard and the pick."""
    from lanza.settings import Settings
    from lanza.training.service import TrainRequest, train
    from lanza.workspace import Workspace

    workspace = Workspace(Settings(home=home))
    try:
        began = time.perf_counter()
        request = TrainRequest(frame, table.target, table.name, time_budget=budget)
        outcome = train(workspace, request)
        seconds = time.perf_counter() - began
    finally:
        workspace.close()
    from lanza.runtime.serialization import dump_model

    board = outcome.leaderboard
    pick = board.pick
    best = next(r for r in board.results if r.name == board.selection.best)
    one = outcome.data.features.iloc[:1]
    return Row(
        table.name,
        "lanza",
        board.metric.name,
        pick.mean,
        pick.std / math.sqrt(pick.folds),
        seconds,
        len(pickle.dumps(pick.model)) / 1024,
        latency_ms(pick.model.predict, one),
        pick.name,
        best.name,
        best.mean,
        len(dump_model(pick.model)) / 1024,
    )


def settle(home: Path) -> None:
    """A home as a user has it after the first command: MLflow's database set up.

    Its one-off setup (seconds of schema migrations, tens on a loaded machine) is no
    part of any table's training time.
    """
    from lanza.settings import Settings
    from lanza.workspace import Workspace

    workspace = Workspace(Settings(home=home))
    try:
        workspace.registry.check()
    finally:
        workspace.close()


def run_flaml(table: ZooTable, frame: pd.DataFrame, budget: float, metric: str) -> Row:
    """FLAML's AutoML with the same budget, metric and 5-fold cross-validation."""
    from flaml import AutoML

    from lanza.training.data import prepare

    data = prepare(frame, table.target)  # the same rows (labelled ones) and task
    x, y = frame.drop(columns=table.target), frame[table.target]
    labelled = y.notna()
    x, y = x[labelled].reset_index(drop=True), y[labelled].reset_index(drop=True)
    name, is_score = FLAML_METRICS[metric]
    automl = AutoML()
    began = time.perf_counter()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        automl.fit(
            x,
            y,
            task=data.task,
            metric=name,
            time_budget=budget,
            eval_method="cv",
            n_splits=5,
            verbose=0,
            seed=0,
        )
    seconds = time.perf_counter() - began
    loss = float(automl.best_loss)
    score = 1 - loss if is_score else loss
    parts = (automl.model, automl._transformer, automl._label_transformer)
    return Row(
        table.name,
        "flaml",
        metric,
        score,
        None,
        seconds,
        len(pickle.dumps(parts)) / 1024,
        latency_ms(automl.predict, x.iloc[:1]),
        str(automl.best_estimator),
    )


def print_rows(pairs: list[tuple[Row, Row | None]], budget: float) -> None:
    """Both tools side by side, and lanza's standing per table."""
    head = (
        f"{'table':<14}{'metric':<18}{'lanza':>10}{'± SE':>8}{'FLAML':>10}{'lanza s':>9}"
        f"{'FLAML s':>9}{'lanza KB':>10}{'FLAML KB':>10}{'lanza ms':>9}{'FLAML ms':>9}  verdict"
    )
    print(head)
    within = 0
    for ours, theirs in pairs:
        line = f"{ours.table:<14}{ours.metric:<18}{ours.score:>10.4f}{ours.se or 0:>8.4f}"
        if theirs is None:
            print(line + f"{'':>10}{ours.seconds:>9.1f}{'':>9}{ours.size_kb:>10,.0f}")
            continue
        verdict = standing(ours, theirs)
        within += verdict.startswith("within") or verdict.startswith("better")
        print(
            line + f"{theirs.score:>10.4f}{ours.seconds:>9.1f}{theirs.seconds:>9.1f}"
            f"{ours.size_kb:>10,.0f}{theirs.size_kb:>10,.0f}{ours.latency_ms:>9.2f}"
            f"{theirs.latency_ms:>9.2f}  {verdict} (lanza {ours.pick}, FLAML {theirs.pick})"
        )
    compared = [(o, t) for o, t in pairs if t is not None]
    if compared:
        n = len(compared)
        print(f"lanza within one SE of FLAML or better on {within} of {n} tables")
        print(f"less wall time than FLAML on {sum(o.seconds <= t.seconds for o, t in compared)}")
        print(f"smaller (pickled) on {sum(o.size_kb < t.size_kb for o, t in compared)}")
        print(f"faster on one row on {sum(o.latency_ms < t.latency_ms for o, t in compared)}")
    kept = sum(o.seconds <= 1.1 * budget for o, _ in pairs)
    print(f"lanza within 10 % of its {budget:g} s budget on {kept} of {len(pairs)} tables")


def standing(ours: Row, theirs: Row) -> str:
    """Better, within one standard error, or worse than FLAML on this table's metric."""
    higher = ours.metric != "rmse"
    gap = (ours.score - theirs.score) if higher else (theirs.score - ours.score)
    if gap >= 0:
        return "better"
    return "within 1 SE" if -gap <= (ours.se or 0.0) else "worse"


def markdown(pairs: list[tuple[Row, Row | None]], budget: float) -> str:
    """docs/zoo.md: per table, the pick, its score, the best's, wall time and size."""
    peer = any(t for _, t in pairs)
    lines = [
        "# The data zoo",
        "",
        "Every table of `tests/zoo.py`, trained by `lanza train` with a time budget of "
        f"{budget:g} s (5-fold cross-validation, lanza's default metric). Produced by "
        f"`python bench/train.py --budget {budget:g} --markdown docs/zoo.md`"
        + ("" if any(t for _, t in pairs) else " --no-flaml")
        + "; figures depend on the machine.",
        "",
        "| table | covers | metric | pick | score ± SE | best | best score | wall s |"
        " pickled KB | skops KB | ms/row |"
        + (" FLAML score | FLAML s | FLAML KB | FLAML ms/row |" if peer else ""),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
        + (" --- | --- | --- | --- |" if peer else ""),
    ]
    covers = {t.name: ", ".join(t.covers) for t in TABLES}
    for ours, theirs in pairs:
        row = (
            f"| {ours.table} | {covers[ours.table]} | {ours.metric} | {ours.pick} | "
            f"{ours.score:.4f} ± {ours.se or 0:.4f} | {ours.best} | {ours.best_score or 0:.4f} | "
            f"{ours.seconds:.1f} | {ours.size_kb:,.0f} | {ours.file_kb or 0:,.0f} | "
            f"{ours.latency_ms:.2f} |"
        )
        if theirs is not None:
            row += (
                f" {theirs.score:.4f} | {theirs.seconds:.1f} | {theirs.size_kb:,.0f} | "
                f"{theirs.latency_ms:.2f} |"
            )
        lines.append(row)
    return "\n".join(lines) + "\n"


def main() -> None:
    """Parse flags, run every table, print, and write the Markdown when asked."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=30.0, help="seconds per tool per table")
    parser.add_argument("--tables", default="", help="comma-separated subset of the zoo")
    parser.add_argument("--no-flaml", action="store_true", help="lanza only")
    parser.add_argument("--markdown", type=Path, help="write the zoo table here (docs/zoo.md)")
    args = parser.parse_args()
    chosen = [t for t in TABLES if not args.tables or t.name in args.tables.split(",")]
    pairs: list[tuple[Row, Row | None]] = []
    home = Path(tempfile.mkdtemp(prefix="lanza-bench-train-"))
    settle(home)
    for table in chosen:
        frame = table.load()
        ours = run_lanza(table, frame, args.budget, home)
        theirs = None if args.no_flaml else run_flaml(table, frame, args.budget, ours.metric)
        pairs.append((ours, theirs))
        print(f"{table.name}: done", file=sys.stderr, flush=True)
    print_rows(pairs, args.budget)
    if args.markdown:
        args.markdown.write_text(markdown(pairs, args.budget))


if __name__ == "__main__":
    main()
