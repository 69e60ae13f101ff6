"""``lanza cloud …`` as users run it: dry runs print the exact commands; real runs run them."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from lanza.cli.app import app
from lanza.workspace import Workspace

runner = CliRunner()
RUN = ["--project", "p1", "--region", "europe-west1"]


@pytest.fixture
def no_gcloud(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A PATH with bash but neither gcloud nor kubectl."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "bash").symlink_to(shutil.which("bash") or "/bin/bash")
    monkeypatch.setenv("PATH", str(bin_dir))


def test_cloud_run_dry_run_prints_the_commands_and_writes_the_service(
    fraud: Workspace, no_gcloud: None
) -> None:
    result = runner.invoke(
        app, ["cloud", "run", "deploy", "fraud", *RUN, "--image", "img:1", "--min-instances", "1"]
    )
    assert result.exit_code == 0, result.output
    assert result.output == (
        """\
Dry run: nothing was run. Deploying 'fraud' to Cloud Run takes:
  wrote build/fraud/deploy/cloudrun-service.yaml
  wrote build/fraud/deploy/cloudrun-deploy.sh

# Build the image from the build context with Cloud Build
gcloud builds submit build/fraud --tag img:1 --project p1
# Create or update the service (a new revision) from its YAML
gcloud run services replace build/fraud/deploy/cloudrun-service.yaml --region europe-west1 \
--project p1
# The service URL
gcloud run services describe fraud --region europe-west1 --format 'value(status.url)' --project p1
"""
    )
    service = yaml.safe_load(Path("build/fraud/deploy/cloudrun-service.yaml").read_text())
    template = service["spec"]["template"]
    assert template["metadata"]["annotations"]["autoscaling.knative.dev/minScale"] == "1"
    assert template["spec"]["containers"][0]["image"] == "img:1"
    assert Path("build/fraud/Dockerfile").exists()
    script = Path("build/fraud/deploy/cloudrun-deploy.sh").read_text()
    assert script.startswith("#!/usr/bin/env bash\nset -euo pipefail\n")


def test_default_image_is_in_artifact_registry_tagged_by_the_bundle(
    fraud: Workspace, no_gcloud: None
) -> None:
    result = runner.invoke(app, ["cloud", "run", "deploy", "fraud", *RUN, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["dry_run"] is True
    submit = next(line for line in out["commands"] if line.startswith("gcloud builds submit"))
    image = submit.split("--tag ")[1].split()[0]
    assert image.startswith("europe-west1-docker.pkg.dev/p1/lanza/fraud:")
    assert out["commands"][1].startswith("gcloud artifacts repositories describe lanza")


def test_vertex_gke_and_traffic_dry_runs(fraud: Workspace, no_gcloud: None) -> None:
    vertex = runner.invoke(
        app,
        ["cloud", "vertex", "deploy", "fraud", *RUN, "--image", "img:1", "--accelerator",
         "nvidia-l4", "--machine-type", "g2-standard-8"],
    )  # fmt: skip
    assert vertex.exit_code == 0, vertex.output
    assert "gcloud ai models upload --region=europe-west1 --project=p1" in vertex.output
    assert "--accelerator=type=nvidia-l4,count=1" in vertex.output
    batch = runner.invoke(
        app,
        ["cloud", "vertex", "batch", "fraud", *RUN, "--input", "gs://b/in.jsonl", "--output",
         "gs://b/out/"],
    )  # fmt: skip
    assert batch.exit_code == 0, batch.output
    assert "wrote build/fraud/deploy/vertex-batch-request.json" in batch.output
    gke = runner.invoke(
        app,
        ["cloud", "gke", "manifests", "fraud", "--image", "img:1", "--batch-input", "gs://b/in/",
         "--batch-output", "/data/out"],
    )  # fmt: skip
    assert gke.exit_code == 0, gke.output
    assert "kubectl apply -f build/fraud/deploy/k8s/serving.yaml\n" in gke.output
    assert "kubectl apply -f build/fraud/deploy/k8s/rayjob.yaml\n" in gke.output
    kinds = [
        d["kind"]
        for d in yaml.safe_load_all(Path("build/fraud/deploy/k8s/serving.yaml").read_text())
    ]
    assert kinds == ["Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"]
    assert "ray[data]==" in Path("build/fraud/requirements.txt").read_text()
    # Each command re-packages the context but keeps the files the others wrote.
    assert Path("build/fraud/deploy/vertex-deploy.sh").exists()
    assert Path("build/fraud/deploy/vertex-batch.sh").exists()
    traffic = runner.invoke(
        app, ["cloud", "run", "traffic", "fraud", *RUN, "--split", "fraud-2=10,fraud-1=90"]
    )
    assert traffic.exit_code == 0, traffic.output
    assert (
        "gcloud run services update-traffic fraud --to-revisions fraud-2=10,fraud-1=90"
        " --region europe-west1 --project p1" in traffic.output
    )
    neither = runner.invoke(app, ["cloud", "run", "traffic", "fraud", *RUN])
    assert "Pass --split REVISION=PERCENT,… or --to-latest." in str(neither.exception)


def test_asking_to_run_without_gcloud_is_one_sentence(fraud: Workspace, no_gcloud: None) -> None:
    result = runner.invoke(app, ["cloud", "run", "deploy", "fraud", *RUN, "--no-dry-run"])
    assert result.exit_code == 1
    assert "'gcloud' is not installed or has no credentials" in str(result.exception)


def test_with_gcloud_logged_in_the_same_script_runs(
    fraud: Workspace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # gcloud cannot run here: a stand-in records the commands it is given.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "gcloud.log"
    fake = bin_dir / "gcloud"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {log}\necho https://fraud-xyz.a.run.app\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    result = runner.invoke(app, ["cloud", "run", "deploy", "fraud", *RUN, "--image", "img:1"])
    assert result.exit_code == 0, result.output
    assert "Dry run" not in result.output
    assert log.read_text().splitlines() == [
        "auth list --filter=status:ACTIVE --format=value(account)",
        "builds submit build/fraud --tag img:1 --project p1",
        "run services replace build/fraud/deploy/cloudrun-service.yaml --region europe-west1"
        " --project p1",
        "run services describe fraud --region europe-west1 --format value(status.url) --project p1",
    ]
