"""``lanza package``: the build context a container is built from."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from lanza.cli.app import app
from lanza.workspace import Workspace

runner = CliRunner()


def test_bundle_context_has_the_models_pins_and_a_safe_dockerfile(
    fraud: Workspace, cloud_home: Path
) -> None:
    result = runner.invoke(app, ["package", "fraud"])
    assert result.exit_code == 0, result.output
    assert "Wrote the build context of 'fraud' to build/fraud (python:3.11-slim, clf/1, clf/2" in (
        result.output
    )
    folder = Path("build/fraud")
    model_pins = (cloud_home / "models" / "clf" / "1" / "requirements.txt").read_text().split()
    requirements = (folder / "requirements.txt").read_text().split()
    assert requirements == ["lanza==0.1.0", *model_pins]
    assert all("==" in line for line in requirements)
    manifest = json.loads((folder / "lanza-deployment.json").read_text())
    assert manifest["source"] == "bundle"
    assert manifest["deployment"]["traffic"][0] == {"model": "clf@champion", "weight": 90.0}
    assert [(m["version"], m["aliases"]) for m in manifest["models"]] == [
        ("1", ["champion"]),
        ("2", ["challenger"]),
    ]
    for model in manifest["models"]:
        assert (folder / model["path"] / "MLmodel").exists()
        assert (folder / model["reference"]).exists()
    dockerfile = (folder / "Dockerfile").read_text()
    assert dockerfile.startswith("# syntax=docker/dockerfile:1\nFROM python:3.11-slim\n")
    assert "USER 10001:10001" in dockerfile
    assert "HEALTHCHECK --interval=30s" in dockerfile
    assert "/readyz" in dockerfile
    assert "COPY --chown=lanza:lanza bundle/ bundle/" in dockerfile
    assert dockerfile.rstrip().endswith(
        'CMD ["lanza", "container-start", "--host", "0.0.0.0", "--insecure"]'
    )
    assert dockerfile.index("RUN pip install") < dockerfile.index("COPY --chown=lanza:lanza bundle")
    assert "deploy/" in (folder / ".dockerignore").read_text().split()
    assert "docker build -t lanza-fraud ." in (folder / "README.md").read_text()


def test_registry_context_pulls_at_start_and_can_use_a_wheel(
    fraud: Workspace, tmp_path: Path
) -> None:
    wheel = tmp_path / "lanza-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"not really a wheel, only copied")
    out = tmp_path / "ctx"
    result = runner.invoke(
        app,
        ["package", "fraud", "-o", str(out), "--source", "registry", "--lanza-wheel", str(wheel),
         "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    built = json.loads(result.output)
    assert built["models"] == ["clf/1", "clf/2"]
    assert not (out / "bundle").exists()
    assert (out / "wheels" / wheel.name).read_bytes() == wheel.read_bytes()
    requirements = (out / "requirements.txt").read_text().split()
    assert requirements[0] == f"./wheels/{wheel.name}"
    assert requirements[-1].startswith("google-cloud-storage")
    dockerfile = (out / "Dockerfile").read_text()
    assert "COPY wheels/ wheels/" in dockerfile
    assert "bundle/" not in dockerfile


def test_bad_requests_are_one_sentence(fraud: Workspace) -> None:
    missing = runner.invoke(app, ["package", "nope"])
    assert missing.exit_code == 1
    assert "There is no deployment named 'nope'." in str(missing.exception)
    assert runner.invoke(app, ["package", "fraud"]).exit_code == 0
    again = runner.invoke(app, ["package", "fraud"])
    assert "build/fraud is not empty; pass --overwrite" in str(again.exception)
    assert runner.invoke(app, ["package", "fraud", "--overwrite"]).exit_code == 0
    source = runner.invoke(app, ["package", "fraud", "--source", "s3"])
    assert "Unknown --source 's3'" in str(source.exception)


def test_container_start_without_a_manifest_is_one_sentence(tmp_path: Path) -> None:
    result = runner.invoke(app, ["container-start", str(tmp_path / "nope.json")])
    assert result.exit_code == 1
    assert f"There is no bundle manifest at {tmp_path / 'nope.json'}." in str(result.exception)
