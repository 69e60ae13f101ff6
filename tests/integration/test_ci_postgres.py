"""In CI the Postgres tests fail when PostgreSQL is away; elsewhere they skip, saying why."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["LANZA_TEST_PG"] = "postgresql://postgres@127.0.0.1:1/postgres"  # nothing listens
    if ci:
        env["CI"] = "true"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "postgres"]
    command.append("tests/integration/test_store.py::test_postgres")
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.slow
def test_postgres_tests_fail_in_ci_and_skip_elsewhere_when_postgres_is_away() -> None:
    in_ci = _run(ci=True)
    assert in_ci.returncode == 1, in_ci.stdout[-2000:]
    assert "PostgreSQL is not reachable" in in_ci.stdout
    outside = _run(ci=False)
    assert outside.returncode == 0, outside.stdout[-2000:]
    assert "1 skipped" in outside.stdout
