"""The README's promises: two commands, and a demo whose training step runs unattended."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port, wait_for

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
def test_quickstart_trains_registers_deploys_and_serves(home: Path) -> None:
    env = {**os.environ, "LANZA_HOME": str(home)}
    run = [sys.executable, "-m", "lanza"]
    first = subprocess.run(
        [*run, "quickstart", "--no-serve"],
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
    assert "Deployed breast_cancer@champion" in first.stdout
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

    port = free_port()
    server = subprocess.Popen(
        [*run, "quickstart", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _ready(url), timeout=90)
        curl = next(line for line in _read_until(server, "curl") if "curl" in line)
        body = Path(curl.split("-d @", 1)[1].strip()).read_bytes()
        answer = httpx.post(
            f"{url}/api/v1/deployments/breast_cancer/predict",
            content=body,
            headers={"content-type": "application/json"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["model"] == "breast_cancer/1"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        server.communicate()


def _ready(url: str) -> bool:
    try:
        return httpx.get(url + "/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _read_until(process: subprocess.Popen[str], marker: str) -> list[str]:
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if marker in line:
            break
    return lines
