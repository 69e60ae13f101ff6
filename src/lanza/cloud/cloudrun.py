"""Cloud Run: a Knative service YAML and the ``gcloud`` commands that build and deploy it.

The service has a startup probe on ``/readyz`` (the model is loaded), a liveness probe
on ``/healthz``, request concurrency, instance bounds, CPU and memory, and optionally an
NVIDIA L4 GPU (Cloud Run asks for at least 4 CPUs and 16 GiB with one).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanza.cloud.commands import Script, dump_yaml
from lanza.cloud.dockerfile import PORT
from lanza.cloud.target import CloudTarget, add_repository
from lanza.errors import InvalidInputError

GPU_TYPE = "nvidia-l4"


@dataclass(frozen=True)
class CloudRunOptions:
    """How the Cloud Run service runs."""

    concurrency: int = 80
    min_instances: int = 0
    max_instances: int = 10
    cpu: str = "2"
    memory: str = "4Gi"
    gpu: int = 0
    timeout_s: int = 300
    service_account: str | None = None
    cloudsql_instance: str | None = None
    allow_unauthenticated: bool = False

    def check(self) -> None:
        """Cloud Run's limits, as one sentence each."""
        if not 1 <= self.concurrency <= 1000:
            raise InvalidInputError("--concurrency must be between 1 and 1000.")
        if self.min_instances > self.max_instances:
            raise InvalidInputError("--min-instances cannot exceed --max-instances.")
        if self.gpu not in (0, 1):
            raise InvalidInputError("Cloud Run gives a service 0 or 1 GPU (--gpu).")
        if self.gpu and (float(self.cpu) < 4 or _gib(self.memory) < 16):
            raise InvalidInputError(
                "An L4 GPU on Cloud Run needs --cpu 4 and --memory 16Gi or more."
            )


def service_manifest(
    name: str, image: str, target: CloudTarget, options: CloudRunOptions
) -> dict[str, Any]:
    """The Knative ``Service`` that ``gcloud run services replace`` applies."""
    options.check()
    annotations = {
        "autoscaling.knative.dev/minScale": str(options.min_instances),
        "autoscaling.knative.dev/maxScale": str(options.max_instances),
        "run.googleapis.com/startup-cpu-boost": "true",
    }
    if options.cloudsql_instance:
        annotations["run.googleapis.com/cloudsql-instances"] = options.cloudsql_instance
    limits = {"cpu": options.cpu, "memory": options.memory}
    spec: dict[str, Any] = {
        "containerConcurrency": options.concurrency,
        "timeoutSeconds": options.timeout_s,
    }
    if options.gpu:
        annotations["run.googleapis.com/cpu-throttling"] = "false"
        annotations["run.googleapis.com/gpu-zonal-redundancy-disabled"] = "true"
        limits["nvidia.com/gpu"] = str(options.gpu)
        spec["nodeSelector"] = {"run.googleapis.com/accelerator": GPU_TYPE}
    if options.service_account:
        spec["serviceAccountName"] = options.service_account
    spec["containers"] = [_container(image, target, limits)]
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "labels": {"cloud.googleapis.com/location": target.region, "app": "lanza"},
        },
        "spec": {"template": {"metadata": {"annotations": annotations}, "spec": spec}},
    }


def _container(image: str, target: CloudTarget, limits: dict[str, str]) -> dict[str, Any]:
    env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in target.env.items()]
    for key, secret in target.secrets.items():
        secret_name, _, version = secret.partition(":")
        env.append(
            {
                "name": key,
                "valueFrom": {"secretKeyRef": {"name": secret_name, "key": version or "latest"}},
            }
        )
    container: dict[str, Any] = {
        "image": image,
        "ports": [{"name": "http1", "containerPort": PORT}],
        "resources": {"limits": limits},
        "startupProbe": {
            "httpGet": {"path": "/readyz", "port": PORT},
            "periodSeconds": 5,
            "timeoutSeconds": 3,
            "failureThreshold": 60,
        },
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": PORT},
            "periodSeconds": 30,
            "timeoutSeconds": 5,
        },
    }
    if env:
        container["env"] = env
    return container


def deploy_script(
    name: str, image: str, target: CloudTarget, options: CloudRunOptions, service: Path
) -> Script:
    """Build the image with Cloud Build, then create or update the service from its YAML."""
    where = ["--project", target.project]
    script = Script(f"Deploying '{name}' to Cloud Run")
    add_repository(script, target)
    script.comment("Build the image from the build context with Cloud Build")
    script.add("gcloud", "builds", "submit", str(target.context), "--tag", image, *where)
    script.comment("Create or update the service (a new revision) from its YAML")
    script.add(
        "gcloud", "run", "services", "replace", str(service), "--region", target.region, *where
    )
    if options.allow_unauthenticated:
        script.comment("Let anyone call the service (no IAM check in front of it)")
        script.add(
            "gcloud", "run", "services", "add-iam-policy-binding", name,
            "--member", "allUsers", "--role", "roles/run.invoker",
            "--region", target.region, *where,
        )  # fmt: skip
    script.comment("The service URL")
    script.add(
        "gcloud", "run", "services", "describe", name, "--region", target.region,
        "--format", "value(status.url)", *where,
    )  # fmt: skip
    return script


def traffic_script(name: str, target: CloudTarget, split: dict[str, int] | None) -> Script:
    """Send traffic to the latest revision, or split it between named revisions."""
    if split is not None and sum(split.values()) != 100:
        raise InvalidInputError("The traffic split must add up to 100.")
    script = Script(f"Moving traffic of '{name}'")
    how = (
        ["--to-latest"]
        if split is None
        else ["--to-revisions", ",".join(f"{rev}={pct}" for rev, pct in split.items())]
    )
    script.add(
        "gcloud", "run", "services", "update-traffic", name, *how,
        "--region", target.region, "--project", target.project,
    )  # fmt: skip
    return script


def write_service(path: Path, manifest: dict[str, Any]) -> Path:
    """Save the service YAML."""
    path.write_text(dump_yaml(manifest))
    return path


def _gib(memory: str) -> float:
    units = {"Gi": 1.0, "Mi": 1 / 1024, "G": 1.0, "M": 1 / 1024}
    for unit, factor in units.items():
        if memory.endswith(unit):
            return float(memory.removesuffix(unit)) * factor
    raise InvalidInputError(f"--memory '{memory}' is not like 4Gi or 512Mi.")
