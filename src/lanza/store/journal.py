"""A local append-only journal: records survive the death of the process that accepted them.

Each accepted record is one line copied into a segment file under a folder of
``LANZA_HOME`` that is mapped into memory (``mmap``, shared): once the copy is done the
bytes sit in the kernel's page cache, which outlives a ``kill -9`` of the process, exactly
as an ``os.write`` would leave them (``fsync=True`` also survives power loss, at a cost
per record). A copy makes no system call, so the request path never lets go of the GIL
to journal a record; under load a released GIL is taken by another thread and the
request waits for it. Each segment's blocks are reserved when it is created
(``posix_fallocate``), so a full disk is an ``OSError`` then, never a ``SIGBUS`` in the
middle of a copy, and the writer thread prepares the next segment before the current one
fills. The unused tail of a segment is zeros; a segment kept for replay is cut to what
was written.

A writer drains records into the database and then ``commit``s the byte offset it
reached to the segment's ``.done`` file; a segment fully drained and no longer written
to is deleted.

Every process writes its own segments and holds an exclusive ``flock`` on each until it
is gone, so at start-up a segment nobody holds belongs to a process that died: its lines
past the committed offset are the records to ``replay``. A crash between the database
commit and the offset commit replays one batch twice, so a replaying writer skips records
the database already has (an idempotent insert keyed by the record's id).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import mmap
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("lanza.journal")
SUFFIX = ".jsonl"
DONE = ".done"
# Small enough that a segment's pages (counted in the process's RSS while mapped) stay
# modest, large enough that a new one is needed every few thousand records.
SEGMENT_BYTES = 8 * 1024 * 1024


@dataclass(eq=False)
class Segment:
    """One file of the journal, open for appending, with the offset drained so far."""

    path: Path
    fd: int
    done_fd: int
    memory: mmap.mmap
    size: int = 0
    committed: int = 0
    closed: bool = field(default=False)

    @property
    def capacity(self) -> int:
        """Bytes reserved for the segment."""
        return len(self.memory)

    def close(self) -> None:
        """Unmap, cut the file to what was written, release the descriptors and the lock."""
        if not self.closed:
            self.closed = True
            self.memory.close()
            with contextlib.suppress(OSError):  # the file may be gone already
                os.ftruncate(self.fd, self.size)
            os.close(self.done_fd)
            os.close(self.fd)

    def remove(self) -> None:
        """Delete the segment and its offset, then let go of the lock."""
        for path in (self.path, _done_path(self.path)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self.close()


@dataclass(frozen=True, slots=True)
class Position:
    """Where an appended record ends: commit it once the record is in the database."""

    segment: Segment
    end: int


class Journal:
    """The segments of one process under ``folder``; ``append`` is safe from any thread."""

    def __init__(
        self, folder: Path, fsync: bool = False, segment_bytes: int = SEGMENT_BYTES
    ) -> None:
        self.folder = folder
        self.fsync = fsync
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._current: Segment | None = None
        self._spare: Segment | None = None
        self._open: list[Segment] = []
        self._wanted = False

    def open(self) -> None:
        """Create the folder and this process's first segment; ``OSError`` on a full disk.

        After a failed ``open`` the journal stays wanted: ``prepare`` tries again, so
        journalling starts once the disk has room.
        """
        self._wanted = True
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._lock:
            if self._current is None:
                self._current = self._new_segment(self.segment_bytes)
                self._open.append(self._current)

    def append(self, line: bytes) -> Position:
        """Write one record (a line without newlines or NUL bytes); ``OSError`` if it cannot."""
        data = line + b"\n"
        with self._lock:
            segment = self._current
            if segment is None:
                raise OSError("the journal is not open")
            end = segment.size + len(data)
            if end > segment.capacity:
                segment = self._current = self._next_segment(len(data))
                end = len(data)
            segment.memory[segment.size : end] = data
            if self.fsync:
                segment.memory.flush()
            segment.size = end
            return Position(segment, end)

    def prepare(self) -> None:
        """Reserve the next segment once the current one is half full (off the request path).

        A journal whose first segment could not be made (a full disk at start) is opened here.
        """
        with self._lock:
            missing = self._wanted and self._current is None
        if missing:
            self.open()
            return
        with self._lock:
            current = self._current
            if current is None or self._spare is not None or current.size < current.capacity // 2:
                return
        spare = self._new_segment(self.segment_bytes)
        with self._lock:
            if self._spare is None and self._current is not None:
                self._spare = spare
                return
        self._forget(spare)

    def commit(self, positions: list[Position]) -> None:
        """Record that every record up to these positions is in the database."""
        reached: dict[Segment, int] = {}
        for position in positions:
            reached[position.segment] = max(reached.get(position.segment, 0), position.end)
        with self._lock:
            for segment, end in reached.items():
                if segment.closed or end <= segment.committed:
                    continue
                segment.committed = end
                os.pwrite(segment.done_fd, f"{end:020d}".encode(), 0)
                if self.fsync:
                    os.fsync(segment.done_fd)
                if segment is not self._current and segment.committed >= segment.size:
                    segment.remove()
                    self._open.remove(segment)

    def close(self) -> None:
        """Close every segment; those fully committed are deleted, the rest kept for replay."""
        with self._lock:
            for segment in self._open:
                if segment.committed >= segment.size:
                    segment.remove()
                else:
                    segment.close()
            self._open.clear()
            if self._spare is not None:
                self._forget(self._spare)
            self._current = self._spare = None
            self._wanted = False

    def orphans(self) -> Iterator[Orphan]:
        """Segments left by processes that are gone, each locked for this process."""
        if not self.folder.is_dir():
            return
        for path in sorted(self.folder.glob(f"*{SUFFIX}")):
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # its process is alive (or it is one of ours)
                os.close(fd)
                continue
            yield Orphan(path, fd)

    def _next_segment(self, needed: int) -> Segment:
        """The prepared spare when the record fits in it, else a new segment (lock held)."""
        spare, self._spare = self._spare, None
        if spare is not None and needed <= spare.capacity:
            self._open.append(spare)
            return spare
        if spare is not None:
            self._forget(spare)
        segment = self._new_segment(max(self.segment_bytes, needed))
        self._open.append(segment)
        return segment

    def _new_segment(self, capacity: int) -> Segment:
        """A locked, reserved and mapped segment file, not yet in ``_open``."""
        # Lock under a hidden name, then rename: a scan never sees an unlocked live segment.
        name = f"{time.time_ns():020d}-{os.getpid()}"
        hidden = self.folder / f".{name}{SUFFIX}"
        fd = os.open(hidden, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            _reserve(fd, capacity)  # ENOSPC here, not SIGBUS in a copy
            memory = mmap.mmap(fd, capacity, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        except OSError:
            os.close(fd)
            hidden.unlink(missing_ok=True)
            raise
        path = self.folder / f"{name}{SUFFIX}"
        done_fd = os.open(_done_path(path), os.O_RDWR | os.O_CREAT, 0o600)
        os.pwrite(done_fd, f"{0:020d}".encode(), 0)
        hidden.rename(path)
        return Segment(path, fd, done_fd, memory)

    @staticmethod
    def _forget(segment: Segment) -> None:
        """Delete a segment nothing was written to."""
        segment.remove()


@dataclass
class Orphan:
    """A dead process's segment, locked by this one until ``remove``d or ``release``d."""

    path: Path
    fd: int

    def records(self) -> list[bytes]:
        """The lines past the committed offset; a torn last line (power loss) is skipped."""
        try:
            committed = int(_done_path(self.path).read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            committed = 0
        data = self.path.read_bytes()[committed:]
        unused = data.find(b"\0")  # the reserved tail a live segment had not reached
        if unused >= 0:
            data = data[:unused]
        lines = data.split(b"\n")
        if lines and lines[-1]:
            log.warning("journal %s ends in a torn record; it is skipped", self.path.name)
        return [line for line in lines[:-1] if line]

    def remove(self) -> None:
        """Delete the segment once its records are in the database."""
        for path in (self.path, _done_path(self.path)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self.release()

    def release(self) -> None:
        """Let go of the lock, keeping the segment for a later replay."""
        with contextlib.suppress(OSError):
            os.close(self.fd)


def _reserve(fd: int, size: int) -> None:
    """Give the file ``size`` bytes of real blocks (zeros), so writes through a mapping
    of it never meet a full disk."""
    if hasattr(os, "posix_fallocate"):
        os.posix_fallocate(fd, 0, size)
        return
    zeros = bytes(1 << 20)  # macOS has no posix_fallocate: write the zeros
    for start in range(0, size, len(zeros)):
        os.pwrite(fd, zeros[: min(len(zeros), size - start)], start)


def _done_path(path: Path) -> Path:
    return path.with_suffix(DONE)
