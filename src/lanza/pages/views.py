"""The pages themselves: plain HTML, CSS and JavaScript from ``lanza/pages/static``.

No CDN and no build step, so they work without internet. Every page is the same shell;
``pages.js`` draws the right one from the path and calls the API with the key the
dashboard keeps in the browser (``localStorage.lanzaKey``), if any.

=====================================================  =========================
path                                                   page
=====================================================  =========================
/deployments/{name}                                    predict form
/deployments/{name}/upload                             upload a CSV or Excel file
/deployments/{name}/label                              labelling queue
/models/{name}/versions/{version}/card                 model card
/models/{name}/versions/{version}/card.md | card.html  card downloads (role read)
=====================================================  =========================
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from lanza.api.auth import require
from lanza.pages.card_text import to_html, to_markdown
from lanza.web import assets, page

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Mount the assets and the page routes."""
    assets(app).add("pages", STATIC)
    html = page(
        "pages", script="/static/pages/pages.js", styles=("/static/pages/pages.css",), nav=False
    )

    def shell() -> HTMLResponse:
        return HTMLResponse(html)

    @app.get("/deployments/{name}", include_in_schema=False)
    async def predict_page(name: str) -> HTMLResponse:
        return shell()

    @app.get("/deployments/{name}/upload", include_in_schema=False)
    async def upload_page(name: str) -> HTMLResponse:
        return shell()

    @app.get("/deployments/{name}/label", include_in_schema=False)
    async def label_page(name: str) -> HTMLResponse:
        return shell()

    @app.get("/models/{name}/versions/{version}/card", include_in_schema=False)
    async def card_page(name: str, version: str) -> HTMLResponse:
        return shell()

    @app.get(
        "/models/{name}/versions/{version}/card.md",
        dependencies=[Depends(require("read"))],
        summary="A model card as Markdown",
        tags=["pages"],
    )
    async def card_markdown(name: str, version: str, request: Request) -> Response:
        card = await asyncio.to_thread(request.app.state.pages.cards.build, name, version)
        return _download(to_markdown(card), "text/markdown", f"{name}-{version}-card.md")

    @app.get(
        "/models/{name}/versions/{version}/card.html",
        dependencies=[Depends(require("read"))],
        summary="A model card as one HTML file",
        tags=["pages"],
    )
    async def card_html(name: str, version: str, request: Request) -> Response:
        card = await asyncio.to_thread(request.app.state.pages.cards.build, name, version)
        return _download(to_html(card), "text/html", f"{name}-{version}-card.html")


def _download(text: str, media: str, filename: str) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(text, media_type=f"{media}; charset=utf-8", headers=headers)
