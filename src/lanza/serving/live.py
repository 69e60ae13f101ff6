"""A deployment as it runs: loaded routes with their batchers, the shadow, and its status."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from lanza.clock import utcnow
from lanza.errors import NotFoundError
from lanza.runtime.loader import LoadedModel
from lanza.serving.batcher import MicroBatcher
from lanza.serving.spec import DeploymentSpec

Status = Literal["loading", "ready", "failed", "unloaded"]


@dataclass
class Variant:
    """One loaded model reference of a deployment, with its share of traffic."""

    reference: str
    weight: float
    loaded: LoadedModel
    batcher: MicroBatcher

    @property
    def version(self) -> str:
        """``NAME/VERSION`` that answers."""
        return self.loaded.version.ref

    @property
    def device(self) -> str:
        """Where the model runs: ``cpu`` or ``cuda``."""
        return self.loaded.runtime.device


@dataclass
class LiveDeployment:
    """What a server process holds for one deployment."""

    spec: DeploymentSpec
    generation: int
    status: Status = "loading"
    error: str | None = None
    variants: list[Variant] = field(default_factory=list)
    shadow: Variant | None = None
    loaded_at: datetime | None = None
    last_swap_error: str | None = None
    swapping: bool = False
    refused: int = 0  # a generation refused for its signature, not retried

    @property
    def unavailable(self) -> str | None:
        """Why it cannot answer a request now, in one sentence; ``None`` when it can.

        The one readiness rule: an on-demand deployment that is not resident answers (its
        first request loads it); any other answers once loaded, and swaps keep it answering.
        """
        if self.spec.residency == "on_demand" and self.status in ("unloaded", "loading"):
            return None
        if self.status == "loading":
            return f"Deployment '{self.spec.name}' is still loading; retry shortly."
        if self.status == "failed":
            return f"Deployment '{self.spec.name}' failed to load: {self.error}"
        return None

    def pick(self, sticky: str | None = None, version: str | None = None) -> Variant:
        """A route by weight; the same sticky value always gets the same route.

        ``version`` (a model version number a v2 client named) picks the route serving it,
        whatever the weights; a 404 when none does.
        """
        if version:
            for variant in self.variants:
                if variant.loaded.version.version == version:
                    return variant
            served = [v.loaded.version.version for v in self.variants]
            raise not_served(self.spec.name, version, served)
        if len(self.variants) == 1:
            return self.variants[0]
        total = sum(v.weight for v in self.variants)
        if sticky is not None:
            digest = hashlib.sha256(sticky.encode()).digest()
            point = int.from_bytes(digest[:8], "big") / 2**64 * total
        else:
            point = random.random() * total
        for variant in self.variants:
            point -= variant.weight
            if point < 0:
                return variant
        return self.variants[-1]

    def describe(self) -> dict[str, object]:
        """Status for the API and the CLI."""
        total = sum(v.weight for v in self.variants) or 1.0
        return {
            "name": self.spec.name,
            "status": self.status,
            "error": self.error,
            "last_swap_error": self.last_swap_error,
            "serving": [
                {
                    "reference": v.reference,
                    "version": v.version,
                    "weight": round(v.weight / total, 4),
                    "device": v.loaded.runtime.device,
                    "load_seconds": round(v.loaded.load_seconds, 3),
                }
                for v in self.variants
            ],
            "device_requested": self.spec.device,
            "shadow": None if self.shadow is None else self.shadow.version,
            "loaded_at": self.loaded_at.isoformat() if self.loaded_at else None,
            "generation": self.generation,
        }


def not_served(name: str, version: str, served: list[str]) -> NotFoundError:
    """The 404 for a version the deployment does not serve, naming those it does."""
    listed = ", ".join(sorted(served))
    return NotFoundError(f"Model '{name}' does not serve version {version} (it serves {listed}).")


def failed(spec: DeploymentSpec, generation: int, reason: str) -> LiveDeployment:
    """A deployment that could not load, with the reason."""
    return LiveDeployment(spec, generation, status="failed", error=reason, loaded_at=utcnow())
