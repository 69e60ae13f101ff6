"""The OpenAPI document's links name operations it has, with the parameters they take;
prediction routes document the header that carries input flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lanza.server import create_app
from lanza.settings import Settings
from lanza.workspace import Workspace


def _document(tmp_path: Path) -> dict[str, Any]:
    ws = Workspace(Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path}/lanza.db"))
    try:
        return create_app(workspace=ws).openapi()
    finally:
        ws.close()


def test_every_link_names_an_operation_and_fills_its_path(tmp_path: Path) -> None:
    document = _document(tmp_path)
    operations = {
        operation["operationId"]: operation
        for methods in document["paths"].values()
        for operation in methods.values()
    }
    links = {
        (method, path): response["links"]
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
        for response in operation["responses"].values()
        if "links" in response
    }
    assert len(links) >= 6
    for source, named in links.items():
        for name, link in named.items():
            target = operations[link["operationId"]]
            wanted = {p["name"] for p in target.get("parameters", []) if p["in"] == "path"}
            assert set(link["parameters"]) == wanted, (source, name)
            assert all(v.startswith("$response.body#/") for v in link["parameters"].values())
    created = {link["operationId"] for link in links[("post", "/api/v1/deployments")].values()}
    for method in ("get", "put", "delete"):
        item = document["paths"]["/api/v1/deployments/{name}"][method]["operationId"]
        assert item in created


def test_prediction_routes_document_the_flags_header(tmp_path: Path) -> None:
    paths = _document(tmp_path)["paths"]
    for path in ("/invocations", "/deployments/{name}/invocations", "/v2/models/{name}/infer"):
        assert "lanza-warnings" in paths[path]["post"]["responses"]["200"]["headers"], path
