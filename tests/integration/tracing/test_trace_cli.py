"""``lanza traces`` on a home with traces in it (in-process, plus one real subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lanza import tracing
from lanza.cli.app import app
from lanza.errors import LanzaError
from lanza.llm.tracing.sinks import StoreSink
from lanza.llm.tracing.store import TraceStore
from lanza.workspace import Workspace


def lanza(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_list_show_and_feedback(workspace: Workspace, home: Path) -> None:
    tracer = tracing.Tracer(StoreSink(TraceStore(workspace.database)))
    with (
        tracer.span("support bot", inputs={"question": "refund?"}) as root,
        tracer.span("llm", "llm") as call,
    ):
        call.set_usage(40, 12, model="tiny", cost_usd=0.001)
    tracer.flush()
    tracer.close()

    (summary,) = json.loads(lanza("traces", "list", "--json", "--min-tokens", "50"))["traces"]
    assert (summary["trace_id"], summary["total_tokens"]) == (root.id, 52)
    assert "support bot" in lanza("traces", "list", "--name", "support")
    assert json.loads(lanza("traces", "list", "--json", "--min-tokens", "53"))["traces"] == []
    shown = lanza("traces", "show", root.id)
    assert "llm" in shown
    assert "40+12 tokens" in shown
    added = lanza(
        "traces",
        "feedback",
        root.id,
        "--key",
        "resolved",
        "--score",
        "1",
        "--correction",
        '{"answer": "yes"}',
        "--json",
    )
    assert json.loads(added)["correction"] == {"answer": "yes"}
    tree = json.loads(lanza("traces", "show", root.id, "--json"))
    assert tree["feedback"][0]["key"] == "resolved"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["traces", "show", "nope"], "no trace 'nope'"),
        (["traces", "feedback", "nope", "--key", "k"], "needs a score"),
        (["traces", "list", "--status", "odd"], "--status"),
    ],
)
def test_bad_input_raises_one_clear_error(home: Path, args: list[str], message: str) -> None:
    with pytest.raises(LanzaError, match=message):
        CliRunner().invoke(app, args, catch_exceptions=False)


def test_the_command_prints_one_sentence_and_exits_non_zero(home: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lanza", "traces", "show", "nope"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1
    assert "no trace 'nope'" in done.stderr
    assert "Traceback" not in done.stderr
    assert "Example: lanza traces list" in lanza("traces", "list", "--help")
