"""What the Open Inference Protocol v2 faces share, over REST and over gRPC.

Models are deployments; a version, when named, must be one that serves. Metadata, the
Triton model config and the repository index are read here, and one decoded inference
request (the REST JSON shape, tensors with ``data`` or ``_binary``) becomes one call on
the data plane.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lanza.errors import InvalidInputError, NotFoundError
from lanza.runtime.base import ModelRuntime
from lanza.runtime.schema import InputSchema
from lanza.serving import v2
from lanza.serving.dataplane import InferenceRequest, InferenceResponse
from lanza.serving.live import LiveDeployment

if TYPE_CHECKING:
    from lanza.serving.component import ServingComponent

COLUMN_TYPES = {
    "double": "FP64",
    "float": "FP32",
    "long": "INT64",
    "integer": "INT32",
    "boolean": "BOOL",
    "string": "BYTES",
    "binary": "BYTES",
}


def model(component: ServingComponent, name: str, version: str | None) -> LiveDeployment:
    """The deployment named ``name``; a 404 when ``version`` is named and does not serve."""
    live = component.manager.get(name)
    if version and live.status == "ready":
        served = {v.loaded.version.version for v in live.variants}
        if version not in served:
            raise NotFoundError(
                f"Model '{name}' does not serve version {version} "
                f"(it serves {', '.join(sorted(served))})."
            )
    return live


def _runtime(live: LiveDeployment) -> ModelRuntime | None:
    return live.variants[0].loaded.runtime if live.variants else None


def metadata(live: LiveDeployment) -> dict[str, Any]:
    """Model metadata: inputs as the model takes them, outputs as infer answers them."""
    runtime = _runtime(live)
    return {
        "name": live.spec.name,
        "versions": [v.loaded.version.version for v in live.variants],
        "platform": "lanza-" + (runtime.__class__.__name__.lower() if runtime else "loading"),
        "inputs": [] if runtime is None else input_metadata(runtime.schema),
        "outputs": [{"name": "predict", "datatype": output_datatype(runtime), "shape": [-1]}],
    }


def input_metadata(schema: InputSchema) -> list[dict[str, Any]]:
    """The model's inputs as v2 tensor metadata: one per column, or its tensors."""
    if schema.tensors:
        return [
            {"name": t.label, "datatype": v2.datatype_of(t.dtype), "shape": list(t.shape)}
            for t in schema.tensors
        ]
    return [
        {"name": c.name, "datatype": COLUMN_TYPES.get(c.type, "BYTES"), "shape": [-1]}
        for c in schema.columns
    ]


def output_datatype(runtime: ModelRuntime | None) -> str:
    """The datatype infer answers for ``predict``, when the model says before answering."""
    if runtime is None or runtime.output_dtype is None:
        return "BYTES"
    return v2.datatype(runtime.output_dtype)


def config(live: LiveDeployment) -> dict[str, Any]:
    """Triton's model configuration (what ``get_model_config`` reads)."""
    meta = metadata(live)
    batched = live.spec.max_batch_size

    def tensor(t: dict[str, Any]) -> dict[str, Any]:
        dims = t["shape"][1:] or [1]
        return {"name": t["name"], "data_type": "TYPE_" + _config_type(t["datatype"]), "dims": dims}

    return {
        "name": live.spec.name,
        "platform": meta["platform"],
        "backend": "lanza",
        "max_batch_size": batched,
        "input": [tensor(t) for t in meta["inputs"]],
        "output": [tensor(t) for t in meta["outputs"]],
    }


def _config_type(datatype: str) -> str:
    return "STRING" if datatype == "BYTES" else datatype


def repository(component: ServingComponent, ready_only: bool = False) -> list[dict[str, str]]:
    """The repository index: every deployment with the version it serves and its state."""
    index = []
    for live in component.manager.all():
        ready = live.status == "ready"
        if ready_only and not ready:
            continue
        entry = {
            "name": live.spec.name,
            "version": live.variants[0].loaded.version.version if live.variants else "",
            "state": {"ready": "READY", "loading": "LOADING"}.get(live.status, "UNAVAILABLE"),
        }
        if live.error:
            entry["reason"] = live.error
        elif live.status == "unloaded":
            entry["reason"] = "unloaded; loads on its first request"
        index.append(entry)
    return index


@dataclass
class Inference:
    """An answered v2 request: the data plane's response and the outputs asked for."""

    response: InferenceResponse
    outputs: list[dict[str, Any]]

    @property
    def version(self) -> str:
        """The version that answered."""
        return self.response.model.rsplit("/", 1)[-1]


async def infer(
    component: ServingComponent,
    name: str,
    version: str | None,
    body: dict[str, Any],
    request_id: str,
    face: str = "v2",
) -> Inference:
    """One decoded v2 request through the data plane.

    The tensors are decoded against the schema of the route that will answer: the
    requested version's when one is named, else the first route's (routes of one
    deployment must share a signature, which swaps enforce).
    """
    await component.manager.find(name)  # a deployment another worker just made too
    live = model(component, name, version)
    # An on-demand deployment that is not resident loads here (the data plane then finds it).
    resident = await component.manager.resident(name)
    schema = resident.pick(version=version).loaded.runtime.schema if version else None
    schema = schema or resident.variants[0].loaded.runtime.schema
    payload = v2.to_payload(body, schema)
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise InvalidInputError("'parameters' must be an object.")
    wanted = [o.get("name") for o in body.get("outputs") or [] if isinstance(o, dict)]
    probabilities = "predict_proba" in wanted or params.get("probabilities") is True
    response = await component.dataplane.infer(
        InferenceRequest(
            live.spec.name,
            payload,
            face,
            probabilities,
            str(body.get("id") or request_id),
            version=version or None,
        )
    )
    outputs = v2.encode_outputs(response.prediction, probabilities)
    if wanted:
        outputs = [o for o in outputs if o["name"] in wanted] or outputs
    return Inference(response, outputs)
