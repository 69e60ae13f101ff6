"""The ``ray`` engine: Ray Data ``map_batches`` over an actor pool, in input order.

The driver reads chunks (so chunk numbers, and with them exactly-once parts, are the
same as with the local engine) and hands windows of chunks to Ray Data; CSV blocks
travel as raw lines and are parsed by the actors. Each actor takes the model from the
object store once, when it starts, and scores whole chunks;
actors ask for a GPU when the model's device is ``cuda``. Ray is optional:
``pip install 'lanza[ray]'`` (plain ``ray`` suffices: Ray Data's other needs are
lanza's own).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from itertools import islice
from typing import Any

from lanza.batch.engines import Engine
from lanza.batch.readers import Unread
from lanza.batch.scoring import ChunkScorer, ScoreOptions
from lanza.batch.spec import ScoredChunk
from lanza.errors import InvalidInputError
from lanza.runtime.base import ModelRuntime

INSTALL = "The ray engine needs Ray: pip install ray (or install lanza with its ray extra)."


class RayEngine(Engine):
    """Scores chunks on a Ray cluster (a local one when no address is given)."""

    name = "ray"

    def __init__(
        self,
        runtime: ModelRuntime,
        options: ScoreOptions,
        address: str | None,
        actors: int,
    ) -> None:
        try:
            import ray
        except ImportError as exc:
            raise InvalidInputError(INSTALL) from exc
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
            self._started = True
        self.actors = actors
        self.gpus = 1 if runtime.device.startswith("cuda") else 0
        self._scorer = ray.put(ChunkScorer(runtime, options))

    def run(self, chunks: Iterator[Unread]) -> Iterator[ScoredChunk]:
        window = max(self.actors * 4, 8)
        while batch := list(islice(chunks, window)):
            yield from self._score(batch)

    def _score(self, chunks: list[Unread]) -> Iterator[ScoredChunk]:
        import ray.data

        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        items = [{"chunk": pickle.dumps(c, protocol=5)} for c in chunks]
        dataset = ray.data.from_items(items).map_batches(
            _RayScorer,
            fn_constructor_args=(self._scorer,),
            batch_size=1,
            concurrency=min(self.actors, len(chunks)),
            num_gpus=self.gpus,
            batch_format="numpy",
        )
        for row in dataset.iter_rows():
            yield pickle.loads(row["scored"])  # our own objects, in our own cluster

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()


class _RayScorer:
    """A Ray actor: takes the scorer (and its loaded model) once, then scores chunks."""

    def __init__(self, scorer: Any) -> None:
        import ray

        self.scorer: ChunkScorer = ray.get(scorer) if isinstance(scorer, ray.ObjectRef) else scorer

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        out = []
        for blob in batch["chunk"]:
            chunk = pickle.loads(blob)  # written by the driver of this job
            out.append(pickle.dumps(self.scorer.score(chunk), protocol=5))
        return {"scored": out}
