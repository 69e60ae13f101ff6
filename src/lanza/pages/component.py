"""The pages component: predict form, upload, labelling queue and model cards.

It takes the serving component's data plane (every prediction a page makes goes
through it, so it is logged and monitored like any other) and the monitoring
component's feedback store and reference cache, so it is built after both.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import FastAPI

from lanza.api.component import Component
from lanza.errors import UnavailableError
from lanza.monitoring.component import MonitoringComponent
from lanza.monitoring.feedback import FeedbackStore
from lanza.monitoring.reference import Reference, ReferenceCache
from lanza.pages.card import ModelCards
from lanza.pages.form import Form, build_form
from lanza.pages.labelling import LabellingQueue
from lanza.pages.upload import Uploads
from lanza.serving.component import ServingComponent
from lanza.serving.live import LiveDeployment, Variant
from lanza.workspace import Workspace

log = logging.getLogger("lanza.pages")


class PagesComponent(Component):
    """Pages for people who don't code, and the JSON API behind them."""

    name = "pages"

    def __init__(
        self,
        workspace: Workspace,
        serving: ServingComponent,
        monitoring: MonitoringComponent | None = None,
    ) -> None:
        self.workspace = workspace
        self.serving = serving
        self.monitoring = monitoring
        self.references = (
            monitoring.monitor.references if monitoring is not None else ReferenceCache(workspace)
        )
        feedback = (
            monitoring.feedback if monitoring is not None else FeedbackStore(workspace.database)
        )
        self.labelling = LabellingQueue(workspace.database, feedback)
        self.cards = ModelCards(workspace, serving, monitoring)
        server = workspace.settings.server
        self._app: FastAPI | None = None
        self.uploads = Uploads(
            workspace.settings.home / "pages" / "uploads",
            serving.dataplane,
            server.max_rows_per_request,
            server.max_rows_per_request,
            self._batch,
        )

    def install(self, app: FastAPI) -> None:
        from lanza.pages import routes, views

        self._app = app
        app.state.pages = self
        app.include_router(routes.router(), prefix="/api/v1")
        views.install(app)

    async def start(self) -> None:
        days = self.workspace.settings.monitoring.retention_days
        try:
            removed = await asyncio.to_thread(self.uploads.purge, days * 86_400)
        except OSError:
            log.exception("old uploads could not be deleted")
            return
        if removed:
            log.info("deleted %d uploads older than %g days", removed, days)

    def _batch(self) -> Any:
        return getattr(self._app.state, "batch", None) if self._app is not None else None

    def variant(self, deployment: str, live: LiveDeployment | None = None) -> Variant:
        """The route that takes most of a deployment's traffic (503 while it loads)."""
        live = live or self.serving.manager.serving(deployment)
        if not live.variants:
            raise UnavailableError(f"Deployment '{deployment}' is not loaded yet; retry shortly.")
        return max(live.variants, key=lambda v: v.weight)

    def reference(self, model: str) -> Reference | None:
        """The reference sample of ``NAME/VERSION``, or ``None`` when it has none."""
        try:
            return self.references.get(model)
        except Exception:
            return None

    async def loaded_form(self, deployment: str) -> tuple[Form, Variant]:
        """The predict form of a deployment, an on-demand one loaded first (a 503 that says
        why when its load fails)."""
        live = await self.serving.manager.resident(deployment)
        return await asyncio.to_thread(self.form, deployment, live)

    def form(self, deployment: str, live: LiveDeployment | None = None) -> tuple[Form, Variant]:
        """The predict form of a deployment, and the route it describes."""
        variant = self.variant(deployment, live)
        runtime = variant.loaded.runtime
        form = build_form(
            deployment, variant.version, runtime.schema, self.reference(variant.version)
        )
        return form, variant
