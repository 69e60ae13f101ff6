"""GKE: Kubernetes manifests for a deployment, and a KubeRay ``RayJob`` for batch jobs.

The ``Deployment`` runs the packaged image with startup (``/readyz``, patient while the
model loads), readiness (``/readyz``) and liveness (``/healthz``) probes; a ``Service``
in front, a ``HorizontalPodAutoscaler`` on CPU and a ``PodDisruptionBudget`` so node
upgrades keep at least one replica serving. The ``RayJob`` runs ``lanza batch --engine
ray`` on a Ray cluster that KubeRay creates for the job and deletes after it.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lanza.cloud.commands import Script, dump_yaml
from lanza.cloud.dockerfile import PORT
from lanza.errors import InvalidInputError


@dataclass(frozen=True)
class GkeOptions:
    """Replicas, resources and the namespace of the manifests."""

    namespace: str = "default"
    replicas: int = 2
    min_replicas: int = 2
    max_replicas: int = 10
    target_cpu: int = 70
    cpu: str = "1"
    memory: str = "2Gi"
    gpu: int = 0
    service_account: str | None = None
    env: dict[str, str] = field(default_factory=dict)

    def check(self) -> None:
        """Bounds that would make a manifest Kubernetes rejects or never scales."""
        if not 1 <= self.min_replicas <= self.max_replicas:
            raise InvalidInputError("Replicas need 1 <= --min-replicas <= --max-replicas.")
        if not 1 <= self.target_cpu <= 100:
            raise InvalidInputError("--target-cpu is a percentage between 1 and 100.")


@dataclass(frozen=True)
class RayJobOptions:
    """One batch job on a Ray cluster made for it."""

    model: str
    input_uri: str
    output_uri: str
    workers: int = 2
    cpu: str = "2"
    memory: str = "4Gi"


def _labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "lanza", "app.kubernetes.io/instance": name}


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def serving_manifests(name: str, image: str, options: GkeOptions) -> list[dict[str, Any]]:
    """Deployment, Service, HorizontalPodAutoscaler and PodDisruptionBudget."""
    options.check()
    meta = {"name": name, "namespace": options.namespace, "labels": _labels(name)}
    limits = {"cpu": options.cpu, "memory": options.memory}
    if options.gpu:
        limits["nvidia.com/gpu"] = str(options.gpu)
    container: dict[str, Any] = {
        "name": "lanza",
        "image": image,
        "ports": [{"name": "http", "containerPort": PORT}],
        "env": [{"name": k, "value": v} for k, v in {"PORT": str(PORT), **options.env}.items()],
        "resources": {"requests": dict(limits), "limits": limits},
        "startupProbe": _probe("/readyz", 5, 60),
        "readinessProbe": _probe("/readyz", 5, 3),
        "livenessProbe": _probe("/healthz", 15, 3),
        "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False},
    }
    pod: dict[str, Any] = {"containers": [container], "terminationGracePeriodSeconds": 30}
    if options.service_account:
        pod["serviceAccountName"] = options.service_account
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": options.replicas,
            "selector": {"matchLabels": _labels(name)},
            "template": {"metadata": {"labels": _labels(name)}, "spec": pod},
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "type": "ClusterIP",
            "selector": _labels(name),
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
        },
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta,
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": options.min_replicas,
            "maxReplicas": options.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": options.target_cpu},
                    },
                }
            ],
        },
    }
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta,
        "spec": {"minAvailable": 1, "selector": {"matchLabels": _labels(name)}},
    }
    return [deployment, service, hpa, pdb]


def ray_job(name: str, image: str, options: GkeOptions, job: RayJobOptions) -> dict[str, Any]:
    """A KubeRay ``RayJob`` that runs ``lanza batch … --engine ray`` and then goes away."""
    resources = {"cpu": job.cpu, "memory": job.memory}
    container = {"image": image, "resources": {"requests": resources, "limits": resources}}
    command = ["lanza", "batch", job.model, job.input_uri, job.output_uri]
    entry = shlex.join([*command, "--engine", "ray", "--ray-address", "auto", "--resume"])
    spec: dict[str, Any] = {
        "entrypoint": entry,
        "shutdownAfterJobFinishes": True,
        "ttlSecondsAfterFinished": 600,
    }
    if options.env:
        spec["runtimeEnvYAML"] = yaml.safe_dump({"env_vars": dict(options.env)})
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {
            "name": f"{name}-batch",
            "namespace": options.namespace,
            "labels": _labels(name),
        },
        "spec": {
            **spec,
            "rayClusterSpec": {
                "headGroupSpec": {
                    "rayStartParams": {"dashboard-host": "0.0.0.0"},
                    "template": {"spec": {"containers": [{"name": "ray-head", **container}]}},
                },
                "workerGroupSpecs": [
                    {
                        "groupName": "workers",
                        "replicas": job.workers,
                        "minReplicas": job.workers,
                        "maxReplicas": job.workers,
                        "rayStartParams": {},
                        "template": {"spec": {"containers": [{"name": "ray-worker", **container}]}},
                    }
                ],
            },
        },
    }


def write_manifests(folder: Path, manifests: dict[str, list[dict[str, Any]]]) -> list[Path]:
    """One YAML file per entry (documents separated by ``---``)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for file, documents in manifests.items():
        path = folder / file
        path.write_text(dump_yaml(*documents))
        written.append(path)
    return written


def apply_script(name: str, files: list[Path], namespace: str) -> Script:
    """``kubectl apply`` the manifests, then wait for the rollout."""
    script = Script(f"Applying the manifests of '{name}'")
    for path in files:
        script.add("kubectl", "apply", "-f", str(path))
    if any(p.name == "serving.yaml" for p in files):
        script.comment("Wait until every replica answers /readyz")
        script.add(
            "kubectl", "rollout", "status", f"deployment/{name}", "-n", namespace, "--timeout=10m"
        )
    return script
