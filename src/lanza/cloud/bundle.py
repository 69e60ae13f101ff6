"""What a container carries: the deployment, its model versions and their environment.

``lanza-deployment.json`` (the bundle manifest) is read by ``lanza container-start``:
in ``bundle`` mode the model artifacts sit beside it and are registered into the
container's own stores at start; in ``registry`` mode the container pulls them from the
shared registry named by ``LANZA_TRACKING_URI``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from lanza.errors import InvalidInputError
from lanza.serving.spec import DeploymentSpec

MANIFEST = "lanza-deployment.json"
Source = Literal["bundle", "registry"]


class BundledModel(BaseModel):
    """One registered model version the deployment needs."""

    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    aliases: list[str] = Field(default_factory=list, description="Aliases that point at it.")
    tags: dict[str, str] = Field(default_factory=dict)
    description: str = ""
    path: str | None = Field(None, description="Artifacts folder, relative to the manifest.")
    reference: str | None = Field(None, description="Reference sample, relative to the manifest.")

    @property
    def ref(self) -> str:
        """``NAME/VERSION``."""
        return f"{self.name}/{self.version}"


class BundleManifest(BaseModel):
    """The deployment a container serves, and where its models come from."""

    model_config = ConfigDict(extra="forbid")

    format: int = 1
    lanza_version: str
    source: Source
    deployment: DeploymentSpec
    models: list[BundledModel]

    def save(self, folder: Path) -> Path:
        """Write ``lanza-deployment.json`` into ``folder``."""
        path = folder / MANIFEST
        path.write_text(json.dumps(self.model_dump(mode="json"), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: Path) -> BundleManifest:
        """Read a manifest; a missing or malformed file is one sentence."""
        if path.is_dir():
            path = path / MANIFEST
        try:
            return cls.model_validate_json(path.read_bytes())
        except FileNotFoundError as exc:
            raise InvalidInputError(f"There is no bundle manifest at {path}.") from exc
        except ValueError as exc:
            raise InvalidInputError(f"{path} is not a lanza bundle manifest: {exc}") from exc


def merge_requirements(sources: dict[str, list[str]]) -> list[str]:
    """One requirement list from several models' ``requirements.txt``; conflicting pins fail."""
    chosen: dict[str, tuple[str, str]] = {}
    for origin, lines in sources.items():
        for line in lines:
            text = line.split("#", 1)[0].strip()
            if not text or text.startswith("-"):
                continue
            key = _package(text)
            if key in chosen and chosen[key][0].lower() != text.lower():
                raise InvalidInputError(
                    f"{chosen[key][1]} needs {chosen[key][0]} but {origin} needs {text}; "
                    "serve them from separate containers."
                )
            chosen.setdefault(key, (text, origin))
    return [text for text, _ in chosen.values()]


def _package(requirement: str) -> str:
    for stop in "=<>!~[; @":
        requirement = requirement.split(stop, 1)[0]
    return requirement.strip().lower().replace("_", "-")
