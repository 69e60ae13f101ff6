"""Where a deployment goes on Google Cloud: project, region, image and its environment."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from lanza.cloud.bundle import MANIFEST
from lanza.cloud.commands import Script, command
from lanza.errors import InvalidInputError

REPOSITORY = "lanza"


@dataclass(frozen=True)
class CloudTarget:
    """A Google Cloud project and region, and the image built from a context."""

    project: str
    region: str
    context: Path
    image: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)

    @property
    def default_image(self) -> bool:
        """Whether the image lives in lanza's Artifact Registry repository (created if missing)."""
        return self.image is None

    def image_uri(self, deployment: str) -> str:
        """The image, by default ``REGION-docker.pkg.dev/PROJECT/lanza/NAME:DIGEST``."""
        if self.image is not None:
            return self.image
        digest = hashlib.sha256((self.context / MANIFEST).read_bytes()).hexdigest()[:12]
        return f"{self.region}-docker.pkg.dev/{self.project}/{REPOSITORY}/{deployment}:{digest}"

    @property
    def deploy_folder(self) -> Path:
        """Where the deploy files go (kept out of the image by ``.dockerignore``)."""
        folder = self.context / "deploy"
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def parse_pairs(values: list[str], what: str) -> dict[str, str]:
    """``KEY=VALUE`` flags as a dict; a flag without ``=`` is one sentence."""
    pairs: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"{what} '{value}' is not KEY=VALUE.")
        pairs[key] = rest
    return pairs


def add_repository(script: Script, target: CloudTarget) -> None:
    """Create lanza's Artifact Registry repository when the default image needs it."""
    if not target.default_image:
        return
    where = ["--location", target.region, "--project", target.project]
    describe = command("gcloud", "artifacts", "repositories", "describe", REPOSITORY, *where)
    create = command(
        "gcloud", "artifacts", "repositories", "create", REPOSITORY,
        "--repository-format", "docker", *where,
    )  # fmt: skip
    script.comment("Artifact Registry repository for lanza's images (once per region)")
    script.raw(f"{describe} >/dev/null 2>&1 || {create}")
