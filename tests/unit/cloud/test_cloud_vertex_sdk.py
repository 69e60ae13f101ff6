"""Vertex AI through the aiplatform SDK, against an in-memory stand-in (no Google Cloud here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lanza.cloud import vertex_sdk
from lanza.cloud.target import CloudTarget
from lanza.cloud.vertex import VertexBatchOptions, VertexOptions
from lanza.errors import NotFoundError

TARGET = CloudTarget("p1", "europe-west4", Path("build/fraud"), env={"A": "b"})


@dataclass
class FakeSdk:
    """The slice of ``google.cloud.aiplatform`` lanza calls, recording every call."""

    endpoints: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        sdk = self

        class Resource:
            def __init__(self, resource_name: str) -> None:
                self.resource_name = resource_name

            def deploy(self, **kw: Any) -> None:
                sdk.calls.append(("deploy", {**kw, "endpoint": kw["endpoint"].resource_name}))

            def batch_predict(self, **kw: Any) -> Resource:
                sdk.calls.append(("batch_predict", {"model": self.resource_name, **kw}))
                return Resource("projects/p1/locations/europe-west4/batchPredictionJobs/9")

        class Model:
            @staticmethod
            def upload(**kw: Any) -> Resource:
                sdk.calls.append(("upload", kw))
                sdk.models.append(f"models/{len(sdk.models) + 1}")
                return Resource(sdk.models[-1])

            @staticmethod
            def list(**kw: Any) -> list[Resource]:
                sdk.calls.append(("models.list", kw))
                return [Resource(m) for m in reversed(sdk.models)]

        class Endpoint:
            @staticmethod
            def list(**kw: Any) -> list[Resource]:
                sdk.calls.append(("endpoints.list", kw))
                return [Resource(e) for e in sdk.endpoints]

            @staticmethod
            def create(**kw: Any) -> Resource:
                sdk.calls.append(("endpoints.create", kw))
                sdk.endpoints.append(f"endpoints/{len(sdk.endpoints) + 1}")
                return Resource(sdk.endpoints[-1])

        self.Model = Model
        self.Endpoint = Endpoint

    def init(self, **kw: Any) -> None:
        self.calls.append(("init", kw))


def test_deploy_creates_the_endpoint_once_then_reuses_it() -> None:
    sdk = FakeSdk()
    options = VertexOptions(machine_type="g2-standard-8", accelerator="nvidia-l4", max_replicas=2)
    first = vertex_sdk.deploy(sdk, "fraud", "img:1", TARGET, options)
    assert first == vertex_sdk.VertexDeployment("models/1", "endpoints/1", False)
    assert sdk.calls == [
        ("init", {"project": "p1", "location": "europe-west4"}),
        (
            "upload",
            {
                "display_name": "fraud",
                "serving_container_image_uri": "img:1",
                "serving_container_ports": [8080],
                "serving_container_health_route": "/vertex/health",
                "serving_container_predict_route": "/vertex/predict",
                "serving_container_environment_variables": {
                    "LANZA_SERVE_DEPLOYMENT": "fraud",
                    "A": "b",
                },
            },
        ),
        ("endpoints.list", {"filter": 'display_name="fraud"'}),
        ("endpoints.create", {"display_name": "fraud"}),
        (
            "deploy",
            {
                "endpoint": "endpoints/1",
                "deployed_model_display_name": "fraud",
                "machine_type": "g2-standard-8",
                "min_replica_count": 1,
                "max_replica_count": 2,
                "traffic_split": {"0": 100},
                "accelerator_type": "NVIDIA_L4",
                "accelerator_count": 1,
            },
        ),
    ]
    canary = VertexOptions(traffic=10, keep="777")
    second = vertex_sdk.deploy(sdk, "fraud", "img:2", TARGET, canary)
    assert second == vertex_sdk.VertexDeployment("models/2", "endpoints/1", True)
    assert sdk.calls[-1][1]["traffic_split"] == {"0": 10, "777": 90}
    assert "accelerator_type" not in sdk.calls[-1][1]
    assert [c[0] for c in sdk.calls].count("endpoints.create") == 1


def test_batch_prediction_uses_the_newest_model() -> None:
    sdk = FakeSdk(models=["models/1", "models/2"])
    options = VertexBatchOptions("gs://b/in.jsonl", "gs://b/out/", replicas=2, batch_size=32)
    job = vertex_sdk.batch_predict(sdk, "fraud", TARGET, options)
    assert job.endswith("batchPredictionJobs/9")
    assert sdk.calls[1] == (
        "models.list",
        {"filter": 'display_name="fraud"', "order_by": "create_time desc"},
    )
    assert sdk.calls[2] == (
        "batch_predict",
        {
            "model": "models/2",
            "job_display_name": "fraud-batch",
            "gcs_source": "gs://b/in.jsonl",
            "gcs_destination_prefix": "gs://b/out/",
            "instances_format": "jsonl",
            "predictions_format": "jsonl",
            "machine_type": "n1-standard-4",
            "starting_replica_count": 2,
            "max_replica_count": 2,
            "batch_size": 32,
            "sync": False,
        },
    )
    with pytest.raises(NotFoundError, match="no model named 'fraud'"):
        vertex_sdk.batch_predict(FakeSdk(), "fraud", TARGET, options)
