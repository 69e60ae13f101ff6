"""The gRPC face: KServe's and Triton's ``inference.GRPCInferenceService`` on its own port.

Each call translates to what the v2 REST face decodes (tensors with ``data`` or raw
``_binary`` contents) and goes through ``lanza.serving.openinference``, so the data plane,
API keys (``authorization: Bearer …`` metadata) and metrics are the HTTP faces' own.
Outputs are answered as ``raw_output_contents``, as Triton does.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import numpy as np
from fastapi import FastAPI

from lanza import __version__
from lanza.api.auth import Guard
from lanza.api.component import Component
from lanza.errors import InvalidInputError, LanzaError
from lanza.security.keys import Role
from lanza.serving import openinference as oip
from lanza.serving import v2
from lanza.serving.component import ServingComponent
from lanza.serving.faces.grpc import open_inference_pb2 as pb
from lanza.settings import ServerSettings

log = logging.getLogger("lanza.grpc")
SERVICE = "inference.GRPCInferenceService"
STATUS = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.ALREADY_EXISTS,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    415: grpc.StatusCode.INVALID_ARGUMENT,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}
CONTENTS = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}
Handler = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]


class InferenceService:
    """The RPCs of ``inference.GRPCInferenceService``, on the serving component."""

    def __init__(self, serving: ServingComponent, guard: Guard, settings: ServerSettings) -> None:
        self.serving = serving
        self.guard = guard
        self.settings = settings

    def handler(self) -> grpc.GenericRpcHandler:
        """Every RPC, by name, with its message types."""
        calls: dict[str, tuple[Handler, Any, Any]] = {
            "ServerLive": (self.server_live, pb.ServerLiveRequest, pb.ServerLiveResponse),
            "ServerReady": (self.server_ready, pb.ServerReadyRequest, pb.ServerReadyResponse),
            "ModelReady": (self.model_ready, pb.ModelReadyRequest, pb.ModelReadyResponse),
            "ServerMetadata": (
                self.server_metadata,
                pb.ServerMetadataRequest,
                pb.ServerMetadataResponse,
            ),
            "ModelMetadata": (
                self.model_metadata,
                pb.ModelMetadataRequest,
                pb.ModelMetadataResponse,
            ),
            "ModelInfer": (self.model_infer, pb.ModelInferRequest, pb.ModelInferResponse),
            "ModelConfig": (self.model_config, pb.ModelConfigRequest, pb.ModelConfigResponse),
            "RepositoryIndex": (
                self.repository_index,
                pb.RepositoryIndexRequest,
                pb.RepositoryIndexResponse,
            ),
        }
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                name: grpc.unary_unary_rpc_method_handler(
                    _translated(call),
                    request_deserializer=request.FromString,
                    response_serializer=response.SerializeToString,
                )
                for name, (call, request, response) in calls.items()
            },
        )

    async def _admit(self, context: grpc.aio.ServicerContext[Any, Any], role: Role) -> None:
        if not await self.guard.keys_required():
            return  # keys are off: no metadata to read
        metadata = dict(context.invocation_metadata() or ())
        header = str(metadata.get("authorization", ""))
        secret = header[7:].strip() if header.lower().startswith("bearer ") else None
        await self.guard.admit(secret or metadata.get("x-api-key") or None, role)

    async def server_live(self, request: Any, context: Any) -> pb.ServerLiveResponse:
        return pb.ServerLiveResponse(live=True)

    async def server_ready(self, request: Any, context: Any) -> pb.ServerReadyResponse:
        return pb.ServerReadyResponse(ready=self.serving.dataplane.server_ready().ready)

    async def model_ready(self, request: Any, context: Any) -> pb.ModelReadyResponse:
        readiness = self.serving.dataplane.ready(request.name, request.version or None)
        return pb.ModelReadyResponse(ready=readiness.ready)

    async def server_metadata(self, request: Any, context: Any) -> pb.ServerMetadataResponse:
        return pb.ServerMetadataResponse(name="lanza", version=__version__, extensions=[])

    async def model_metadata(self, request: Any, context: Any) -> pb.ModelMetadataResponse:
        await self._admit(context, "read")
        meta = oip.metadata(self.serving.dataplane.metadata(request.name, request.version or None))
        return pb.ModelMetadataResponse(
            name=meta["name"],
            versions=meta["versions"],
            platform=meta["platform"],
            inputs=[pb.ModelMetadataResponse.TensorMetadata(**t) for t in meta["inputs"]],
            outputs=[pb.ModelMetadataResponse.TensorMetadata(**t) for t in meta["outputs"]],
        )

    async def model_config(self, request: Any, context: Any) -> pb.ModelConfigResponse:
        await self._admit(context, "read")
        config = oip.config(self.serving.dataplane.metadata(request.name, request.version or None))

        def tensor(cls: Any, t: dict[str, Any]) -> Any:
            return cls(name=t["name"], data_type=t["data_type"], dims=t["dims"])

        return pb.ModelConfigResponse(
            config=pb.ModelConfig(
                name=config["name"],
                platform=config["platform"],
                backend=config["backend"],
                max_batch_size=config["max_batch_size"],
                input=[tensor(pb.ModelInput, t) for t in config["input"]],
                output=[tensor(pb.ModelOutput, t) for t in config["output"]],
            )
        )

    async def repository_index(self, request: Any, context: Any) -> pb.RepositoryIndexResponse:
        await self._admit(context, "read")
        models = oip.repository(self.serving.dataplane.server_ready().models, request.ready)
        return pb.RepositoryIndexResponse(
            models=[pb.RepositoryIndexResponse.ModelIndex(**m) for m in models]
        )

    async def model_infer(self, request: Any, context: Any) -> pb.ModelInferResponse:
        await self._admit(context, "predict")
        answer = await oip.infer(
            self.serving,
            request.model_name,
            request.model_version or None,
            infer_request(request),
            face="grpc",
        )
        response = pb.ModelInferResponse(
            model_name=request.model_name,
            model_version=answer.version,
            id=answer.response.request_id,
        )
        flags = answer.response.warnings_json()
        if flags is not None:
            response.parameters["lanza_warnings"].string_param = flags
        for output in answer.outputs:
            response.outputs.add(
                name=output["name"], datatype=output["datatype"], shape=output["shape"]
            )
            response.raw_output_contents.append(v2.tensor_bytes(output["datatype"], output["data"]))
        return response


def infer_request(request: Any) -> oip.InferRequest:
    """A ``ModelInferRequest`` decoded straight into numpy: raw contents without a copy,
    typed contents from their repeated field."""
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise InvalidInputError(
            f"The request has {len(request.inputs)} inputs but {len(raw)} raw contents."
        )
    tensors = []
    for index, tensor in enumerate(request.inputs):
        name, datatype, shape = v2.tensor_header(tensor.name, tensor.datatype, list(tensor.shape))
        if raw:
            values = v2.from_binary(name, datatype, raw[index])
        else:
            values = contents(name, datatype, tensor.contents)
        tensors.append(v2.shaped(name, shape, values))
    outputs = [o.name for o in request.outputs]
    params = parameters(request.parameters) if request.parameters else {}
    # A call reaches the loop alone (see ``MicroBatcher.submit``): never wait for a batch.
    return oip.InferRequest(tensors, outputs, params, request.id, gather=False)


def contents(name: str, datatype: str, values: Any) -> np.ndarray[Any, Any]:
    """The typed contents of one tensor as a flat array of its datatype."""
    field = CONTENTS.get(datatype)
    if field is None:
        raise InvalidInputError(
            f"Datatype {datatype!r} must be sent in raw_input_contents, not contents."
        )
    items = getattr(values, field)
    if datatype == "BYTES":
        return np.array([v.decode("utf-8", "replace") for v in items], dtype=object)
    try:
        return np.array(list(items), dtype=v2.DTYPES[datatype])
    except OverflowError as exc:
        raise InvalidInputError(f"Input '{name}' does not fit {datatype}: {exc}.") from exc


def parameters(params: Any) -> dict[str, Any]:
    """An ``InferParameter`` map as plain values."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        choice = value.WhichOneof("parameter_choice")
        out[key] = None if choice is None else getattr(value, choice)
    return out


def _translated(call: Handler) -> Handler:
    """The call, with lanza's errors turned into gRPC status codes and one sentence."""

    async def run(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        try:
            return await call(request, context)
        except LanzaError as exc:
            code = STATUS.get(exc.status_code, grpc.StatusCode.INTERNAL)
            await context.abort(code, exc.message)
        except Exception as exc:
            log.exception("gRPC call failed")
            await context.abort(
                grpc.StatusCode.INTERNAL,
                f"The server failed unexpectedly ({exc.__class__.__name__}).",
            )

    return run


class GrpcComponent(Component):
    """Serves ``inference.GRPCInferenceService`` on ``server.grpc_port`` for the app's life."""

    name = "grpc"

    def __init__(self, serving: ServingComponent, settings: ServerSettings) -> None:
        self.serving = serving
        self.settings = settings
        self.server: grpc.aio.Server | None = None
        self.service: InferenceService | None = None
        self.port = 0

    def install(self, app: FastAPI) -> None:
        self.service = InferenceService(self.serving, app.state.guard, self.settings)

    async def start(self) -> None:
        assert self.service is not None
        limit = self.settings.max_body_bytes
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", limit),
                # Workers of one `lanza serve` share the port, as they share the HTTP one.
                ("grpc.so_reuseport", 1 if self.settings.workers > 1 else 0),
            ]
        )
        server.add_generic_rpc_handlers([self.service.handler()])
        address = f"{self.settings.host}:{self.settings.grpc_port}"
        try:
            self.port = server.add_insecure_port(address)
        except RuntimeError as exc:
            # The HTTP faces still serve: a taken gRPC port must not take them down too.
            log.error("Open Inference v2 over gRPC is off: cannot listen on %s (%s)", address, exc)
            return
        await server.start()
        self.server = server
        log.info("Open Inference v2 over gRPC on %s", address)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop(self.settings.shutdown_grace_s)
            self.server = None
