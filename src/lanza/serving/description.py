"""What the data plane says of a deployment besides its predictions: whether it is ready,
and what it takes and answers.

Every face reports these records in its own shape (Open Inference model ready and
metadata over REST and gRPC, MLflow's ``/ping``, Vertex AI's health route, ``/readyz``),
so no two faces can disagree about a deployment. The records name a model's own types
(MLflow column types, numpy dtypes); a face maps them to its protocol's.
"""

from __future__ import annotations

from dataclasses import dataclass

from lanza.errors import LanzaError, UnavailableError
from lanza.registry.references import parse_reference
from lanza.serving.live import LiveDeployment, Status

LOADABLE = "unloaded; loads on its first request"


@dataclass(frozen=True)
class ModelReadiness:
    """Whether a deployment answers a request now, or by loading on it (on demand)."""

    name: str
    ready: bool
    status: Status
    versions: list[str]  # the version numbers its routes serve, when resident
    reason: str | None  # when not ready, why, in one sentence
    error: str | None  # its last load failure

    @property
    def resident(self) -> bool:
        """Its models are loaded in this process."""
        return self.status == "ready"

    @property
    def note(self) -> str | None:
        """Its load error, or that it loads on its first request; else ``None``."""
        if self.error:
            return self.error
        return LOADABLE if self.status == "unloaded" else None

    def check(self) -> None:
        """503 with the reason when it does not answer."""
        if not self.ready:
            raise UnavailableError(self.reason or f"Deployment '{self.name}' is not ready.")


@dataclass(frozen=True)
class ServerReadiness:
    """Whether every deployment answers, with a line that says which do not."""

    ready: bool
    detail: str
    models: list[ModelReadiness]


@dataclass(frozen=True)
class Tensor:
    """One input or output as the model declares it.

    ``dtype`` is the MLflow column type for a column (``column``), else a numpy dtype;
    ``None`` when the model does not say before answering. ``shape`` has -1 where any
    size goes (the first dimension is the rows).
    """

    name: str
    dtype: str | None
    shape: tuple[int, ...]
    column: bool = False


@dataclass(frozen=True)
class ModelDescription:
    """What a deployment serves: versions, runtime, inputs, outputs and batch size.

    A deployment that is not resident (on demand, or still loading) has no versions and
    no inputs yet: they are read from the model when it loads.
    """

    name: str
    versions: list[str]
    platform: str
    inputs: list[Tensor]
    outputs: list[Tensor]
    max_batch_size: int


def readiness(live: LiveDeployment) -> ModelReadiness:
    """The one readiness rule (``LiveDeployment.unavailable``), as a record."""
    reason = live.unavailable
    return ModelReadiness(
        live.spec.name,
        reason is None,
        live.status,
        [v.loaded.version.version for v in live.variants],
        reason,
        live.error,
    )


def server_readiness(models: list[ModelReadiness]) -> ServerReadiness:
    """Ready when every deployment answers; the detail counts them or names those waiting."""
    waiting = [f"{m.name}: {m.status}" for m in models if not m.ready]
    loaded = sum(1 for m in models if m.ready and m.resident)
    loadable = sum(1 for m in models if m.ready and not m.resident)
    summary = f"{loaded} deployments loaded, {loadable} loadable on demand"
    return ServerReadiness(not waiting, "; ".join(waiting) or summary, models)


def description(live: LiveDeployment) -> ModelDescription:
    """Inputs as the model takes them, outputs as the data plane answers them."""
    runtime = live.variants[0].loaded.runtime if live.variants else None
    inputs: list[Tensor] = []
    output: str | None = None
    if runtime is not None:
        schema, output = runtime.schema, runtime.output_dtype
        if schema.tensors:
            inputs = [Tensor(t.label, t.dtype, t.shape) for t in schema.tensors]
        else:
            inputs = [Tensor(c.name, c.type, (-1,), column=True) for c in schema.columns]
    return ModelDescription(
        live.spec.name,
        [v.loaded.version.version for v in live.variants],
        "lanza-" + (runtime.__class__.__name__.lower() if runtime else "loading"),
        inputs,
        [Tensor("predict", output, (-1,))],
        live.spec.max_batch_size,
    )


def pinned(live: LiveDeployment) -> list[str] | None:
    """The version numbers its references pin (``NAME/VERSION``), known before it loads;
    ``None`` when a route names an alias or a URI, resolved only as it loads."""
    versions = []
    for route in live.spec.routes:
        try:
            version = parse_reference(route.model).version
        except LanzaError:
            return None
        if version is None:
            return None
        versions.append(version)
    return versions
