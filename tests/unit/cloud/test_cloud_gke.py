"""GKE manifests, validated against the Kubernetes schemas shipped by kubernetes-validate."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from lanza.cloud import gke
from lanza.errors import InvalidInputError

K8S = "1.30.0"
OPTIONS = gke.GkeOptions(
    namespace="ml", gpu=1, service_account="lanza", env={"LANZA_TRACKING_URI": "http://mlflow"}
)


def _validate(manifest: dict[str, Any]) -> None:
    kubernetes_validate.validate(manifest, K8S, strict=True)


def test_serving_manifests_pass_the_strict_kubernetes_schemas() -> None:
    manifests = gke.serving_manifests("fraud", "img:1", OPTIONS)
    assert [m["kind"] for m in manifests] == [
        "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
    ]  # fmt: skip
    for manifest in manifests:
        _validate(manifest)


def test_the_validator_rejects_what_kubernetes_would() -> None:
    deployment = gke.serving_manifests("fraud", "img:1", OPTIONS)[0]
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["startupProbe"]["httpGet"]["paht"] = "/"
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(broken)
    missing = copy.deepcopy(deployment)
    del missing["spec"]["selector"]
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(missing)


def test_probes_resources_and_the_autoscaler() -> None:
    deployment, service, hpa, pdb = gke.serving_manifests("fraud", "img:1", OPTIONS)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["startupProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["startupProbe"]["failureThreshold"] == 60
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert {"name": "PORT", "value": "8080"} in container["env"]
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "lanza"
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http"}]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "fraud"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    assert pdb["spec"]["minAvailable"] == 1
    assert all(m["metadata"]["namespace"] == "ml" for m in (deployment, service, hpa, pdb))


def test_ray_job_runs_lanza_batch_on_a_cluster_made_for_it(tmp_path: Path) -> None:
    job = gke.RayJobOptions("fraud@champion", "gs://b/in/", "/data/out", workers=3)
    manifest = gke.ray_job("fraud", "img:1", OPTIONS, job)
    written = gke.write_manifests(tmp_path, {"rayjob.yaml": [manifest]})
    text = written[0].read_text()
    assert "&id" not in text  # no YAML anchors
    loaded = yaml.safe_load(text)
    assert loaded["apiVersion"] == "ray.io/v1"
    assert loaded["kind"] == "RayJob"
    spec = loaded["spec"]
    assert spec["entrypoint"] == (
        "lanza batch fraud@champion gs://b/in/ /data/out --engine ray --ray-address auto --resume"
    )
    assert spec["shutdownAfterJobFinishes"] is True
    assert yaml.safe_load(spec["runtimeEnvYAML"]) == {
        "env_vars": {"LANZA_TRACKING_URI": "http://mlflow"}
    }
    cluster = spec["rayClusterSpec"]
    (workers,) = cluster["workerGroupSpecs"]
    assert workers["replicas"] == 3
    # The pod templates inside the CRD are ordinary pod specs: validate them as such.
    for template in (cluster["headGroupSpec"]["template"], workers["template"]):
        _validate({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, **template})


def test_apply_script_and_bad_bounds(tmp_path: Path) -> None:
    files = [tmp_path / "serving.yaml", tmp_path / "rayjob.yaml"]
    script = gke.apply_script("fraud", files, "ml")
    assert script.lines == [
        f"kubectl apply -f {files[0]}",
        f"kubectl apply -f {files[1]}",
        "# Wait until every replica answers /readyz",
        "kubectl rollout status deployment/fraud -n ml --timeout=10m",
    ]
    with pytest.raises(InvalidInputError, match="min-replicas"):
        gke.GkeOptions(min_replicas=5, max_replicas=2).check()
    with pytest.raises(InvalidInputError, match="percentage"):
        gke.GkeOptions(target_cpu=0).check()
