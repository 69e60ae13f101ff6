"""Vertex AI: the exact gcloud commands of a deploy, and the batch prediction request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lanza.cloud import vertex
from lanza.cloud.target import CloudTarget
from lanza.errors import InvalidInputError

TARGET = CloudTarget(
    "p1", "europe-west4", Path("build/fraud"), "img:1", env={"LANZA_DEVICE": "cuda"}
)


def test_deploy_uploads_reuses_the_endpoint_and_deploys_with_a_gpu_and_a_canary() -> None:
    options = vertex.VertexOptions(
        machine_type="g2-standard-8", accelerator="nvidia-l4", min_replicas=1, max_replicas=3,
        traffic=10, keep="1234567890",
    )  # fmt: skip
    script = vertex.deploy_script("fraud", "img:1", TARGET, options)
    where = "--region=europe-west4 --project=p1"
    assert script.lines == [
        "# Build the image from the build context with Cloud Build",
        "gcloud builds submit build/fraud --tag img:1 --project=p1",
        "# Upload a model that runs the container (routes and port for AIP_*)",
        f"gcloud ai models upload {where} --display-name=fraud --container-image-uri=img:1"
        " --container-ports=8080 --container-health-route=/vertex/health"
        " --container-predict-route=/vertex/predict"
        " --container-env-vars=LANZA_SERVE_DEPLOYMENT=fraud,LANZA_DEVICE=cuda",
        f"MODEL_ID=$(gcloud ai models list {where} --filter=display_name=fraud"
        " '--sort-by=~createTime' --limit=1 '--format=value(name)')",
        "# Reuse the endpoint named after the deployment, or create it",
        f"ENDPOINT_ID=$(gcloud ai endpoints list {where} --filter=display_name=fraud --limit=1"
        " '--format=value(name)')",
        f'if [ -z "$ENDPOINT_ID" ]; then gcloud ai endpoints create {where} --display-name=fraud;'
        f" ENDPOINT_ID=$(gcloud ai endpoints list {where} --filter=display_name=fraud --limit=1"
        " '--format=value(name)'); fi",
        "# Deploy the model on the endpoint with its machine and traffic share",
        f'gcloud ai endpoints deploy-model "$ENDPOINT_ID" {where} --model="$MODEL_ID"'
        " --display-name=fraud --machine-type=g2-standard-8 --min-replica-count=1"
        " --max-replica-count=3 --traffic-split=0=10,1234567890=90"
        " --accelerator=type=nvidia-l4,count=1",
    ]
    assert script.text.startswith("#!/usr/bin/env bash\nset -euo pipefail\n# Build")


def test_all_traffic_needs_no_kept_model_and_a_canary_does() -> None:
    assert vertex.VertexOptions().traffic_split() == "0=100"
    with pytest.raises(InvalidInputError, match="needs --keep"):
        vertex.VertexOptions(traffic=20).traffic_split()
    with pytest.raises(InvalidInputError, match="between 1 and 100"):
        vertex.VertexOptions(traffic=0).traffic_split()


def test_batch_prediction_request_and_script(tmp_path: Path) -> None:
    options = vertex.VertexBatchOptions(
        "gs://bucket/in/*.jsonl", "gs://bucket/out/", "n1-highmem-4", 3, 128
    )
    body = vertex.write_json(tmp_path / "req.json", vertex.batch_request("fraud", options))
    assert json.loads(body.read_text()) == {
        "displayName": "fraud-batch",
        "model": "@MODEL@",
        "inputConfig": {
            "instancesFormat": "jsonl",
            "gcsSource": {"uris": ["gs://bucket/in/*.jsonl"]},
        },
        "outputConfig": {
            "predictionsFormat": "jsonl",
            "gcsDestination": {"outputUriPrefix": "gs://bucket/out/"},
        },
        "dedicatedResources": {
            "machineSpec": {"machineType": "n1-highmem-4"},
            "startingReplicaCount": 3,
            "maxReplicaCount": 3,
        },
        "manualBatchTuningParameters": {"batchSize": 128},
    }
    script = vertex.batch_script("fraud", TARGET, Path("build/fraud/deploy/req.json"))
    assert script.lines[-1] == (
        'sed "s|@MODEL@|$MODEL_ID|" build/fraud/deploy/req.json | curl -sS -X POST'
        ' -H "Authorization: Bearer $(gcloud auth print-access-token)"'
        " -H 'Content-Type: application/json' -d @-"
        " https://europe-west4-aiplatform.googleapis.com/v1/projects/p1/locations/europe-west4"
        "/batchPredictionJobs"
    )


def test_batch_prediction_reads_and_writes_cloud_storage_only() -> None:
    with pytest.raises(InvalidInputError, match="--input must be a gs:// URI"):
        vertex.batch_request("fraud", vertex.VertexBatchOptions("in.jsonl", "gs://b/out"))
    with pytest.raises(InvalidInputError, match="--output must be a gs:// URI"):
        vertex.batch_request("fraud", vertex.VertexBatchOptions("gs://b/in", "/tmp/out"))


def test_the_default_image_gets_its_repository_first() -> None:
    target = CloudTarget("p1", "europe-west4", Path("build/fraud"))
    script = vertex.deploy_script("fraud", "img:1", target, vertex.VertexOptions())
    assert script.lines[1] == (
        "gcloud artifacts repositories describe lanza --location europe-west4 --project p1"
        " >/dev/null 2>&1 || gcloud artifacts repositories create lanza --repository-format"
        " docker --location europe-west4 --project p1"
    )
