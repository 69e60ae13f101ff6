"""Which deployments are resident in this server process, and which to unload.

A deployment is ``always`` resident (loaded at start and kept) or ``on_demand``: loaded
by its first request, kept while used, and unloaded once resident models pass the process's
budget (``LANZA_SERVER__MODEL_MEMORY_MB``; those saving the fewest load seconds per byte
first, see ``ResidencyBook.victims``) or once unused for ``LANZA_SERVER__MODEL_IDLE_S``.
With several workers each holds its share of the budget (the budget over the workers) and
loads what its own requests need. A model's size is the
size of its artifacts on local disk (the serialized form the loader reads), measured before
it loads: known before the model is in memory, so room is made first, and deterministic
where a process's RSS delta moves with every concurrent load and allocator. Every resident
model counts towards the budget; only on-demand ones not answering a request are unloaded
to meet it.

This module keeps the book (state, size, last use, requests in flight) and picks what to
evict; the deployment manager does the loading and unloading.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from lanza.errors import ValidationError
from lanza.registry import ModelVersionInfo
from lanza.runtime.loader import ModelLoader
from lanza.serving.metrics import LATENCY_BUCKETS
from lanza.serving.spec import Residency

State = Literal["loaded", "unloaded", "loading"]
RATE_HALF_LIFE_S = 60.0
LOAD_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class ResidencyMetrics:
    """Loads, evictions, load seconds, resident bytes, and cold against warm latency."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.loads = Counter(
            "lanza_model_loads",
            "Models loaded into this process.",
            ["deployment"],
            registry=registry,
        )
        self.evictions = Counter(
            "lanza_model_evictions",
            "On-demand models unloaded; reason: budget or idle.",
            ["deployment", "reason"],
            registry=registry,
        )
        self.load_seconds = Histogram(
            "lanza_model_load_duration_seconds",
            "Seconds one load of a deployment's models took.",
            ["deployment"],
            buckets=LOAD_BUCKETS,
            registry=registry,
        )
        self.resident_bytes = Gauge(
            "lanza_models_resident_bytes",
            "Artifact bytes of the models resident in this process (what the budget counts).",
            registry=registry,
        )
        self.model_bytes = Gauge(
            "lanza_model_resident_bytes",
            "Artifact bytes of one deployment's resident models; 0 when unloaded.",
            ["deployment"],
            registry=registry,
        )
        self.start_latency = Histogram(
            "lanza_request_start_duration_seconds",
            "Requests to on-demand deployments; start: cold (waited for a load) or warm.",
            ["deployment", "start"],
            buckets=(*LATENCY_BUCKETS, 30, 60),
            registry=registry,
        )


@dataclass
class Entry:
    """What this process knows of one deployment's residency."""

    mode: Residency
    state: State = "unloaded"
    size_bytes: int = 0
    last_used: float | None = None
    in_use: int = 0
    loads: int = 0
    rate: float = 0.0  # requests, each weighing less as it ages (half-life RATE_HALF_LIFE_S)
    rated_at: float = 0.0
    load_seconds: float = 0.0  # what one load costs, smoothed over its loads

    def worth(self, now: float) -> float:
        """Load seconds its residency saves per byte it holds: its decayed requests times
        what a load costs, over its size. The smallest goes first."""
        return self.heat(now) * max(self.load_seconds, 1e-4) / max(self.size_bytes, 1)

    def heat(self, now: float) -> float:
        """The decayed count of its requests at ``now``."""
        return self.rate * math.pow(0.5, (now - self.rated_at) / RATE_HALF_LIFE_S)

    def describe(self) -> dict[str, object]:
        """For ``GET /api/v1/deployments/{name}``."""
        return {
            "mode": self.mode,
            "state": self.state,
            "size_bytes": self.size_bytes,
            "last_used": (
                None
                if self.last_used is None
                else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.last_used))
            ),
            "in_flight": self.in_use,
            "loads": self.loads,
        }


class HeapTrim:
    """Hands the memory of unloaded models back to the operating system.

    The C allocator keeps freed blocks for reuse, so a process's RSS stays near its peak
    after models are unloaded; ``malloc_trim`` (glibc) returns the free pages (measured:
    86 of 180 MB after unloading 30 random forests, in 27 ms). Called at most once per
    ``interval_s``; where there is no glibc it does nothing.
    """

    def __init__(self, interval_s: float = 1.0) -> None:
        self.interval_s = interval_s
        self._last = 0.0
        self._libc: Any = None
        with contextlib.suppress(OSError, AttributeError):
            found = ctypes.util.find_library("c")
            libc = ctypes.CDLL(found) if found else None
            self._libc = libc if libc is not None and hasattr(libc, "malloc_trim") else None

    def due(self) -> bool:
        """Whether a trim may run now (and, if so, the next not before the interval)."""
        now = time.monotonic()
        if self._libc is None or now - self._last < self.interval_s:
            return False
        self._last = now
        return True

    def trim(self) -> None:
        """Return free heap pages to the operating system."""
        if self._libc is not None:
            self._libc.malloc_trim(0)


class ResidencyBook:
    """Residency of every deployment in the process, the budget, and eviction order."""

    def __init__(
        self,
        metrics: ResidencyMetrics,
        budget_mb: float | None = None,
        idle_s: float | None = None,
        workers: int = 1,
    ) -> None:
        self.metrics = metrics
        # Each worker holds its share of the server's budget (see docs/many-models.md).
        self.workers = workers
        self.budget_bytes = None if budget_mb is None else int(budget_mb * 2**20 / workers)
        self.idle_s = idle_s
        self.heap = HeapTrim()
        self._entries: dict[str, Entry] = {}

    def entry(self, name: str, mode: Residency) -> Entry:
        """The entry of ``name``, created unloaded; its mode follows the latest spec."""
        found = self._entries.get(name)
        if found is None:
            found = self._entries[name] = Entry(mode)
        found.mode = mode
        return found

    def get(self, name: str) -> Entry | None:
        """The entry, if the deployment is known."""
        return self._entries.get(name)

    def forget(self, name: str) -> None:
        """The deployment is gone."""
        self._entries.pop(name, None)
        with contextlib.suppress(KeyError):
            self.metrics.model_bytes.remove(name)
        self._publish()

    @property
    def resident_bytes(self) -> int:
        """Bytes of models loaded or being loaded."""
        return sum(e.size_bytes for e in self._entries.values() if e.state != "unloaded")

    def check_fits(self, name: str, size_bytes: int) -> None:
        """422 when one deployment's models alone exceed the budget."""
        check_fits(name, size_bytes, self.budget_bytes, self.workers)

    def over_budget(self) -> bool:
        """Whether resident models pass the budget."""
        return self.budget_bytes is not None and self.resident_bytes > self.budget_bytes

    def victims(self, name: str | None, size_bytes: int) -> list[str]:
        """On-demand deployments to unload so that ``name`` fits: those whose residency
        saves the fewest load seconds per byte first (``Entry.worth``: requests, older ones
        weighing less, times the seconds one load takes, over the bytes held), the least
        recently used among equals; those answering a request are kept (the budget is then
        passed for a while).

        Under skewed traffic a burst of requests to rarely used models then does not push
        out the models most requests need, and one large model used as often as several
        small ones goes before them when its load costs less than theirs together (a
        greedy-dual-size-frequency order: fewer load seconds than least recently used or
        least used first; see docs/many-models.md).
        """
        if self.budget_bytes is None:
            return []
        others = self.resident_bytes - (0 if name is None else self._resident_size(name))
        excess = others + size_bytes - self.budget_bytes
        chosen: list[str] = []
        now = time.time()
        candidates = sorted(
            (
                (e.worth(now), e.last_used or 0.0, n)
                for n, e in self._entries.items()
                if n != name and e.mode == "on_demand" and e.state == "loaded" and e.in_use == 0
            ),
        )
        for _, _, candidate in candidates:
            if excess <= 0:
                break
            chosen.append(candidate)
            excess -= self._entries[candidate].size_bytes
        return chosen

    def idle(self, now: float) -> list[str]:
        """On-demand deployments unused for longer than the idle time."""
        if self.idle_s is None:
            return []
        return [
            n
            for n, e in self._entries.items()
            if e.mode == "on_demand"
            and e.state == "loaded"
            and e.in_use == 0
            and now - (e.last_used or 0.0) > self.idle_s
        ]

    # -- transitions ---------------------------------------------------------------

    def loading(self, name: str, mode: Residency, size_bytes: int) -> None:
        """A load began; its size counts from now, so concurrent loads make room too."""
        entry = self.entry(name, mode)
        entry.state, entry.size_bytes = "loading", size_bytes

    def loaded(self, name: str, mode: Residency, size_bytes: int, seconds: float) -> None:
        """A load finished: the models are resident."""
        entry = self.entry(name, mode)
        entry.state, entry.size_bytes = "loaded", size_bytes
        entry.loads += 1
        entry.load_seconds = seconds if entry.loads == 1 else (entry.load_seconds + seconds) / 2
        entry.last_used = entry.last_used or time.time()
        self.metrics.loads.labels(name).inc()
        self.metrics.load_seconds.labels(name).observe(seconds)
        self.metrics.model_bytes.labels(name).set(size_bytes)
        self._publish()

    def unloaded(self, name: str, reason: str | None = None) -> None:
        """The models left memory (``reason``: ``budget`` or ``idle`` for an eviction)."""
        entry = self._entries.get(name)
        if entry is None:
            return
        entry.state = "unloaded"
        if reason is not None:
            self.metrics.evictions.labels(name, reason).inc()
        self.metrics.model_bytes.labels(name).set(0)
        self._publish()

    def use(self, name: str) -> None:
        """A request started using the deployment: it is not evicted until released."""
        entry = self._entries.get(name)
        if entry is not None:
            now = time.time()
            entry.in_use += 1
            entry.last_used = now
            entry.rate = entry.heat(now) + 1
            entry.rated_at = now

    def release(self, name: str) -> None:
        """A request finished with the deployment."""
        entry = self._entries.get(name)
        if entry is not None:
            entry.in_use = max(0, entry.in_use - 1)
            entry.last_used = time.time()

    def _resident_size(self, name: str) -> int:
        entry = self._entries.get(name)
        return 0 if entry is None or entry.state == "unloaded" else entry.size_bytes

    def _publish(self) -> None:
        self.metrics.resident_bytes.set(self.resident_bytes)


def check_fits(name: str, size_bytes: int, budget_bytes: int | None, workers: int = 1) -> None:
    """422 when one deployment's models alone exceed one worker's budget (``None``: no
    budget)."""
    if budget_bytes is None or size_bytes <= budget_bytes:
        return
    if workers == 1:
        budget = f"server's model memory budget of {_mb(budget_bytes)} MB"
    else:
        budget = (
            f"share of the model memory budget one of the server's {workers} workers "
            f"holds, {_mb(budget_bytes)} MB"
        )
    raise ValidationError(
        f"Deployment '{name}' needs {_mb(size_bytes)} MB of models, more than the {budget} "
        "(LANZA_SERVER__MODEL_MEMORY_MB)."
    )


def deployment_bytes(loader: ModelLoader, versions: list[ModelVersionInfo]) -> int:
    """Artifact bytes of the distinct versions a deployment loads, downloading them first."""
    distinct = {v.ref: v for v in versions}.values()
    return sum(folder_bytes(loader.download(v)) for v in distinct)


def folder_bytes(path: Path) -> int:
    """Total size of the files under ``path``."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for file in files:
            try:
                total += os.path.getsize(os.path.join(root, file))
            except OSError:
                continue
    return total


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f}"
