"""The README's promises: two commands, and a demo whose training step runs unattended."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_readme_starts_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```bash", 1)[1].split("```", 1)[0]
    assert "make demo" in first_block
    assert "make test" in first_block


def test_makefile_and_ci_wire_the_commands() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "demo: $(STAMP)" in makefile
    assert "lanza quickstart" in makefile
    assert "test: $(STAMP)" in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.slow
def test_quickstart_trains_and_registers_the_champion(home: Path) -> None:
    env = {**os.environ, "LANZA_HOME": str(home)}
    run = [sys.executable, "-m", "lanza"]
    first = subprocess.run(
        [*run, "quickstart"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert first.returncode == 0, first.stderr
    assert "Leaderboard" in first.stdout
    assert "as champion" in first.stdout
    again = subprocess.run(
        [*run, "quickstart"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert "already champion" in again.stdout
    listed = subprocess.run(
        [*run, "models", "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    (model,) = json.loads(listed.stdout)
    assert model["aliases"] == {"champion": "1"}
