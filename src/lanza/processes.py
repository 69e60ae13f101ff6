"""Child processes: commands that start programs take them, and all they start, down with them.

A child runs in its own process group; when lanza gets SIGTERM, SIGINT or SIGHUP (or
returns for any reason) the whole group gets SIGTERM, then SIGKILL after a grace period.
Without this, ``lanza ui`` stopped with SIGTERM would leave the MLflow UI server and its
workers running, orphaned, holding the port.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
GRACE_S = 10.0


def run_group(command: Sequence[str], cwd: Path | None = None, grace_s: float = GRACE_S) -> int:
    """Run ``command`` in a new process group until it exits; its exit status.

    A signal to lanza is passed to the whole group, and the group is ended however this
    function returns, so no grandchild outlives the command.
    """
    child = subprocess.Popen(list(command), cwd=cwd, process_group=0)
    received: list[int] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        _signal_group(child.pid, signal.SIGTERM if signum != signal.SIGINT else signal.SIGINT)

    previous = {s: signal.signal(s, forward) for s in FORWARDED}
    try:
        code = child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _end_group(child, grace_s)
    if received and received[0] != signal.SIGINT:
        return 128 + received[0]
    return code


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _end_group(child: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM to what is left of the group, SIGKILL to whatever outlives the grace."""
    _signal_group(child.pid, signal.SIGTERM)
    end = time.monotonic() + grace_s
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(grace_s)
    while _group_alive(child.pid) and time.monotonic() < end:
        time.sleep(0.1)
    _signal_group(child.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(grace_s)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
