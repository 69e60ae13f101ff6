"""A private PostgreSQL cluster on a free port, to stop and start without touching the shared one.

Outage tests and ``bench/chaos.py`` stop the database under a running server; the shared
server on 5432 serves every other test, so they get a cluster of their own: ``initdb`` into
a temporary folder (run as the ``postgres`` user when the caller is root, since Postgres
refuses to run as root), trust authentication on the loopback, ``pg_ctl`` to stop and start.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg

BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def _tool(name: str) -> str | None:
    for folder in BIN_DIRS:
        if (folder / name).exists():
            return str(folder / name)
    return shutil.which(name)


def available() -> str | None:
    """Why a private cluster cannot be made here, or ``None`` when it can."""
    if _tool("initdb") is None or _tool("pg_ctl") is None:
        return "initdb and pg_ctl are not installed"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser to drop to the postgres user"
    return None


@dataclass
class PgCluster:
    """One cluster: ``start``, ``stop`` (fast shutdown, connections cut), ``url(db)``."""

    folder: Path
    port: int

    @classmethod
    def create(cls) -> PgCluster:
        """A new, started cluster in a temporary folder."""
        folder = Path(tempfile.mkdtemp(prefix="lanza-pg-"))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        cluster = cls(folder, port)
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
        initdb = _tool("initdb")
        assert initdb is not None
        cluster._run(initdb, "-D", str(folder / "data"), "-A", "trust", "-U", "postgres")
        cluster.start()
        return cluster

    def _run(self, *command: str) -> None:
        if os.geteuid() == 0:
            command = ("runuser", "-u", "postgres", "--", *command)
        subprocess.run(command, check=True, capture_output=True, cwd=self.folder)

    def start(self) -> None:
        """Start the server and wait until it takes connections."""
        pg_ctl = _tool("pg_ctl")
        assert pg_ctl is not None
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder}"
        self._run(
            pg_ctl,
            "-D",
            str(self.folder / "data"),
            "-o",
            options,
            "-w",
            "-l",
            str(self.folder / "log"),
            "start",
        )

    def stop(self) -> None:
        """Stop the server at once: every open connection is cut."""
        pg_ctl = _tool("pg_ctl")
        assert pg_ctl is not None
        self._run(pg_ctl, "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        """A libpq URL for one database of this cluster."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new database; its URL."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        """Stop the server if it runs and remove its files."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
