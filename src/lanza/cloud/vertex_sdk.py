"""Vertex AI through the ``google-cloud-aiplatform`` SDK (extra ``cloud``).

Used instead of the ``gcloud ai`` commands when the SDK is installed and Application
Default Credentials exist and the command is not a dry run. The SDK module is passed in,
so the calls are the same whether it is the real one or a stand-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lanza.cloud.dockerfile import PORT
from lanza.cloud.target import CloudTarget
from lanza.cloud.vertex import VertexBatchOptions, VertexOptions
from lanza.errors import NotFoundError
from lanza.serving.faces.vertex import DEFAULT_HEALTH, DEFAULT_PREDICT


def load_sdk() -> Any | None:
    """``google.cloud.aiplatform`` when it is installed and credentials are found, else None."""
    try:
        import google.auth  # type: ignore[import-untyped,unused-ignore]
        from google.cloud import aiplatform  # type: ignore[import-untyped,unused-ignore]

        google.auth.default()
    except Exception:
        return None
    return aiplatform


@dataclass(frozen=True)
class VertexDeployment:
    """What the SDK created or reused."""

    model: str
    endpoint: str
    reused_endpoint: bool


def deploy(
    sdk: Any, name: str, image: str, target: CloudTarget, options: VertexOptions
) -> VertexDeployment:
    """Upload the model, reuse or create the endpoint ``name``, deploy with the split."""
    split = {
        key: int(share)
        for key, share in (part.split("=") for part in options.traffic_split().split(","))
    }
    sdk.init(project=target.project, location=target.region)
    model = sdk.Model.upload(
        display_name=name,
        serving_container_image_uri=image,
        serving_container_ports=[PORT],
        serving_container_health_route=DEFAULT_HEALTH,
        serving_container_predict_route=DEFAULT_PREDICT,
        serving_container_environment_variables={"LANZA_SERVE_DEPLOYMENT": name, **target.env},
    )
    found = sdk.Endpoint.list(filter=f'display_name="{name}"')
    endpoint = found[0] if found else sdk.Endpoint.create(display_name=name)
    extra: dict[str, Any] = {}
    if options.accelerator:
        extra = {
            "accelerator_type": options.accelerator.upper().replace("-", "_"),
            "accelerator_count": options.accelerator_count,
        }
    model.deploy(
        endpoint=endpoint,
        deployed_model_display_name=name,
        machine_type=options.machine_type,
        min_replica_count=options.min_replicas,
        max_replica_count=options.max_replicas,
        traffic_split=split,
        **extra,
    )
    return VertexDeployment(str(model.resource_name), str(endpoint.resource_name), bool(found))


def batch_predict(sdk: Any, name: str, target: CloudTarget, options: VertexBatchOptions) -> str:
    """Start a batch prediction job with the newest model uploaded for ``name``."""
    options.check()
    sdk.init(project=target.project, location=target.region)
    models = sdk.Model.list(filter=f'display_name="{name}"', order_by="create_time desc")
    if not models:
        raise NotFoundError(
            f"Vertex AI has no model named '{name}'; run 'lanza cloud vertex deploy {name}' first."
        )
    job = models[0].batch_predict(
        job_display_name=f"{name}-batch",
        gcs_source=options.input_uri,
        gcs_destination_prefix=options.output_uri,
        instances_format="jsonl",
        predictions_format="jsonl",
        machine_type=options.machine_type,
        starting_replica_count=options.replicas,
        max_replica_count=options.replicas,
        batch_size=options.batch_size,
        sync=False,
    )
    return str(job.resource_name)
