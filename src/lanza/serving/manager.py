"""Keeps a server process's live deployments in step with the store and the registry.

Loads happen in the background; a new version is swapped in atomically only once it
has loaded, so no request fails during a swap. If a new version fails to load, the old
one keeps serving and the deployment reports the error. Every ``poll_interval_s`` the
manager re-reads the store (other workers and the CLI write there) and re-resolves
aliases, so moving ``champion`` in the registry rolls a deployment forward by itself.

An ``on_demand`` deployment is not loaded at start: its first request loads it (requests
that arrive meanwhile wait for that same load), and it is unloaded again when idle or to
make room under the model memory budget (``lanza.serving.residency``). A request never
fails because its model was unloaded: it waits for the model to load again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry

from lanza.clock import utcnow
from lanza.errors import LanzaError, NotFoundError, SwapRefusedError, UnavailableError
from lanza.registry.references import parse_reference
from lanza.registry.versions import ModelVersionInfo
from lanza.runtime.devices import check_device
from lanza.runtime.loader import ModelLoader
from lanza.serving.batcher import MicroBatcher
from lanza.serving.compat import incompatibility
from lanza.serving.live import LiveDeployment, Variant, failed
from lanza.serving.metrics import ServingMetrics
from lanza.serving.residency import ResidencyBook, ResidencyMetrics, deployment_bytes
from lanza.serving.spec import DeploymentSpec, DeploymentUpdate
from lanza.serving.store import DeploymentStore, StoredDeployment

log = logging.getLogger("lanza.serving")
RETIRE_AFTER_S = 5.0
START_WAIT_S = 120.0  # longest a server's start waits for its stored deployments to load
LOAD_THREADS = 2  # loads at once: each holds the GIL while it unpickles, so more buy nothing
T = TypeVar("T")


class DeploymentManager:
    """Live deployments of one server process."""

    def __init__(
        self,
        store: DeploymentStore,
        loader: ModelLoader,
        metrics: ServingMetrics,
        poll_interval_s: float = 5.0,
        residency: ResidencyBook | None = None,
    ) -> None:
        self.store = store
        self.loader = loader
        self.metrics = metrics
        self.poll_interval_s = poll_interval_s
        self._live: dict[str, LiveDeployment] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._watcher: asyncio.Task[None] | None = None
        self.residency = residency or ResidencyBook(ResidencyMetrics(CollectorRegistry()))
        self._demand: dict[str, asyncio.Task[None]] = {}
        self._rebalancing: asyncio.Task[None] | None = None
        # Versions and bytes of on-demand configurations that name versions, by deployment.
        self._sizes: dict[str, tuple[int, list[ModelVersionInfo], int]] = {}
        self._absent: dict[str, int] = {}
        self._loading = ThreadPoolExecutor(
            LOAD_THREADS, thread_name_prefix="lanza-load"
        )  # consecutive reads that lacked a live deployment
        # One catch-up read of the store at a time, for names this process has not heard of.
        self._catching: asyncio.Future[None] | None = None
        self._caught_at = 0.0  # when the current (or last) catch-up read began

    async def _aside(self, work: Callable[..., T], *args: Any) -> T:
        """``work(*args)`` on the loading threads.

        Loads, their measurements and heap trims get threads of their own instead of the
        event loop's default pool, where every prediction runs: a cold request's load then
        starts at once instead of queueing behind the warm requests' predictions (measured
        in docs/many-models.md), and a burst of loads cannot take every prediction thread.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._loading, partial(work, *args))

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        """Restore every stored deployment (in the background) and start watching.

        A store that cannot be read now is read again by the watcher, every poll interval.
        """
        try:
            listed = await asyncio.to_thread(self.store.list)
        except Exception:
            log.exception("deployments cannot be read at start; retrying every poll interval")
            listed = []
        for stored in listed:
            self._schedule(stored.spec, stored.generation)
        # A worker takes connections once its start-up ends: waiting for the loads here
        # means a worker started beside others (or restarted after a crash) never answers
        # 503 "still loading" for a deployment the others serve.
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=START_WAIT_S)
        self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def stop(self) -> None:
        """Stop watching and loading; answer what is queued; unload models."""
        for task in [self._watcher, *self._tasks, *self._demand.values()]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for live in self._live.values():
            await _retire(live)
        self._live.clear()
        self._loading.shutdown(wait=False, cancel_futures=True)

    # -- CRUD --------------------------------------------------------------------

    async def create(self, spec: DeploymentSpec) -> LiveDeployment:
        """Persist a new deployment and start loading it."""
        check_device(spec.device)
        await self._check_budget(spec)
        stored = await asyncio.to_thread(self.store.create, spec)
        return self._schedule(stored.spec, stored.generation)

    async def update(self, name: str, change: DeploymentUpdate) -> LiveDeployment:
        """Persist a change; the new configuration swaps in once it has loaded."""
        current = await asyncio.to_thread(self.store.get, name)
        spec = change.apply(current.spec)
        check_device(spec.device)
        await self._check_budget(spec)
        stored = await asyncio.to_thread(self.store.update, spec)
        return self._schedule(stored.spec, stored.generation)

    async def delete(self, name: str) -> None:
        """Remove a deployment and unload it."""
        await asyncio.to_thread(self.store.delete, name)
        live = self._live.pop(name, None)
        self.residency.forget(name)
        self._sizes.pop(name, None)
        if live is not None:
            await _retire(live)

    def get(self, name: str) -> LiveDeployment:
        """The live deployment, or 404."""
        live = self._live.get(name)
        if live is None:
            raise NotFoundError(f"There is no deployment named '{name}'.")
        return live

    def loaded(self, name: str) -> LiveDeployment | None:
        """The deployment when this process knows it and it answers now; else ``None``
        (no read of the store, no load): the quick look before ``find`` and ``resident``."""
        live = self._live.get(name)
        return live if live is not None and live.status == "ready" else None

    async def find(self, name: str) -> LiveDeployment:
        """``serving(name)``, reading the store first when this process has not heard of it.

        With ``--workers N`` a deployment created through one worker reaches the others at
        their next poll; a request for it in between is served after this catch-up instead
        of a 404. Requests for unknown names share one read of the store at a time, and a
        request waits for a read that began after it arrived, so none misses a deployment
        created just before it.
        """
        try:
            return self.serving(name)
        except NotFoundError:
            arrived = time.monotonic()
            while True:
                if self._catching is None or self._catching.done():
                    self._caught_at = time.monotonic()
                    self._catching = asyncio.ensure_future(self.sync())
                began = self._caught_at
                with contextlib.suppress(Exception):  # a database blip: the 404 stands
                    await asyncio.shield(self._catching)
                try:
                    return self.serving(name)
                except NotFoundError:
                    if began >= arrived:
                        raise

    def serving(self, name: str) -> LiveDeployment:
        """The deployment if it can answer now: 404 when unknown, 503 while loading or failed
        (``LiveDeployment.unavailable``); an on-demand one is loaded by the data plane."""
        live = self.get(name)
        reason = live.unavailable
        if reason is not None:
            raise UnavailableError(reason)
        return live

    def all(self) -> list[LiveDeployment]:
        """Every live deployment by name."""
        return [self._live[k] for k in sorted(self._live)]

    def describe(self, live: LiveDeployment) -> dict[str, object]:
        """The live deployment's status with its residency: state, size and last use."""
        entry = self.residency.get(live.spec.name)
        if entry is None:
            entry = self.residency.entry(live.spec.name, live.spec.residency)
        state = entry.describe()
        if live.spec.residency == "always":
            state["state"] = "loaded" if live.status == "ready" else live.status
        return {**live.describe(), "residency": state}

    # -- on demand ---------------------------------------------------------------

    async def hold(self, name: str) -> tuple[LiveDeployment, bool]:
        """An on-demand deployment, loaded (waiting for its load when needed) and marked
        in use until ``release``; ``True`` when the request had to wait for a load."""
        cold = False
        while True:
            live = self.get(name)
            if live.status == "ready":
                self.residency.use(name)
                return live, cold
            if live.spec.residency != "on_demand" or live.status == "failed":
                return self.serving(name), cold  # raises 503 with the reason
            cold = True
            task = self._demand.get(name)
            if task is None:
                task = asyncio.get_running_loop().create_task(self._bring_in(live))
                self._demand[name] = task
                task.add_done_callback(partial(self._forget_load, name))
            self.residency.use(name)  # a waiting request keeps the fresh load from eviction
            try:
                # Shielded: one waiter's cancelled request does not cancel the shared load.
                await asyncio.shield(task)
            except BaseException:
                self.residency.release(name)
                raise
            live = self.get(name)
            if live.status == "ready":
                return live, cold
            self.residency.release(name)  # changed meanwhile: load the new configuration

    def _forget_load(self, name: str, task: asyncio.Task[None]) -> None:
        if self._demand.get(name) is task:
            del self._demand[name]

    def release(self, name: str) -> None:
        """A request is done with an on-demand deployment; when the budget is passed (every
        model was in use when the last one loaded), the least recently used go now."""
        self.residency.release(name)
        if self.residency.over_budget() and self._rebalancing is None:
            task = asyncio.get_running_loop().create_task(self._rebalance())
            self._rebalancing = task
            task.add_done_callback(self._rebalanced)

    async def _rebalance(self) -> None:
        for victim in self.residency.victims(None, 0):
            await self._evict(victim, "budget")

    def _rebalanced(self, _task: asyncio.Task[None]) -> None:
        self._rebalancing = None

    async def resident(self, name: str) -> LiveDeployment:
        """The deployment loaded (loading an on-demand one when needed), not held."""
        live, _ = await self.hold(name)
        self.residency.release(name)
        return live

    async def _bring_in(self, live: LiveDeployment) -> None:
        spec, generation = live.spec, live.generation
        live.status = "loading"
        began = time.perf_counter()
        try:
            versions, size = await self._measured(spec, generation)
            self.residency.loading(spec.name, spec.residency, size)
            for victim in self.residency.victims(spec.name, size):
                await self._evict(victim, "budget")
            fresh = await self._build(spec, generation, versions)
        except Exception as exc:
            reason = exc.message if isinstance(exc, LanzaError) else f"{type(exc).__name__}: {exc}"
            self.residency.unloaded(spec.name)
            if self._live.get(spec.name) is live:
                live.status = "unloaded"  # the next request tries again
            log.warning("deployment %s failed to load on demand: %s", spec.name, reason)
            raise UnavailableError(f"Deployment '{spec.name}' failed to load: {reason}") from exc
        if self._live.get(spec.name) is not live:  # changed or deleted meanwhile
            await _retire(fresh)
            if spec.name in self._live:
                self.residency.unloaded(spec.name)
            return
        self._install(fresh, None)
        self.residency.loaded(spec.name, spec.residency, size, time.perf_counter() - began)

    async def _evict(self, name: str, reason: str) -> None:
        live = self._live.get(name)
        entry = self.residency.get(name)
        if live is None or live.status != "ready" or live.spec.residency != "on_demand":
            return
        if entry is None or entry.in_use:  # a request started using it meanwhile
            return
        self._live[name] = LiveDeployment(live.spec, live.generation, "unloaded")
        self.metrics.ready.labels(name).set(0)
        self.residency.unloaded(name, reason)
        log.info("deployment %s unloaded (%s)", name, reason)
        await _retire(live)
        del live  # the last reference: its memory is free before the heap is trimmed
        if self.residency.heap.due():
            await self._aside(self.residency.heap.trim)

    async def _measured(
        self, spec: DeploymentSpec, generation: int
    ) -> tuple[list[ModelVersionInfo], int]:
        """``_measure``, remembered for a configuration whose references all name a version
        (``NAME/VERSION`` never moves): a model loaded again after an eviction then reads
        neither the store nor its folder, only its ready-to-load form."""
        known = self._sizes.get(spec.name)
        if known is not None and known[0] == generation:
            return known[1], known[2]
        versions, size = await self._measure(spec)
        if all(_pinned(r) for r in [*(r.model for r in spec.routes), spec.shadow or "x/1"]):
            self._sizes[spec.name] = (generation, versions, size)
        return versions, size

    async def _measure(self, spec: DeploymentSpec) -> tuple[list[ModelVersionInfo], int]:
        """The versions the routes point to now, and the artifact bytes of every model the
        deployment loads (routes and shadow), downloaded to local disk if they were not."""
        # The loader reads a version on this machine straight from a local store, without
        # MLflow: a cold load then asks nothing of the registry server.
        resolve = self.loader.resolve
        versions = [await self._aside(resolve, r.model) for r in spec.routes]
        every = list(versions)
        if spec.shadow:
            every.append(await self._aside(resolve, spec.shadow))

        return versions, await self._aside(deployment_bytes, self.loader, every)

    async def _check_budget(self, spec: DeploymentSpec) -> None:
        """Past the budget: 422. An on-demand deployment's models are also resolved and
        fetched now, so a wrong reference fails at deploy time, not on its first request."""
        if self.residency.budget_bytes is None and spec.residency == "always":
            return
        _, size = await self._measure(spec)
        self.residency.check_fits(spec.name, size)

    async def _sweep(self) -> None:
        for name in self.residency.idle(time.time()):
            await self._evict(name, "idle")

    # -- loading -----------------------------------------------------------------

    def _schedule(self, spec: DeploymentSpec, generation: int) -> LiveDeployment:
        current = self._live.get(spec.name)
        self.residency.entry(spec.name, spec.residency)
        if spec.residency == "on_demand" and (current is None or current.status != "ready"):
            live = LiveDeployment(spec, generation, "unloaded")
            self._live[spec.name] = live
            self.residency.unloaded(spec.name)
            return live
        if current is None or current.status != "ready":
            current = LiveDeployment(spec, generation)
            self._live[spec.name] = current
        current.swapping = True
        task = asyncio.get_running_loop().create_task(self._load(spec, generation), name=spec.name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return current

    async def _load(
        self, spec: DeploymentSpec, generation: int, versions: list[ModelVersionInfo] | None = None
    ) -> None:
        try:
            fresh = await self._build(spec, generation, versions)
        except Exception as exc:
            self._failed(spec, generation, exc)
            return
        current = self._live.get(spec.name)
        if current is None or current.generation > generation:
            await _retire(fresh)  # deleted meanwhile, or a newer configuration won the race
            return
        # ``force`` belongs to the change that set it, not to later alias moves.
        problem = None if spec.force and versions is None else _refusal(current, fresh)
        if problem is not None and current is not None:
            await _retire(fresh)
            current.refused = generation
            self._failed(spec, generation, SwapRefusedError(problem))
            return
        self._install(fresh, current)
        every = [v.loaded.version for v in _all(fresh)]
        size = await self._aside(deployment_bytes, self.loader, every)
        seconds = sum(v.loaded.load_seconds for v in _all(fresh))
        self.residency.loaded(spec.name, spec.residency, size, seconds)

    def _install(self, fresh: LiveDeployment, current: LiveDeployment | None) -> None:
        spec = fresh.spec
        self._live[spec.name] = fresh
        self.metrics.ready.labels(spec.name).set(1)
        for variant in fresh.variants:
            self.metrics.load_time.labels(spec.name, variant.version).set(
                variant.loaded.load_seconds
            )
            self.metrics.device.labels(spec.name, variant.version, variant.device).set(1)
        if current is not None and current is not fresh:
            old = current
            asyncio.get_running_loop().call_later(
                RETIRE_AFTER_S, lambda: asyncio.ensure_future(_retire(old))
            )
        log.info("deployment %s serves %s", spec.name, [v.version for v in fresh.variants])

    async def _build(
        self, spec: DeploymentSpec, generation: int, versions: list[ModelVersionInfo] | None
    ) -> LiveDeployment:
        # The loader reads a version on this machine from the local store (no MLflow in the
        # process, a millisecond) and asks the registry only for what it cannot read there.
        resolve = self.loader.resolve
        if versions is None:
            versions = [await asyncio.to_thread(resolve, r.model) for r in spec.routes]
        variants = [
            await self._variant(spec, r.model, r.weight, v)
            for r, v in zip(spec.routes, versions, strict=True)
        ]
        shadow = None
        if spec.shadow:
            version = await asyncio.to_thread(resolve, spec.shadow)
            shadow = await self._variant(spec, spec.shadow, 0.0, version)
        return LiveDeployment(spec, generation, "ready", None, variants, shadow, utcnow())

    async def _variant(
        self, spec: DeploymentSpec, reference: str, weight: float, version: ModelVersionInfo
    ) -> Variant:
        loaded = await self._aside(self.loader.load_version, version, spec.device)
        name = spec.name

        def observe(rows: int, waited: float) -> None:
            self.metrics.batch_size.labels(name).observe(rows)
            self.metrics.queue_time.labels(name).observe(waited)

        batcher = MicroBatcher(loaded.runtime, spec.max_batch_size, spec.max_delay_ms, observe)
        batcher.start()
        return Variant(reference, weight, loaded, batcher)

    def _failed(self, spec: DeploymentSpec, generation: int, exc: Exception) -> None:
        reason = exc.message if isinstance(exc, LanzaError) else f"{type(exc).__name__}: {exc}"
        current = self._live.get(spec.name)
        if current is not None and current.status == "ready" and current.variants:
            current.last_swap_error = reason  # the old version keeps serving
            current.swapping = False
            log.warning(
                "deployment %s keeps %s: new configuration failed: %s",
                spec.name,
                [v.version for v in current.variants],
                reason,
            )
            return
        self._live[spec.name] = failed(spec, generation, reason)
        self.metrics.ready.labels(spec.name).set(0)
        log.warning("deployment %s failed to load: %s", spec.name, reason)

    # -- watching ----------------------------------------------------------------

    async def _watch(self) -> None:
        idle_s = self.residency.idle_s
        tick = self.poll_interval_s if idle_s is None else min(self.poll_interval_s, idle_s / 4)
        last_sync = time.monotonic()
        while True:
            await asyncio.sleep(tick)
            try:
                await self._sweep()
                if time.monotonic() - last_sync >= self.poll_interval_s:
                    last_sync = time.monotonic()
                    await self.sync()
            except Exception:
                log.exception("deployment sync failed")

    async def sync(self) -> None:
        """Catch up with the store and with alias moves in the registry."""
        # A deployment created while the store is read is missing from what was read:
        # only those live before the read, and still the same object, are retired.
        # A deployment is retired only when two reads in a row lack it, so one odd answer
        # during a database blip never takes a serving deployment away.
        before = dict(self._live)
        stored = {s.spec.name: s for s in await asyncio.to_thread(self.store.list)}
        for name, was in before.items():
            if name in stored or self._live.get(name) is not was:
                self._absent.pop(name, None)
                continue
            self._absent[name] = self._absent.get(name, 0) + 1
            if self._absent[name] >= 2:
                del self._absent[name]
                self.residency.forget(name)
                self._sizes.pop(name, None)
                await _retire(self._live.pop(name))
        for name, item in stored.items():
            live = self._live.get(name)
            if self._busy(name):
                continue
            if live is not None and live.refused == item.generation:
                continue  # refused for its signature: not retried until changed again
            if live is None or live.generation < item.generation:
                self._schedule(item.spec, item.generation)
            elif live.status == "ready":
                await self._follow_aliases(live, item)

    async def _follow_aliases(self, live: LiveDeployment, item: StoredDeployment) -> None:
        refs = [r.model for r in item.spec.routes]
        if all(_pinned(r) for r in refs):
            return  # NAME/VERSION never moves: nothing to ask the registry every poll
        try:
            versions = [await asyncio.to_thread(self.loader.resolve, r) for r in refs]
        except LanzaError as exc:
            live.last_swap_error = exc.message
            return
        if [v.ref for v in versions] != [v.version for v in live.variants]:
            live.swapping = True
            await self._load(item.spec, item.generation, versions)

    def _busy(self, name: str) -> bool:
        return any(not t.done() and t.get_name() == name for t in self._tasks)


def _pinned(reference: str) -> bool:
    """Whether a reference names one version (``NAME/VERSION``), not an alias."""
    try:
        return parse_reference(reference).version is not None
    except LanzaError:
        return False


def _all(live: LiveDeployment) -> list[Variant]:
    return [*live.variants, *([live.shadow] if live.shadow else [])]


def _refusal(current: LiveDeployment | None, fresh: LiveDeployment) -> str | None:
    """Why swapping ``current`` for ``fresh`` would break callers, or ``None``."""
    if current is None or current.status != "ready" or not current.variants:
        return None
    old = current.variants[0]
    for variant in fresh.variants:
        problem = incompatibility(old.loaded.runtime.schema, variant.loaded.runtime.schema)
        if problem is not None:
            return (
                f"swap to {variant.version} refused: {problem}; {old.version} keeps serving "
                "(update again with force to swap anyway)"
            )
    return None


async def _retire(live: LiveDeployment) -> None:
    for variant in _all(live):
        await variant.batcher.stop()
        variant.loaded.runtime.unload()
