"""The ready-to-load form of model versions, kept on local disk for fast cold starts.

A model's first load on a machine copies its artifacts from the registry and checks them
(the skops check of a scikit-learn model decodes every object it holds); the loaded model
object is then written here as a pickle signed with this machine's key. A later load of the
same version (an on-demand model loaded again after an eviction, a restarted or another
worker) reads that pickle and skips the registry, the artifact copy and the check: a cold
load of a 50 MB model becomes a read of its file.

An entry is named by the SHA-256 of the tracking URI, the model's name, version and
artifact URI, the flavour that loads it, and the SHA-256 of the model file's bytes: a new
version, a model re-registered under the same number elsewhere, or a changed file never
reads an old entry. Each entry is signed (HMAC-SHA256) over its name, the versions of the
libraries that unpickle it, and its bytes; one that fails the check, from corruption or a
write by anyone without the key, is removed and rebuilt from the artifacts. Entries are
written aside and renamed into place, so a concurrent reader (another worker) sees no
entry or a whole one. Past ``limit_bytes`` the least recently used entries are removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import pickle
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lanza.registry.versions import ModelVersionInfo
from lanza.runtime.serialization import library_versions, machine_key, read_signed

log = logging.getLogger("lanza.runtime")
SUFFIX = ".ready"


class ReadyCache:
    """Signed, ready-to-load model objects in ``folder``, at most ``limit_bytes`` of them."""

    def __init__(self, folder: Path, limit_bytes: int) -> None:
        self.folder = folder
        self.limit_bytes = limit_bytes
        self._lock = threading.Lock()
        self._digests: dict[tuple[str, int, int, int], str] = {}

    def key(
        self, tracking_uri: str, version: ModelVersionInfo, flavour: str, model_file: Path
    ) -> str:
        """The entry name of one version loaded by ``flavour`` from ``model_file``."""
        content = self._digest(model_file)
        identity = "|".join(
            [tracking_uri, version.name, version.version, version.source, flavour, content]
        )
        return hashlib.sha256(identity.encode()).hexdigest()

    def _digest(self, model_file: Path) -> str:
        """SHA-256 of the file's bytes, hashed once while its size, time and inode hold."""
        stat = model_file.stat()
        seen = (str(model_file), stat.st_size, stat.st_mtime_ns, stat.st_ino)
        found = self._digests.get(seen)
        if found is None:
            with model_file.open("rb") as handle:
                found = hashlib.file_digest(handle, "sha256").hexdigest()
            self._digests[seen] = found
        return found

    def path(self, key: str) -> Path:
        """The file of the entry ``key``."""
        return self.folder / f"{key}{SUFFIX}"

    def load(self, key: str, build: Callable[[], Any]) -> Any:
        """The model of entry ``key``: read when a valid entry exists, else ``build()`` and
        written for the next load."""
        entry = self.path(key)
        found = read_signed(entry, self._sign, key)
        if found is not None:
            with contextlib.suppress(OSError):
                os.utime(entry)  # its last use, for the least-recently-used order
            return found
        model = build()
        self._store(entry, key, model)
        return model

    def _store(self, entry: Path, key: str, model: Any) -> None:
        """Write an entry atomically, then trim the cache; a cache that cannot be written
        only costs speed."""
        try:
            body = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
            if len(body) > self.limit_bytes:
                return
            self.folder.mkdir(parents=True, exist_ok=True)
            staging = entry.with_name(f".{entry.name}.{os.getpid()}.{threading.get_ident()}")
            staging.write_bytes(self._sign(key, body) + body)
            os.replace(staging, entry)
        except Exception as exc:
            log.warning("the ready-to-load form of a model was not cached: %s", exc)
            return
        self.trim(keep=entry)

    def trim(self, keep: Path | None = None) -> None:
        """Remove the least recently used entries until the cache fits its limit."""
        with self._lock:
            entries: list[tuple[float, int, Path]] = []
            for path in self.folder.glob(f"*{SUFFIX}"):
                try:
                    stat = path.stat()
                except OSError:
                    continue
                entries.append((stat.st_mtime, stat.st_size, path))
            total = sum(size for _, size, _ in entries)
            for _, size, path in sorted(entries, key=lambda e: e[0]):
                if total <= self.limit_bytes:
                    break
                if path == keep:
                    continue
                path.unlink(missing_ok=True)
                total -= size

    def _sign(self, key: str, body: bytes | memoryview) -> bytes:
        signature = hmac.new(machine_key(self.folder), digestmod=hashlib.sha256)
        signature.update("|".join([key, *library_versions()]).encode())
        signature.update(body)  # fed apart: no copy of a large body
        return signature.digest()
