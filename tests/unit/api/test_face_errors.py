"""A face declares its error shape beside its routes, and every error on its paths uses it."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from lanza.api.errors import face_errors, install_error_handlers
from lanza.errors import NotFoundError


def _plain(status: int, code: str, message: str) -> dict[str, Any]:
    return {"problem": message, "status": status}


def _narrow(status: int, code: str, message: str) -> dict[str, Any]:
    return {"narrow": code}


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/plain/things/{name}")
    async def thing(name: str) -> dict[str, str]:
        raise NotFoundError(f"There is no thing named '{name}'.")

    @app.get("/api/v1/things/{name}")
    async def native(name: str) -> dict[str, str]:
        raise NotFoundError(f"There is no thing named '{name}'.")

    face_errors(app, ("/plain/",), _plain)
    face_errors(app, ("/plain/things/special",), _narrow)
    return app


def test_a_face_answers_its_own_shape_for_route_and_router_errors() -> None:
    client = TestClient(_app())
    raised = client.post("/plain/things/x")
    assert raised.status_code == 404
    assert raised.json() == {"problem": "There is no thing named 'x'.", "status": 404}
    # The router's own 405 and 404 on the face's paths come in the face's shape too.
    wrong_method = client.get("/plain/things/x")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["problem"] == "GET is not allowed on /plain/things/x."
    assert client.get("/plain/nothing").json()["status"] == 404


def test_the_longest_prefix_wins_and_other_paths_keep_lanzas_shape() -> None:
    client = TestClient(_app())
    assert client.post("/plain/things/special").json() == {"narrow": "not_found"}
    native = client.get("/api/v1/things/x").json()
    assert native == {
        "error": {"code": "not_found", "message": "There is no thing named 'x'.", "status": 404}
    }
