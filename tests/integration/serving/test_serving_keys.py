"""API keys: required once one exists, roles enforced, revocation honoured, audit written."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from lanza.security.keys import KeyStore
from lanza.server import create_app
from lanza.store.tables import AuditEntry
from lanza.workspace import Workspace
from tests.servers import running, wait_for

pytestmark = pytest.mark.slow


def test_roles_and_revocation(serving_workspace: Workspace) -> None:
    keys = KeyStore(serving_workspace.database)
    admin_info, admin = keys.create("ops", "admin")
    predictor_info, predictor = keys.create("app", "predict")
    reader_info, reader = keys.create("viewer", "read")
    spec = {"name": "c", "model": "cancer/1"}
    body = {"instances": [[1.0, 2.0, 0.1, 300.0]]}
    with (
        running(create_app(workspace=serving_workspace)) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):

        def auth(key: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {key}"}

        assert http.post("/api/v1/deployments", json=spec).status_code == 401
        wrong = http.post("/api/v1/deployments", json=spec, headers=auth("lz_nope"))
        assert wrong.status_code == 401
        low = http.post("/api/v1/deployments", json=spec, headers=auth(predictor))
        assert low.status_code == 403
        assert "needs a 'admin' key; this key is 'predict'" in low.json()["error"]["message"]
        assert http.post("/api/v1/deployments", json=spec, headers=auth(admin)).status_code == 201
        wait_for(
            lambda: (
                http.get("/api/v1/deployments/c", headers=auth(reader)).json()["status"] == "ready"
            )
        )
        assert http.get("/api/v1/deployments/c").status_code == 401
        assert (
            http.post("/api/v1/deployments/c/predict", json=body, headers=auth(reader)).status_code
            == 403
        )
        assert (
            http.post(
                "/api/v1/deployments/c/predict", json=body, headers={"x-api-key": predictor}
            ).status_code
            == 200
        )
        keys.revoke(reader_info.id)
        wait_for(lambda: http.get("/api/v1/deployments", headers=auth(reader)).status_code == 401)
        assert http.get("/healthz").status_code == 200
    with serving_workspace.database.session() as session:
        audit = session.scalars(select(AuditEntry)).all()
        assert [(a.actor, a.action, a.status) for a in audit] == [
            ("anonymous", "POST", 401),
            ("anonymous", "POST", 401),
            (f"app ({predictor_info.id})", "POST", 403),
            (f"ops ({admin_info.id})", "POST", 201),
        ]
    stored = [k.id for k in keys.list()]
    assert admin not in str(stored)
