"""``lanza ui`` stopped with SIGTERM takes the MLflow UI server and all its workers with it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from tests.servers import free_port, wait_for

pytestmark = pytest.mark.slow


def _up(url: str, process: subprocess.Popen[bytes], log: Path) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"lanza ui exited:\n{log.read_text()[-3000:]}")
    try:
        return httpx.get(url, timeout=1).status_code < 500
    except httpx.HTTPError:
        return False


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_lanza_ui_stopped_with_sigterm_leaves_no_process_behind(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "ui.log"
    env = {**os.environ, "LANZA_HOME": str(tmp_path / "home")}
    with log.open("wb") as sink:
        ui = subprocess.Popen(
            [sys.executable, "-m", "lanza", "ui", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=sink,
            start_new_session=True,
        )
    children: list[psutil.Process] = []
    try:
        wait_for(lambda: _up(f"http://127.0.0.1:{port}/", ui, log), timeout=120, interval=0.5)
        children = psutil.Process(ui.pid).children(recursive=True)
        assert children, "the MLflow UI runs in processes of its own"
        ui.send_signal(signal.SIGTERM)  # lanza alone, as a process manager would
        assert ui.wait(30) == 128 + signal.SIGTERM
        _, alive = psutil.wait_procs(children, timeout=15)
        assert not alive, [p.cmdline() for p in alive]
        assert _port_free(port)
    finally:
        if ui.poll() is None:
            os.killpg(ui.pid, signal.SIGKILL)
        for child in children:
            if child.is_running():
                child.kill()
