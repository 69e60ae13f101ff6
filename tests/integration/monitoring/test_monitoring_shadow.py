"""A shadow model's answers are logged beside the served ones, under the same request id."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select

from lanza.monitoring.tables import PredictionLogRow
from lanza.settings import Settings
from lanza.store import Database
from tests.integration.monitoring.conftest import FEATURES, Serve, predict
from tests.servers import wait_for


def test_shadow_answers_are_logged_with_the_request_id(
    serve: Serve, cancer: pd.DataFrame, monitored_settings: Settings
) -> None:
    with serve() as http:
        updated = http.put(
            "/api/v1/deployments/c", json={"model": "cancer/1", "shadow": "cancer/1"}
        )
        assert updated.status_code == 200, updated.text
        wait_for(lambda: http.get("/api/v1/deployments/c").json().get("shadow") == "cancer/1")
        wait_for(lambda: http.get("/api/v1/deployments/c").json()["status"] == "ready")
        answers = predict(http, cancer[FEATURES].head(12))
        ids = {a["request_id"] for a in answers}

        database = Database(monitored_settings.database)

        def logged() -> list[PredictionLogRow]:
            with database.session() as session:
                query = select(PredictionLogRow).where(PredictionLogRow.request_id.in_(ids))
                return list(session.scalars(query).all())

        try:
            wait_for(lambda: len(logged()) == 24)
            rows = logged()
        finally:
            database.dispose()
    served = {r.request_id: r for r in rows if not r.shadow}
    shadowed = {r.request_id: r for r in rows if r.shadow}
    assert set(served) == set(shadowed) == ids
    for request_id, row in served.items():
        assert shadowed[request_id].prediction == row.prediction
        assert shadowed[request_id].features == row.features
        assert shadowed[request_id].probabilities is not None
