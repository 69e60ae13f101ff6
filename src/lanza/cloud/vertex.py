"""Vertex AI: upload the container as a model, deploy it to an endpoint, or batch-predict.

The model is uploaded with lanza's routes (``/vertex/health``, ``/vertex/predict``) and
port; Vertex AI passes them back as ``AIP_HEALTH_ROUTE``, ``AIP_PREDICT_ROUTE`` and
``AIP_HTTP_PORT``, which the server honours. The endpoint named after the deployment
is reused when it exists. Batch prediction goes through the REST API (``gcloud`` has no
command for it) with the request body written beside the script.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanza.cloud.commands import Script, command
from lanza.cloud.dockerfile import PORT
from lanza.cloud.target import CloudTarget, add_repository
from lanza.errors import InvalidInputError
from lanza.serving.faces.vertex import DEFAULT_HEALTH, DEFAULT_PREDICT


@dataclass(frozen=True)
class VertexOptions:
    """How the model is deployed on a Vertex AI endpoint."""

    machine_type: str = "n1-standard-4"
    accelerator: str | None = None
    accelerator_count: int = 1
    min_replicas: int = 1
    max_replicas: int = 1
    traffic: int = 100
    keep: str | None = None

    def traffic_split(self) -> str:
        """``0=100``, or ``0=10,KEPT_ID=90`` for a canary beside a deployed model."""
        if not 0 < self.traffic <= 100:
            raise InvalidInputError("--traffic must be between 1 and 100.")
        if self.traffic == 100:
            return "0=100"
        if self.keep is None:
            raise InvalidInputError(
                "A --traffic below 100 needs --keep DEPLOYED_MODEL_ID, "
                "the deployed model that keeps the rest."
            )
        return f"0={self.traffic},{self.keep}={100 - self.traffic}"


def _where(target: CloudTarget) -> list[str]:
    return [f"--region={target.region}", f"--project={target.project}"]


def _list(kind: str, name: str, target: CloudTarget) -> list[str]:
    """``gcloud ai KIND list`` narrowed to the newest one named ``name``, printing its ID."""
    newest = ["--sort-by=~createTime"] if kind == "models" else []
    return [
        *("gcloud", "ai", kind, "list", *_where(target), f"--filter=display_name={name}"),
        *newest,
        *("--limit=1", "--format=value(name)"),
    ]


def build_script(name: str, image: str, target: CloudTarget) -> Script:
    """Build the image from the build context with Cloud Build."""
    script = Script(f"Deploying '{name}' to Vertex AI")
    add_repository(script, target)
    script.comment("Build the image from the build context with Cloud Build")
    script.add(
        "gcloud", "builds", "submit", str(target.context), "--tag", image,
        f"--project={target.project}",
    )  # fmt: skip
    return script


def deploy_script(name: str, image: str, target: CloudTarget, options: VertexOptions) -> Script:
    """Build, upload the model, create or reuse the endpoint, deploy with a traffic split."""
    where = _where(target)
    split = options.traffic_split()
    env = ",".join(f"{k}={v}" for k, v in {"LANZA_SERVE_DEPLOYMENT": name, **target.env}.items())
    script = build_script(name, image, target)
    script.comment("Upload a model that runs the container (routes and port for AIP_*)")
    upload = [
        *("gcloud", "ai", "models", "upload", *where, f"--display-name={name}"),
        *(f"--container-image-uri={image}", f"--container-ports={PORT}"),
        f"--container-health-route={DEFAULT_HEALTH}",
        f"--container-predict-route={DEFAULT_PREDICT}",
        f"--container-env-vars={env}",
    ]
    script.add(*upload)
    script.capture("MODEL_ID", *_list("models", name, target))
    script.comment("Reuse the endpoint named after the deployment, or create it")
    script.capture("ENDPOINT_ID", *_list("endpoints", name, target))
    create = command("gcloud", "ai", "endpoints", "create", *where, f"--display-name={name}")
    again = command(*_list("endpoints", name, target))
    script.raw(f'if [ -z "$ENDPOINT_ID" ]; then {create}; ENDPOINT_ID=$({again}); fi')
    deploy = [
        *("gcloud", "ai", "endpoints", "deploy-model", '"$ENDPOINT_ID"', *where),
        *('--model="$MODEL_ID"', f"--display-name={name}"),
        f"--machine-type={options.machine_type}",
        f"--min-replica-count={options.min_replicas}",
        f"--max-replica-count={options.max_replicas}",
        f"--traffic-split={split}",
    ]
    if options.accelerator:
        deploy.append(f"--accelerator=type={options.accelerator},count={options.accelerator_count}")
    script.comment("Deploy the model on the endpoint with its machine and traffic share")
    script.add(*deploy)
    return script


@dataclass(frozen=True)
class VertexBatchOptions:
    """A Vertex AI batch prediction job over JSON Lines on Cloud Storage."""

    input_uri: str
    output_uri: str
    machine_type: str = "n1-standard-4"
    replicas: int = 1
    batch_size: int = 64

    def check(self) -> None:
        """Vertex AI reads and writes Cloud Storage only."""
        for flag, uri in (("--input", self.input_uri), ("--output", self.output_uri)):
            if not uri.startswith("gs://"):
                raise InvalidInputError(f"{flag} must be a gs:// URI for Vertex AI, not {uri}.")


def batch_request(name: str, options: VertexBatchOptions) -> dict[str, Any]:
    """The ``BatchPredictionJob`` body; ``@MODEL@`` is replaced by the uploaded model."""
    options.check()
    return {
        "displayName": f"{name}-batch",
        "model": "@MODEL@",
        "inputConfig": {"instancesFormat": "jsonl", "gcsSource": {"uris": [options.input_uri]}},
        "outputConfig": {
            "predictionsFormat": "jsonl",
            "gcsDestination": {"outputUriPrefix": options.output_uri},
        },
        "dedicatedResources": {
            "machineSpec": {"machineType": options.machine_type},
            "startingReplicaCount": options.replicas,
            "maxReplicaCount": options.replicas,
        },
        "manualBatchTuningParameters": {"batchSize": options.batch_size},
    }


def batch_script(name: str, target: CloudTarget, body: Path) -> Script:
    """Create the batch prediction job with the newest model uploaded for ``name``."""
    url = (
        f"https://{target.region}-aiplatform.googleapis.com/v1/projects/{target.project}"
        f"/locations/{target.region}/batchPredictionJobs"
    )
    script = Script(f"Starting a Vertex AI batch prediction of '{name}'")
    script.comment(f"The newest model uploaded by 'lanza cloud vertex deploy {name}'")
    script.capture("MODEL_ID", *_list("models", name, target))
    script.comment("Create the job through the REST API (gcloud has no command for it)")
    script.raw(
        'sed "s|@MODEL@|$MODEL_ID|" '
        + command(str(body))
        + ' | curl -sS -X POST -H "Authorization: Bearer $(gcloud auth print-access-token)" '
        + "-H 'Content-Type: application/json' -d @- "
        + command(url)
    )
    return script


def write_json(path: Path, body: dict[str, Any]) -> Path:
    """Save a request body."""
    path.write_text(json.dumps(body, indent=2) + "\n")
    return path
