"""The serving component: deployments, the data plane, and the faces that reach it."""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from lanza.api.component import Component
from lanza.errors import NotFoundError
from lanza.serving.dataplane import DataPlane
from lanza.serving.manager import DeploymentManager
from lanza.serving.metrics import ServingMetrics
from lanza.serving.residency import ResidencyBook, ResidencyMetrics
from lanza.serving.store import DeploymentStore
from lanza.workspace import Workspace


class ServingComponent(Component):
    """Owns the deployment manager and data plane; installs native and compatibility faces."""

    name = "serving"

    def __init__(self, workspace: Workspace, registry: CollectorRegistry) -> None:
        settings = self.settings = workspace.settings
        self.metrics = ServingMetrics(registry)
        self.store = DeploymentStore(workspace.database)
        self.manager = DeploymentManager(
            self.store,
            workspace.loader,
            self.metrics,
            settings.server.poll_interval_s,
            ResidencyBook(
                ResidencyMetrics(registry),
                settings.server.model_memory_mb,
                settings.server.model_idle_s,
                settings.server.workers,
            ),
        )
        self.dataplane = DataPlane(
            self.manager,
            self.metrics,
            settings.server.request_timeout_s,
            settings.server.max_rows_per_request,
        )

    def default_deployment(self) -> str:
        """The deployment that un-prefixed routes (MLflow, Vertex AI) serve.

        The one the ``serve_deployment`` setting names (``LANZA_SERVE_DEPLOYMENT``, set by
        ``lanza package`` and the cloud targets), else the only deployment on the server.
        """
        named = self.settings.serve_deployment
        if named:
            return named
        live = self.manager.all()
        if len(live) == 1:
            return live[0].spec.name
        if not live:
            raise NotFoundError("No deployment is served yet; create one first.")
        raise NotFoundError(
            "This server holds several deployments; call /deployments/{name}/invocations."
        )

    def install(self, app: FastAPI) -> None:
        from lanza.serving.faces import installers

        app.state.serving = self
        for install in installers():  # every face under serving/faces, found there
            install(app)

    async def start(self) -> None:
        await self.manager.start()

    async def stop(self) -> None:
        await self.manager.stop()

    def readiness(self) -> tuple[bool, str]:
        ready = self.dataplane.server_ready()  # what every face reports
        return ready.ready, ready.detail
