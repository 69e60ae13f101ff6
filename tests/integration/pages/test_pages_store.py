"""Pages tables on sqlite and Postgres: card edits and queue answers survive a new connection."""

from __future__ import annotations

import json

from lanza.clock import utcnow
from lanza.monitoring.feedback import FeedbackStore
from lanza.monitoring.tables import PredictionLogRow
from lanza.pages.labelling import LabellingQueue
from lanza.pages.tables import ModelCardRow
from lanza.store import Database
from lanza.workspace import Workspace


def test_card_edits_and_answers_are_stored(any_workspace: Workspace) -> None:
    database = any_workspace.database
    with database.session() as session:
        session.add(
            ModelCardRow(
                name="m",
                version="1",
                owners=["ana", "li"],
                intended_use="triage",
                limitations="",
                updated_by="owner",
                updated_at=utcnow(),
            )
        )
        session.add(
            PredictionLogRow(
                request_id="r1",
                deployment="d",
                model="m/1",
                face="pages",
                created_at=utcnow(),
                features=json.dumps({"x": [1.0]}),
                prediction=json.dumps(["yes"]),
                probabilities=json.dumps([[0.4, 0.6]]),
                classes=json.dumps(["no", "yes"]),
                latency_ms=1.0,
                shadow=False,
            )
        )
    LabellingQueue(database, FeedbackStore(database)).answer("d", "r1", "yes", "random", "ana")
    again = Database(any_workspace.settings.database)
    try:
        with again.session() as session:
            card = session.get(ModelCardRow, ("m", "1"))
            assert card is not None
            assert card.owners == ["ana", "li"]
        progress = LabellingQueue(again, FeedbackStore(again)).progress("d")
        assert progress["random_agreement"] == 1.0
        assert progress["waiting"] == 0
    finally:
        again.dispose()
