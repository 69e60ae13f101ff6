"""The manager's sync with the store: a deployment created meanwhile is kept."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from prometheus_client import CollectorRegistry

from lanza.serving.manager import DeploymentManager
from lanza.serving.metrics import ServingMetrics
from lanza.serving.spec import DeploymentSpec
from lanza.serving.store import DeploymentStore, StoredDeployment
from lanza.settings import Settings
from lanza.workspace import Workspace


def test_a_deployment_created_while_the_store_is_read_is_not_retired(tmp_path: Path) -> None:
    """Two servers on one database: a sync must not drop what this one just created."""
    workspace = Workspace(Settings(home=tmp_path))
    store = DeploymentStore(workspace.database)
    manager = DeploymentManager(store, workspace.loader, ServingMetrics(CollectorRegistry()))
    read, created = threading.Event(), threading.Event()
    real_list = store.list

    def list_then_wait() -> list[StoredDeployment]:
        snapshot = real_list()  # read before the deployment exists
        read.set()
        created.wait(10)
        return snapshot

    async def scenario() -> None:
        store.list = list_then_wait  # type: ignore[method-assign]
        sync = asyncio.create_task(manager.sync())
        await asyncio.to_thread(read.wait, 10)
        live = await manager.create(DeploymentSpec(name="d", model="m/1"))
        created.set()
        await sync
        assert manager.get("d") is live
        await manager.stop()

    asyncio.run(scenario())
    workspace.close()
