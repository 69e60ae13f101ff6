"""Shell scripts of ``gcloud``/``kubectl`` commands: printed in a dry run, run otherwise.

A step is one :class:`Script`; its text is what a dry run prints and what a real run
executes with ``bash``, so what users read is exactly what would run.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lanza.errors import CloudCommandError, InvalidInputError


class _PlainDumper(yaml.SafeDumper):
    """YAML without anchors: manifests are read by people and by other tools."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(*documents: dict[str, Any]) -> str:
    """Manifests as YAML documents, keys in the order written."""
    return yaml.dump_all(documents, Dumper=_PlainDumper, sort_keys=False)


def command(*words: str) -> str:
    """One shell command line, each word quoted only when it needs it.

    A word that quotes a variable itself (``--model="$MODEL_ID"``) is kept as written.
    """
    return " ".join(w if '"$' in w else shlex.quote(w) for w in words)


@dataclass
class Script:
    """A bash script: comments, variable captures and commands, in order."""

    title: str
    lines: list[str] = field(default_factory=list)

    def comment(self, text: str) -> None:
        """A ``# …`` line that says why the next command runs."""
        self.lines.append(f"# {text}")

    def add(self, *words: str) -> None:
        """A command."""
        self.lines.append(command(*words))

    def capture(self, variable: str, *words: str) -> None:
        """``VARIABLE=$(command)``: a value later commands use as ``"$VARIABLE"``."""
        self.lines.append(f"{variable}=$({command(*words)})")

    def raw(self, line: str) -> None:
        """A line written as is (captures, conditionals)."""
        self.lines.append(line)

    @property
    def text(self) -> str:
        """The script as bash reads it."""
        return "\n".join(["#!/usr/bin/env bash", "set -euo pipefail", *self.lines]) + "\n"

    def write(self, path: Path) -> Path:
        """Save the script, executable."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.text)
        path.chmod(0o755)
        return path

    def run(self, cwd: Path) -> None:
        """Execute the script with bash; a failure is one sentence."""
        from lanza.processes import run_group

        code = run_group(["bash", "-c", self.text], cwd=cwd)
        if code != 0:
            raise CloudCommandError(
                f"{self.title} failed (exit {code}); see the command output above."
            )


def tool_ready(tool: str) -> bool:
    """Whether ``gcloud`` or ``kubectl`` is installed and has credentials or a context."""
    if shutil.which(tool) is None:
        return False
    if tool == "gcloud":
        if os.environ.get("CLOUDSDK_AUTH_ACCESS_TOKEN") or os.environ.get(
            "GOOGLE_APPLICATION_CREDENTIALS"
        ):
            return True
        probe = [tool, "auth", "list", "--filter=status:ACTIVE", "--format=value(account)"]
    else:
        probe = [tool, "config", "current-context"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and bool(done.stdout.strip())


def decide_dry_run(requested: bool | None, tool: str) -> bool:
    """``--dry-run`` as asked, else a dry run whenever ``tool`` or its credentials are missing."""
    if requested is None:
        return not tool_ready(tool)
    if requested is False and not tool_ready(tool):
        raise InvalidInputError(
            f"'{tool}' is not installed or has no credentials; install and log in, "
            "or leave out --no-dry-run to print the commands instead."
        )
    return requested
