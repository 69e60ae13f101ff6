"""The labelling queue on a real (sqlite) log: who comes first, and where answers go."""

from __future__ import annotations

import json

import pytest

from lanza.clock import utcnow
from lanza.errors import NotFoundError, ValidationError
from lanza.monitoring.feedback import FeedbackItem, FeedbackStore
from lanza.monitoring.tables import FeedbackRow, PredictionLogRow
from lanza.pages.labelling import LabellingQueue
from lanza.workspace import Workspace


def _log(ws: Workspace, request_id: str, p1: float, rows: int = 1, shadow: bool = False) -> None:
    with ws.database.session() as session:
        session.add(
            PredictionLogRow(
                request_id=request_id,
                deployment="d",
                model="m/1",
                face="native",
                created_at=utcnow(),
                features=json.dumps({"x": [p1] * rows}),
                prediction=json.dumps([int(p1 > 0.5)] * rows),
                probabilities=json.dumps([[1 - p1, p1]] * rows),
                classes=json.dumps([0, 1]),
                latency_ms=1.0,
                shadow=shadow,
            )
        )


@pytest.fixture
def queue(workspace: Workspace) -> LabellingQueue:
    for i in range(20):
        _log(workspace, f"r{i}", i / 20)  # r10 is the least sure (0.5), then r9 and r11
    _log(workspace, "multi", 0.5, rows=3)
    _log(workspace, "shadowed", 0.5, shadow=True)
    return LabellingQueue(workspace.database, FeedbackStore(workspace.database))


def test_least_confident_first_with_a_random_slice(queue: LabellingQueue) -> None:
    items = queue.items("d", size=10, random_share=0.2, seed=1)
    assert len(items) == 10
    unsure = [i for i in items if i.sample == "uncertain"]
    assert len(unsure) == 8
    first = [i.request_id for i in unsure][:3]
    assert first[0] == "r10"
    assert set(first[1:]) == {"r9", "r11"}
    confidences = [i.confidence for i in unsure]
    assert confidences == sorted(confidences)
    ids = {i.request_id for i in items}
    assert "multi" not in ids
    assert "shadowed" not in ids
    assert len(ids) == 10
    assert items[0].features == {"x": items[0].features["x"]}


def test_answers_become_feedback_and_agreement_is_counted(
    queue: LabellingQueue, workspace: Workspace
) -> None:
    queue.answer("d", "r10", "0", "uncertain", "ana")  # the model said 0 (p1 = 0.5)
    progress = queue.answer("d", "r18", "0", "random", "ana")  # the model said 1
    assert progress["labelled"] == 2
    assert progress["agreement"] == 0.5
    assert progress["random_labelled"] == 1
    assert progress["random_agreement"] == 0.0
    assert progress["waiting"] == 18
    with workspace.database.session() as session:
        stored = {r.request_id: r.value for r in session.query(FeedbackRow).all()}
    assert stored == {"r10": [0], "r18": [0]}
    assert "r10" not in {i.request_id for i in queue.items("d", size=30)}


def test_feedback_from_elsewhere_leaves_the_queue_too(queue: LabellingQueue) -> None:
    queue.feedback.record("d", [FeedbackItem(request_id="r10", value=[1])])
    assert "r10" not in {i.request_id for i in queue.items("d", size=30)}


def test_wrong_answers_are_refused(queue: LabellingQueue) -> None:
    with pytest.raises(ValidationError, match="not one of the model's classes"):
        queue.answer("d", "r1", "7", "uncertain", "ana")
    with pytest.raises(NotFoundError):
        queue.answer("d", "nope", "1", "uncertain", "ana")
