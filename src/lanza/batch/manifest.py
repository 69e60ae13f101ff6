"""The manifest: which parts of an output are committed, and which input rows they hold.

A part counts only once the manifest lists it. In a local folder, committing a part
appends one line to ``_manifest.parts`` (write, fsync): a job of P parts writes O(P)
bytes of manifest, where rewriting the whole file after each part wrote O(P²), which
for a billion rows in 20,000-row parts is tens of GB. ``_manifest.json`` is written
atomically (temporary file, fsync, rename) when a job opens, resumes and completes; it
then takes in the appended parts and the log is deleted. A job killed at any moment
leaves whole lines and whole parts (a torn last line, possible only on power loss, is
ignored). ``--resume`` starts at the first chunk the manifest does not list and
rewrites any part file left over from the kill.

On an output URL (see ``remote``), where objects cannot be appended to, committing a
part writes its record as one small object, ``_manifest.parts/NNNNNNNN.json``. The
whole manifest object takes the records in when the job opens, resumes and completes,
and whenever the records since the last time outnumber both 64 and an eighth of the
parts: the manifest is rewritten O(log P) times, so its bytes stay O(P), and a resume
reads at most that many records. The records are deleted, in bulk, once the job
completes (or resumes); until then those the manifest holds are ignored.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from lanza.batch.readers import kind_of
from lanza.batch.remote import RemoteFolder
from lanza.batch.spec import BatchOptions
from lanza.batch.writers import ERRORS_DIR, append_synced, write_atomic
from lanza.errors import BatchError, ConflictError

MANIFEST = "_manifest.json"
PART_LOG = "_manifest.parts"
RECORD = re.compile(rf"^{re.escape(PART_LOG)}/(\d+)\.json$")
FOLD_AFTER = 64  # records on a URL before the manifest takes them in (or parts / 8)
# Options that change which rows land in which part, or how they are written.
FIXED = ("input", "format", "chunk_rows", "keep_columns", "probabilities")
CHUNKING = 3


@dataclass
class PartRecord:
    """One committed part: its file, the input rows it covers, and what became of them."""

    index: int
    file: str | None
    start: int
    rows: int
    written: int
    errors: int
    errors_file: str | None = None


@dataclass
class Manifest:
    """What a job wrote so far; the single source of truth of an output folder."""

    model: str
    options: dict[str, Any]
    files: list[str]
    parts: list[PartRecord] = field(default_factory=list)
    complete: bool = False
    # How chunks of text files are counted: 2 is non-empty lines (malformed ones
    # included) for CSV, 3 for JSON Lines too; before, chunks held parsed rows.
    chunking: int = 1
    # Parts in the manifest file as last written; those after it are in the log or records.
    _folded: int = field(default=0, init=False, repr=False, compare=False)

    @property
    def next_index(self) -> int:
        """The first chunk not committed yet."""
        return len(self.parts)

    @property
    def rows(self) -> int:
        """Input rows covered by committed parts."""
        return sum(p.rows for p in self.parts)

    @property
    def written(self) -> int:
        """Output rows in committed parts."""
        return sum(p.written for p in self.parts)

    @property
    def errors(self) -> int:
        """Rows in error in committed parts."""
        return sum(p.errors for p in self.parts)

    def commit(self, folder: Path | RemoteFolder, part: PartRecord) -> None:
        """Add a part: the line or object that records it is the commit point."""
        if part.index != self.next_index:
            raise BatchError(
                f"Part {part.index} arrived out of order (expected {self.next_index})."
            )
        self.parts.append(part)
        record = orjson.dumps(asdict(part))
        if isinstance(folder, Path):
            append_synced(folder / PART_LOG, record + b"\n")
            return
        folder.write(record_name(part.index), record)
        if len(self.parts) - self._folded >= max(FOLD_AFTER, self._folded // 8):
            self.save(folder)

    def save(self, folder: Path | RemoteFolder) -> None:
        """Write the whole manifest atomically (rename locally, one object on a URL).

        Locally the part log is then deleted, as the file holds every part; on a URL the
        records are deleted once the job is complete.
        """
        data = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        text = orjson.dumps(data, option=orjson.OPT_INDENT_2)
        if isinstance(folder, RemoteFolder):
            folder.write(MANIFEST, text)
            if self.complete:
                folder.remove(list(_records(folder).values()))
        else:
            write_atomic(folder / MANIFEST, text)
            (folder / PART_LOG).unlink(missing_ok=True)
        self._folded = len(self.parts)

    @classmethod
    def load(cls, folder: Path | RemoteFolder) -> Manifest | None:
        """The folder's manifest, or ``None`` when it has none."""
        if isinstance(folder, RemoteFolder):
            path: object = f"{folder}/{MANIFEST}"
            raw = folder.read(MANIFEST)
        else:
            local = folder / MANIFEST
            path, raw = local, local.read_bytes() if local.exists() else None
        if raw is None:
            return None
        try:
            data = orjson.loads(raw)
            parts = [PartRecord(**p) for p in data.pop("parts")]
            manifest = cls(**data, parts=parts)
        except (orjson.JSONDecodeError, TypeError, KeyError) as exc:
            raise BatchError(f"{path} is not a lanza batch manifest: {exc}.") from exc
        manifest._folded = len(parts)
        if isinstance(folder, Path):
            manifest.parts += _logged_parts(folder / PART_LOG, len(parts))
        else:
            manifest.parts += _recorded_parts(folder, len(parts))
        return manifest


def record_name(index: int) -> str:
    """The object that commits part ``index`` of an output URL."""
    return f"{PART_LOG}/{index:08d}.json"


def _records(folder: RemoteFolder) -> dict[int, str]:
    """Part record objects under an output URL, by part index."""
    return {int(m.group(1)): n for n in folder.names() if (m := RECORD.match(n))}


def open_output(
    folder: Path | RemoteFolder, options: BatchOptions, model: str, files: list[str]
) -> Manifest:
    """Prepare the output folder and return the manifest to continue (or a fresh one)."""
    if isinstance(folder, RemoteFolder):
        return _open_remote(folder, options, model, files)
    fixed = {k: options.to_dict()[k] for k in FIXED}
    existing = Manifest.load(folder) if folder.exists() else None
    if options.resume and existing is not None:
        _check_same(existing, fixed, files, folder)
        existing.save(folder)  # takes in the part log, so new lines follow whole ones
        return existing
    if folder.exists() and any(folder.iterdir()):
        if not (options.overwrite or options.resume):
            raise ConflictError(
                f"The output {folder} already has files; pass --overwrite to replace them "
                "or --resume to continue the job that wrote them."
            )
        clear_output(folder)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(model, fixed, files, chunking=CHUNKING)
    manifest.save(folder)
    return manifest


def _open_remote(
    folder: RemoteFolder, options: BatchOptions, model: str, files: list[str]
) -> Manifest:
    """``open_output`` on a URL: parts past the manifest's last are deleted, not renamed over."""
    fixed = {k: options.to_dict()[k] for k in FIXED}
    existing = Manifest.load(folder)
    if options.resume and existing is not None:
        _check_same(existing, fixed, files, folder)
        folder.remove(folder.parts(existing.next_index))
        existing.save(folder)  # takes in the records, which can then go
        folder.remove(list(_records(folder).values()))
        return existing
    if folder.names():
        if not (options.overwrite or options.resume):
            raise ConflictError(
                f"The output {folder} already has files; pass --overwrite to replace them "
                "or --resume to continue the job that wrote them."
            )
        manifest_objects = [MANIFEST] if existing is not None else []
        folder.remove([*folder.parts(), *_records(folder).values(), *manifest_objects])
    manifest = Manifest(model, fixed, files, chunking=CHUNKING)
    manifest.save(folder)
    return manifest


def output_has_files(folder: Path | RemoteFolder) -> bool:
    """Whether an output already holds anything (a new job would need --overwrite)."""
    if isinstance(folder, RemoteFolder):
        return bool(folder.names())
    return folder.is_dir() and any(folder.iterdir())


def clear_output(folder: Path) -> None:
    """Remove what a batch job writes: parts, error files, temporary files, the manifest."""
    for path in folder.iterdir():
        if path.name == ERRORS_DIR and path.is_dir():
            shutil.rmtree(path)
        elif path.is_file() and (
            path.name.startswith(("part-", ".part-", "._manifest"))
            or path.name in (MANIFEST, PART_LOG)
        ):
            path.unlink()


def _check_same(
    manifest: Manifest, fixed: dict[str, Any], files: list[str], folder: Path | RemoteFolder
) -> None:
    for key, value in fixed.items():
        if manifest.options.get(key) != value:
            raise ConflictError(
                f"The job in {folder} ran with {key}={manifest.options.get(key)!r}, not "
                f"{value!r}; resume with the same options or pass --overwrite."
            )
    if manifest.files != files:
        raise ConflictError(
            f"The input files changed since the job in {folder} started; "
            "pass --overwrite to start again."
        )
    lines_since = {"csv": 2, "jsonl": 3}  # the first chunking that cut the kind into lines
    if any(manifest.chunking < lines_since.get(kind_of(f), 0) for f in files):
        raise ConflictError(
            f"The job in {folder} was started by an earlier lanza, which cut its input files "
            "into chunks differently; pass --overwrite to start again."
        )


def _logged_parts(path: Path, after: int) -> list[PartRecord]:
    """Parts appended to the log past the first ``after``, in order, up to a torn line."""
    if not path.exists():
        return []
    parts: list[PartRecord] = []
    for line in path.read_bytes().splitlines():
        try:
            part = PartRecord(**orjson.loads(line))
        except (orjson.JSONDecodeError, TypeError):
            break  # a line cut short by a power loss: nothing after it was committed
        if part.index == after + len(parts):
            parts.append(part)
    return parts


def _recorded_parts(folder: RemoteFolder, after: int) -> list[PartRecord]:
    """Parts recorded as objects past the first ``after``, in order, up to the first gap.

    Records below ``after`` are in the manifest already and are ignored.
    """
    records = _records(folder)
    names: list[str] = []
    while (name := records.get(after + len(names))) is not None:
        names.append(name)
    parts: list[PartRecord] = []
    for name, raw in zip(names, folder.read_all(names), strict=True):
        try:
            parts.append(PartRecord(**orjson.loads(raw)))
        except (orjson.JSONDecodeError, TypeError) as exc:
            raise BatchError(f"{folder}/{name} is not a lanza part record: {exc}.") from exc
    return parts
