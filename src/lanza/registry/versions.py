"""A registered model version as lanza shows it; plain data, so that reading one needs no MLflow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

ARCHIVED_TAG = "lanza.archived"


@dataclass(frozen=True)
class ModelVersionInfo:
    """One registered model version, as lanza shows it."""

    name: str
    version: str
    aliases: list[str]
    source: str
    run_id: str | None
    status: str
    description: str
    tags: dict[str, str]
    created_at: datetime

    @property
    def archived(self) -> bool:
        """Whether the version was archived (kept, but out of service)."""
        return self.tags.get(ARCHIVED_TAG) == "true"

    @property
    def ref(self) -> str:
        """``NAME/VERSION``."""
        return f"{self.name}/{self.version}"
