"""The composition root: one place that turns ``Settings`` into connected components.

CLI commands and the HTTP app both build a ``Workspace`` once and take what they need
from it, so no module keeps a global client.
"""

from __future__ import annotations

import logging
import os
from functools import cached_property
from typing import TYPE_CHECKING

from lanza.runtime.loader import ModelLoader
from lanza.runtime.ready import ReadyCache
from lanza.settings import Settings

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from lanza.registry import Registry
    from lanza.store import Database

# Servers and batch jobs log their own progress; MLflow's download bars would only be noise.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
# MLflow announces schema migrations and similar on INFO; lanza reports what matters itself.
# MLflow sets its loggers' level as it is imported (later, now that imports are lazy), from
# this variable; the loop covers an MLflow imported before this module.
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
for _noisy in ("mlflow", "alembic", "alembic.runtime.migration"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)


class Workspace:
    """Lazily connected database, MLflow client, registry and loader for one ``Settings``.

    Each part is imported when first used: a batch job that loads a model already on
    disk never imports MLflow or SQLAlchemy (about 1.8 s and 100 MB on 2 cores).
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()

    @cached_property
    def database(self) -> Database:
        """lanza's database, migrated to the newest schema."""
        from lanza.store import Database

        if self.settings.database.startswith("sqlite"):
            self.settings.ensure_home()
        database = Database(self.settings.database)
        database.migrate()
        return database

    @cached_property
    def mlflow(self) -> MlflowClient:
        """An explicit MLflow client on the configured tracking and registry URI."""
        from mlflow.tracking import MlflowClient

        if self.settings.tracking.startswith("sqlite"):
            self.settings.ensure_home()
        uri = self.settings.tracking
        return MlflowClient(tracking_uri=uri, registry_uri=uri)

    @cached_property
    def registry(self) -> Registry:
        """The model registry with lanza's alias history."""
        from lanza.registry import AliasHistory, Registry

        actor = self.settings.actor or "unknown"
        return Registry(self.mlflow, AliasHistory(self.database), actor)

    def experiment_id(self, name: str) -> str:
        """The id of MLflow experiment ``name``, made under lanza's artifact root if missing."""
        from lanza.experiments import experiment_id

        assert self.settings.artifact_root is not None
        return experiment_id(self.mlflow, name, self.settings.artifact_root)

    @cached_property
    def loader(self) -> ModelLoader:
        """Loads registered model versions into runtimes."""
        ready_mb = self.settings.server.ready_cache_mb
        return ModelLoader(
            lambda: self.registry,
            self.settings.model_cache,
            self.settings.allow_pickle,
            self.settings.tracking,
            ReadyCache(self.settings.model_cache / ".ready", int(ready_mb * 2**20))
            if ready_mb
            else None,
        )

    def close(self) -> None:
        """Release database connections."""
        if "database" in self.__dict__:
            self.database.dispose()
