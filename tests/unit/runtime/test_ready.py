"""The ready cache's entries: signed, written whole, trimmed least recently used first."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from lanza.runtime.ready import SUFFIX, ReadyCache


def _names(folder: Path) -> set[str]:
    return {p.name.removesuffix(SUFFIX) for p in folder.glob(f"*{SUFFIX}")}


def test_entries_past_the_limit_go_least_recently_used_first(tmp_path: Path) -> None:
    block = np.zeros(100_000, dtype=np.uint8)  # about 100 kB pickled
    cache = ReadyCache(tmp_path, limit_bytes=250_000)  # room for two entries
    built: list[str] = []

    def build(name: str) -> np.ndarray:  # type: ignore[type-arg]
        built.append(name)
        return block

    for name in ("a", "b"):
        cache.load(name, lambda n=name: build(n))
    old = time.time() - 60
    os.utime(cache.path("a"), (old, old))
    os.utime(cache.path("b"), (old - 10, old - 10))  # b: used longest ago
    cache.load("a", lambda: build("a"))  # a hit: a becomes the most recently used
    assert built == ["a", "b"]
    cache.load("c", lambda: build("c"))
    assert _names(tmp_path) == {"a", "c"}
    assert not list(tmp_path.glob(".*.ready.*"))  # no staging file left behind


def test_a_model_larger_than_the_cache_is_built_but_not_kept(tmp_path: Path) -> None:
    cache = ReadyCache(tmp_path, limit_bytes=1_000)
    answer = cache.load("big", lambda: np.zeros(10_000))
    assert answer.shape == (10_000,)
    assert _names(tmp_path) == set()


def test_an_entry_written_without_the_key_is_rebuilt(tmp_path: Path) -> None:
    cache = ReadyCache(tmp_path, limit_bytes=10_000_000)
    cache.load("k", lambda: [1, 2, 3])
    cache.path("k").write_bytes(b"\0" * 32 + b"not a signed pickle")
    assert cache.load("k", lambda: [4, 5, 6]) == [4, 5, 6]
    assert cache.load("k", lambda: [7]) == [4, 5, 6]


def test_large_arrays_come_back_in_buffers_of_their_own(tmp_path: Path) -> None:
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2_000, 4))
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(x, x[:, 0] > 0)
    model = {"forest": forest, "big": np.arange(50_000.0), "small": np.arange(3.0)}
    cache = ReadyCache(tmp_path, limit_bytes=10_000_000)
    cache.load("m", lambda: model)
    loaded = cache.load("m", lambda: None)
    assert loaded is not model
    np.testing.assert_array_equal(loaded["big"], model["big"])
    # The large array holds its own bytes only, read from the file; the small one was copied.
    owner = loaded["big"].base
    while isinstance(owner, np.ndarray):
        owner = owner.base
    owner = owner.obj if isinstance(owner, memoryview) else owner
    assert isinstance(owner, bytearray)
    assert len(owner) == model["big"].nbytes
    assert loaded["big"].flags.writeable
    np.testing.assert_array_equal(loaded["small"], model["small"])
    np.testing.assert_array_equal(loaded["forest"].predict_proba(x), forest.predict_proba(x))


def test_an_entry_changed_after_its_check_is_checked_again(tmp_path: Path) -> None:
    cache = ReadyCache(tmp_path, limit_bytes=10_000_000)
    cache.load("k", lambda: np.arange(10_000.0))
    assert cache.load("k", lambda: None) is not None  # checked once, now trusted
    entry = cache.path("k")
    stat = entry.stat()
    data = bytearray(entry.read_bytes())
    data[-8:] = np.float64(-1.0).tobytes()  # the last value, same size
    with entry.open("r+b") as handle:  # in place: same inode
        handle.write(data)
    os.utime(entry, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the old time, set back
    rebuilt = cache.load("k", lambda: np.zeros(3))
    np.testing.assert_array_equal(rebuilt, np.zeros(3))
