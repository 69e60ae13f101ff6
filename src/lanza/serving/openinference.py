"""What the Open Inference Protocol v2 faces share, over REST and over gRPC.

Models are deployments; a version, when named, must be one that serves. The data plane's
readiness and model descriptions are encoded here as v2 metadata, the Triton model config
and the repository index, and one decoded inference request (the REST JSON shape, tensors
with ``data`` or ``_binary``) becomes one call on the data plane.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lanza.errors import InvalidInputError
from lanza.serving import v2
from lanza.serving.dataplane import InferenceRequest, InferenceResponse
from lanza.serving.description import ModelDescription, ModelReadiness, Tensor

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


def metadata(meta: ModelDescription) -> dict[str, Any]:
    """Model metadata: inputs as the model takes them, outputs as infer answers them."""
    return {
        "name": meta.name,
        "versions": meta.versions,
        "platform": meta.platform,
        "inputs": [tensor_metadata(t) for t in meta.inputs],
        "outputs": [tensor_metadata(t, output=True) for t in meta.outputs],
    }


def tensor_metadata(tensor: Tensor, output: bool = False) -> dict[str, Any]:
    """One input or output as v2 tensor metadata."""
    return {"name": tensor.name, "datatype": datatype(tensor, output), "shape": list(tensor.shape)}


def datatype(tensor: Tensor, output: bool = False) -> str:
    """The v2 datatype of a column, an input tensor, or an output as infer answers it."""
    if tensor.dtype is None:
        return "BYTES"
    if tensor.column:
        return COLUMN_TYPES.get(tensor.dtype, "BYTES")
    return v2.datatype(tensor.dtype) if output else v2.datatype_of(tensor.dtype)


def config(meta: ModelDescription) -> dict[str, Any]:
    """Triton's model configuration (what ``get_model_config`` reads)."""
    described = metadata(meta)

    def tensor(t: dict[str, Any]) -> dict[str, Any]:
        dims = t["shape"][1:] or [1]
        return {"name": t["name"], "data_type": "TYPE_" + _config_type(t["datatype"]), "dims": dims}

    return {
        "name": meta.name,
        "platform": meta.platform,
        "backend": "lanza",
        "max_batch_size": meta.max_batch_size,
        "input": [tensor(t) for t in described["inputs"]],
        "output": [tensor(t) for t in described["outputs"]],
    }


def _config_type(datatype: str) -> str:
    return "STRING" if datatype == "BYTES" else datatype


def repository(models: list[ModelReadiness], ready_only: bool = False) -> list[dict[str, str]]:
    """The repository index: every deployment with the version it serves and its state.

    The state is Triton's load state (``READY`` once resident), and ``ready_only`` keeps
    the ``READY`` entries; an on-demand deployment not resident is ``UNAVAILABLE`` here
    with the reason, though model ready answers true for it (its first request loads it).
    """
    index = []
    for model in models:
        if ready_only and not model.resident:
            continue
        entry = {
            "name": model.name,
            "version": model.versions[0] if model.versions else "",
            "state": {"ready": "READY", "loading": "LOADING"}.get(model.status, "UNAVAILABLE"),
        }
        if model.note:
            entry["reason"] = model.note
        index.append(entry)
    return index


@dataclass
class InferRequest:
    """A v2 inference request as a face decoded it: input tensors, the names of the outputs
    asked for (none: all), request parameters, and the id to answer with ("" for a new one)."""

    tensors: list[v2.DecodedTensor]
    outputs: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    id: str = ""
    gather: bool = True  # whether it may wait for a micro-batch (``InferenceRequest.gather``)

    @classmethod
    def from_json(cls, body: dict[str, Any], request_id: str) -> InferRequest:
        """A JSON request body (``lanza.serving.v2.decode_body``), its tensors decoded."""
        params = body.get("parameters") or {}
        if not isinstance(params, dict):
            raise InvalidInputError("'parameters' must be an object.")
        wanted = [o.get("name") for o in body.get("outputs") or [] if isinstance(o, dict)]
        tensors = [v2.tensor_values(t) for t in body["inputs"]]
        return cls(tensors, [str(w) for w in wanted], params, str(body.get("id") or request_id))


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
    request: InferRequest,
    face: str = "v2",
) -> Inference:
    """One decoded v2 request through the data plane.

    The tensors become rows against the schema of the route that will answer: the
    requested version's when one is named, else the first route's (routes of one
    deployment must share a signature, which swaps enforce).
    """
    live = component.manager.loaded(name) if not version else None
    if live is None:
        await component.manager.find(name)  # a deployment another worker just made too
        component.dataplane.ready(name, version)  # a version it cannot serve loads nothing
        # An on-demand deployment not resident loads here (the data plane then finds it).
        live = await component.manager.resident(name)
    schema = live.pick(version=version).loaded.runtime.schema if version else None
    schema = schema or live.variants[0].loaded.runtime.schema
    payload = v2.tensors_payload(request.tensors, schema)
    params = request.parameters
    probabilities = "predict_proba" in request.outputs or params.get("probabilities") is True
    response = await component.dataplane.infer(
        InferenceRequest(
            name,
            payload,
            face,
            probabilities,
            request.id,
            version=version or None,
            gather=request.gather,
        )
    )
    outputs = v2.encode_outputs(response.prediction, probabilities)
    if request.outputs:
        outputs = [o for o in outputs if o["name"] in request.outputs] or outputs
    return Inference(response, outputs)
