"""``train``: from a table on disk to a registered, aliased model, in one call."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from lanza.errors import InvalidInputError
from lanza.registry.references import parse_reference
from lanza.training.candidates import candidate_names
from lanza.training.data import Task, TrainingData, load_table, prepare
from lanza.training.metrics import resolve_metric
from lanza.training.tracking import TrainedModel, tracker
from lanza.training.trainer import Leaderboard, Progress, Trainer
from lanza.workspace import Workspace


@dataclass(frozen=True)
class TrainRequest:
    """What to train and how."""

    data: str | Path | pd.DataFrame
    target: str
    name: str
    task: Task | None = None
    metric: str | None = None
    time_budget: float | None = None
    folds: int | None = None
    candidates: list[str] | None = None
    promote: bool = False
    started: float | None = None
    """When the time budget began (``time.perf_counter``): the command's start; default now."""


RESERVE_S = 3.0
RESERVE_SHARE = 0.1
"""Kept from a time budget for tracking and registering the pick: seconds plus a share."""


@dataclass(frozen=True)
class TrainOutcome:
    """The leaderboard and what was registered."""

    data: TrainingData
    leaderboard: Leaderboard
    model: TrainedModel
    seconds: float = 0.0
    """Wall time from the start of the request (or command) to the registered model."""


def train(
    workspace: Workspace, request: TrainRequest, progress: Progress | None = None
) -> TrainOutcome:
    """Check the data and registry first, then train, track and register.

    Every check that can fail on user input runs before anything is written to MLflow,
    so a bad input leaves nothing half-registered.
    """
    started = time.perf_counter() if request.started is None else request.started
    parse_reference(f"{request.name}/1")
    if isinstance(request.data, pd.DataFrame):
        frame, source = request.data, "in-memory"
    else:
        frame, source = load_table(request.data), str(Path(request.data).resolve())
    folds = request.folds or workspace.settings.training.cv_folds
    data = prepare(frame, request.target, request.task, folds, source)
    metric = resolve_metric(
        request.metric, data.task, len(data.classes), data.imbalanced, data.positive
    )
    _check_candidates(request.candidates, data)
    workspace.registry.check()
    recorder = tracker(workspace)
    if request.time_budget is not None:
        recorder.warm_up(data)
    trainer = Trainer(
        metric,
        data.folds,
        workspace.settings.training.random_state,
        request.time_budget,
        request.candidates,
        reserve=RESERVE_S + RESERVE_SHARE * (request.time_budget or 0.0),
    )
    board = trainer.run(data, progress, started)
    data = replace(data, notes=(*data.notes, *board.notes))
    params = {"data": source, "folds": data.folds, "time_budget": request.time_budget}
    model = recorder.record(
        request.name,
        data,
        board,
        params,
        request.promote,
        workspace.settings.training.reference_rows,
    )
    return TrainOutcome(data, board, model, time.perf_counter() - started)


def _check_candidates(names: list[str] | None, data: TrainingData) -> None:
    if not names:
        return
    known = candidate_names(data.task)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InvalidInputError(
            f"Unknown candidate '{unknown[0]}' for {data.task}; choose from {', '.join(known)}."
        )
