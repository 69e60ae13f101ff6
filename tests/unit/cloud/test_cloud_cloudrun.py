"""Cloud Run: the service YAML and the gcloud commands, exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lanza.cloud import cloudrun
from lanza.cloud.target import CloudTarget
from lanza.errors import InvalidInputError

IMAGE = "europe-west1-docker.pkg.dev/p1/lanza/fraud:abc"


def _target(**kw: object) -> CloudTarget:
    return CloudTarget("p1", "europe-west1", Path("build/fraud"), **kw)  # type: ignore[arg-type]


def test_service_yaml_with_an_l4_gpu_cloud_sql_and_a_secret(tmp_path: Path) -> None:
    options = cloudrun.CloudRunOptions(
        concurrency=16, min_instances=1, max_instances=3, cpu="4", memory="16Gi", gpu=1,
        service_account="lanza@p1.iam.gserviceaccount.com",
        cloudsql_instance="p1:europe-west1:lanza",
    )  # fmt: skip
    target = _target(env={"LANZA_TRACKING_URI": "http://mlflow"}, secrets={"DB": "db-url"})
    manifest = cloudrun.service_manifest("fraud", IMAGE, target, options)
    path = cloudrun.write_service(tmp_path / "service.yaml", manifest)
    assert path.read_text() == (
        """\
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: fraud
  labels:
    cloud.googleapis.com/location: europe-west1
    app: lanza
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/minScale: '1'
        autoscaling.knative.dev/maxScale: '3'
        run.googleapis.com/startup-cpu-boost: 'true'
        run.googleapis.com/cloudsql-instances: p1:europe-west1:lanza
        run.googleapis.com/cpu-throttling: 'false'
        run.googleapis.com/gpu-zonal-redundancy-disabled: 'true'
    spec:
      containerConcurrency: 16
      timeoutSeconds: 300
      nodeSelector:
        run.googleapis.com/accelerator: nvidia-l4
      serviceAccountName: lanza@p1.iam.gserviceaccount.com
      containers:
      - image: europe-west1-docker.pkg.dev/p1/lanza/fraud:abc
        ports:
        - name: http1
          containerPort: 8080
        resources:
          limits:
            cpu: '4'
            memory: 16Gi
            nvidia.com/gpu: '1'
        startupProbe:
          httpGet:
            path: /readyz
            port: 8080
          periodSeconds: 5
          timeoutSeconds: 3
          failureThreshold: 60
        livenessProbe:
          httpGet:
            path: /healthz
            port: 8080
          periodSeconds: 30
          timeoutSeconds: 5
        env:
        - name: LANZA_TRACKING_URI
          value: http://mlflow
        - name: DB
          valueFrom:
            secretKeyRef:
              name: db-url
              key: latest
"""
    )


def test_cpu_only_service_has_no_gpu_settings() -> None:
    manifest = cloudrun.service_manifest("fraud", IMAGE, _target(), cloudrun.CloudRunOptions())
    template = manifest["spec"]["template"]
    assert "nodeSelector" not in template["spec"]
    assert "run.googleapis.com/cpu-throttling" not in template["metadata"]["annotations"]
    (container,) = template["spec"]["containers"]
    assert container["resources"] == {"limits": {"cpu": "2", "memory": "4Gi"}}
    assert container["startupProbe"]["httpGet"] == {"path": "/readyz", "port": 8080}
    assert yaml.safe_load(yaml.safe_dump(manifest)) == manifest


def test_deploy_script_builds_creates_the_repository_and_replaces_the_service() -> None:
    options = cloudrun.CloudRunOptions(allow_unauthenticated=True)
    script = cloudrun.deploy_script(
        "fraud", IMAGE, _target(), options, Path("build/fraud/deploy/cloudrun-service.yaml")
    )
    assert script.text == (
        """\
#!/usr/bin/env bash
set -euo pipefail
# Artifact Registry repository for lanza's images (once per region)
gcloud artifacts repositories describe lanza --location europe-west1 --project p1 >/dev/null 2>&1 \
|| gcloud artifacts repositories create lanza --repository-format docker --location europe-west1 \
--project p1
# Build the image from the build context with Cloud Build
gcloud builds submit build/fraud --tag europe-west1-docker.pkg.dev/p1/lanza/fraud:abc --project p1
# Create or update the service (a new revision) from its YAML
gcloud run services replace build/fraud/deploy/cloudrun-service.yaml --region europe-west1 \
--project p1
# Let anyone call the service (no IAM check in front of it)
gcloud run services add-iam-policy-binding fraud --member allUsers --role roles/run.invoker \
--region europe-west1 --project p1
# The service URL
gcloud run services describe fraud --region europe-west1 --format 'value(status.url)' --project p1
"""
    )


def test_a_given_image_skips_the_repository() -> None:
    script = cloudrun.deploy_script(
        "fraud", "ghcr.io/me/fraud:1", _target(image="ghcr.io/me/fraud:1"),
        cloudrun.CloudRunOptions(), Path("s.yaml"),
    )  # fmt: skip
    assert "artifacts repositories" not in script.text
    assert "gcloud builds submit build/fraud --tag ghcr.io/me/fraud:1 --project p1" in script.text


def test_traffic_split_and_to_latest() -> None:
    split = cloudrun.traffic_script(
        "fraud", _target(), {"fraud-00002-abc": 10, "fraud-00001-xyz": 90}
    )
    assert split.lines == [
        "gcloud run services update-traffic fraud"
        " --to-revisions fraud-00002-abc=10,fraud-00001-xyz=90 --region europe-west1 --project p1"
    ]
    latest = cloudrun.traffic_script("fraud", _target(), None)
    assert latest.lines == [
        "gcloud run services update-traffic fraud --to-latest --region europe-west1 --project p1"
    ]
    with pytest.raises(InvalidInputError, match="add up to 100"):
        cloudrun.traffic_script("fraud", _target(), {"a": 10, "b": 80})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (cloudrun.CloudRunOptions(gpu=1), "needs --cpu 4 and --memory 16Gi"),
        (cloudrun.CloudRunOptions(gpu=2, cpu="8", memory="32Gi"), "0 or 1 GPU"),
        (cloudrun.CloudRunOptions(min_instances=5, max_instances=2), "cannot exceed"),
        (cloudrun.CloudRunOptions(concurrency=0), "between 1 and 1000"),
        (cloudrun.CloudRunOptions(gpu=1, cpu="4", memory="lots"), "is not like 4Gi"),
    ],
)
def test_cloud_run_limits_are_one_sentence(options: cloudrun.CloudRunOptions, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        options.check()
