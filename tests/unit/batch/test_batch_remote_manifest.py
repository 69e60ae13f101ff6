"""The manifest on an output URL: one record object per part, O(P) manifest bytes, resume."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from lanza.batch.manifest import (
    MANIFEST,
    Manifest,
    PartRecord,
    open_output,
    record_name,
)
from lanza.batch.remote import RemoteFolder, output_folder
from lanza.batch.spec import BatchOptions


class CountingFolder(RemoteFolder):
    """A ``memory://`` folder that counts the manifest's writes and their bytes."""

    manifest_writes = 0
    manifest_bytes = 0

    def write(self, name: str, data: bytes) -> None:
        if name == MANIFEST:
            self.manifest_writes += 1
            self.manifest_bytes += len(data)
        super().write(name, data)


@pytest.fixture
def folder() -> Iterator[CountingFolder]:
    root = f"/manifest-{uuid.uuid4().hex}"
    plain = output_folder(f"memory:/{root}/")
    assert isinstance(plain, RemoteFolder)
    yield CountingFolder(plain.url, plain.fs, plain.root)
    if plain.fs.exists(root):
        plain.fs.rm(root, recursive=True)


def _options(**changes: object) -> BatchOptions:
    values: dict[str, object] = {"model": "m/1", "input": "in.csv", "output": "memory://x"}
    return BatchOptions(**(values | changes))  # type: ignore[arg-type]


def _commit(manifest: Manifest, folder: RemoteFolder, count: int) -> None:
    for _ in range(count):
        i = manifest.next_index
        manifest.commit(folder, PartRecord(i, f"part-{i:05d}.parquet", i * 10, 10, 10, 0))


def _records(folder: RemoteFolder) -> list[str]:
    return [n for n in folder.names() if n.startswith("_manifest.parts/")]


def test_parts_are_records_and_the_manifest_is_rewritten_rarely(folder: CountingFolder) -> None:
    manifest = open_output(folder, _options(), "m/1", ["in.csv"])
    _commit(manifest, folder, 200)
    # Written at open, then when 64 records had piled up (after parts 64, 128 and 192).
    assert folder.manifest_writes == 4
    assert len(_records(folder)) == 200
    loaded = Manifest.load(folder)
    assert loaded is not None
    assert [p.index for p in loaded.parts] == list(range(200))
    manifest.complete = True
    manifest.save(folder)
    assert _records(folder) == []
    done = Manifest.load(folder)
    assert done is not None
    assert done.complete
    assert len(done.parts) == 200


def test_manifest_bytes_grow_linearly_with_the_parts(folder: CountingFolder) -> None:
    manifest = open_output(folder, _options(), "m/1", ["in.csv"])
    _commit(manifest, folder, 3000)
    manifest.complete = True
    manifest.save(folder)
    final = len(folder.read(MANIFEST) or b"")
    # Rewritten after each part, the manifest would have cost about 1,500 times its size.
    assert folder.manifest_writes < 30
    assert folder.manifest_bytes < 12 * final


def test_a_gap_ends_the_parts_and_records_already_in_the_manifest_are_ignored(
    folder: CountingFolder,
) -> None:
    manifest = open_output(folder, _options(), "m/1", ["in.csv"])
    _commit(manifest, folder, 70)  # the manifest took in parts 0-63; records 0-69 remain
    folder.write(record_name(71), folder.read(record_name(69)) or b"")
    loaded = Manifest.load(folder)
    assert loaded is not None
    assert [p.index for p in loaded.parts] == list(range(70))


def test_resuming_takes_the_records_in_and_deletes_them(folder: CountingFolder) -> None:
    manifest = open_output(folder, _options(), "m/1", ["in.csv"])
    _commit(manifest, folder, 70)
    resumed = open_output(folder, _options(resume=True), "m/1", ["in.csv"])
    assert resumed.next_index == 70
    assert _records(folder) == []
    _commit(resumed, folder, 5)
    loaded = Manifest.load(folder)
    assert loaded is not None
    assert loaded.next_index == 75


def test_overwrite_removes_the_records(folder: CountingFolder) -> None:
    manifest = open_output(folder, _options(), "m/1", ["in.csv"])
    _commit(manifest, folder, 3)
    fresh = open_output(folder, _options(overwrite=True), "m/1", ["in.csv"])
    assert fresh.next_index == 0
    assert _records(folder) == []
