"""Scripts of cloud commands: quoting, dry-run decisions, running them, and bundle pins."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lanza.cloud.bundle import BundleManifest, merge_requirements
from lanza.cloud.commands import Script, command, decide_dry_run
from lanza.errors import CloudCommandError, InvalidInputError


def test_words_are_quoted_only_when_the_shell_needs_it() -> None:
    assert command("gcloud", "run", "--format", "value(status.url)") == (
        "gcloud run --format 'value(status.url)'"
    )
    assert command("x", '--model="$MODEL_ID"', "a b") == "x --model=\"$MODEL_ID\" 'a b'"


def test_a_script_runs_in_bash_and_a_failure_is_one_sentence(tmp_path: Path) -> None:
    script = Script("Writing a file")
    script.capture("VALUE", "echo", "hello")
    script.raw('echo "$VALUE" > out.txt')
    path = script.write(tmp_path / "s.sh")
    assert os.access(path, os.X_OK)
    script.run(tmp_path)
    assert (tmp_path / "out.txt").read_text() == "hello\n"
    failing = Script("Failing on purpose")
    failing.add("false")
    failing.add("touch", "never")
    with pytest.raises(CloudCommandError, match="Failing on purpose failed"):
        failing.run(tmp_path)
    assert not (tmp_path / "never").exists()


def test_dry_run_is_the_default_without_the_tool(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert decide_dry_run(None, "gcloud") is True
    assert decide_dry_run(True, "kubectl") is True
    with pytest.raises(InvalidInputError, match="'gcloud' is not installed"):
        decide_dry_run(False, "gcloud")


def test_with_a_logged_in_gcloud_commands_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "gcloud"
    fake.write_text("#!/bin/sh\necho me@example.com\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    assert decide_dry_run(None, "gcloud") is False
    assert decide_dry_run(False, "gcloud") is False


def test_conflicting_pins_between_models_fail() -> None:
    merged = merge_requirements(
        {"a/1": ["mlflow==3.1", "numpy==2.0", "# comment", "-r other.txt"], "b/2": ["numpy==2.0"]}
    )
    assert merged == ["mlflow==3.1", "numpy==2.0"]
    with pytest.raises(
        InvalidInputError, match=r"a/1 needs numpy==2\.0 but b/2 needs NumPy==1\.26"
    ):
        merge_requirements({"a/1": ["numpy==2.0"], "b/2": ["NumPy==1.26"]})


def test_a_bad_manifest_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="There is no bundle manifest"):
        BundleManifest.load(tmp_path)
    (tmp_path / "lanza-deployment.json").write_text('{"format": 1}')
    with pytest.raises(InvalidInputError, match="is not a lanza bundle manifest"):
        BundleManifest.load(tmp_path)
