"""Write one scored chunk as one numbered part file, atomically.

Each part is written to a hidden temporary file and renamed into place, so a reader of
the output folder never sees half a part. Formats: Parquet, CSV, JSON Lines, and the
Vertex AI batch prediction shape (``{"instance": {...}, "prediction": ...}`` per line).
Rows that failed go to ``_errors/part-NNNNN.jsonl`` beside the parts (the leading
underscore keeps them out of Arrow/Spark dataset scans of the folder). For an output
URL each part is written to a local temporary file, then uploaded as one object.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from lanza.batch.remote import RemoteFolder
from lanza.batch.scoring import PREDICTION, WARNINGS
from lanza.batch.spec import RowError
from lanza.errors import BatchError, LanzaError

SUFFIX = {"parquet": ".parquet", "csv": ".csv", "jsonl": ".jsonl", "vertex": ".jsonl"}
ERRORS_DIR = "_errors"


def part_name(index: int, fmt: str) -> str:
    """``part-00042.parquet`` and the like."""
    return f"part-{index:05d}{SUFFIX[fmt]}"


class PartWriter:
    """Writes parts and error files into one output folder (local disk or a URL)."""

    def __init__(self, folder: Path | RemoteFolder, fmt: str) -> None:
        self.folder = folder
        self.fmt = fmt

    def write_part(self, index: int, table: pa.Table) -> str:
        """Write ``table`` as part ``index``; returns the file name."""
        name = part_name(index, self.fmt)
        if isinstance(self.folder, RemoteFolder):
            self._upload(self.folder, name, lambda path: self._write(table, path))
        else:
            self._atomic(self.folder / name, lambda path: self._write(table, path))
        return name

    def write_errors(self, index: int, errors: list[RowError]) -> str:
        """Write the failed rows of part ``index`` as JSON Lines; returns the relative path."""
        name = f"{ERRORS_DIR}/part-{index:05d}.jsonl"
        lines = b"".join(
            orjson.dumps({"row": e.row, "source": e.source, "reason": e.reason}) + b"\n"
            for e in errors
        )
        if isinstance(self.folder, RemoteFolder):
            self.folder.write(name, lines)
            return name
        (self.folder / ERRORS_DIR).mkdir(exist_ok=True)
        self._atomic(self.folder / name, lambda path: path.write_bytes(lines))
        return name

    def _upload(self, folder: RemoteFolder, name: str, write: Any) -> None:
        with tempfile.TemporaryDirectory(prefix="lanza-part-") as scratch:
            local = Path(scratch) / name
            try:
                write(local)
            except OSError as exc:
                raise BatchError(f"{local} cannot be written: {exc.strerror or exc}.") from exc
            folder.upload(name, local)

    def _atomic(self, target: Path, write: Any) -> None:
        temp = target.with_name(f".{target.name}.tmp")
        try:
            write(temp)
            _fsync(temp)
            os.replace(temp, target)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise _write_error(target, exc) from exc
        except LanzaError:
            temp.unlink(missing_ok=True)
            raise

    def _write(self, table: pa.Table, path: Path) -> None:
        if self.fmt == "parquet":
            pq.write_table(table, path, compression="snappy")
        elif self.fmt == "csv":
            pacsv.write_csv(table, path)
        elif self.fmt == "jsonl":
            path.write_bytes(_json_lines(table.to_pylist()))
        else:
            path.write_bytes(_json_lines(self._vertex(table)))

    def _vertex(self, table: pa.Table) -> list[dict[str, Any]]:
        records = table.to_pylist()
        proba = [c for c in table.column_names if c.startswith("proba_")]
        out = []
        for record in records:
            prediction: Any = record.pop(PREDICTION)
            flags = record.pop(WARNINGS, None)
            if proba:
                scores = [record.pop(c) for c in proba]
                classes = [c.removeprefix("proba_") for c in proba]
                prediction = {"label": prediction, "classes": classes, "scores": scores}
            line = {"instance": record, "prediction": prediction}
            if flags:
                line["warnings"] = flags
            out.append(line)
        return out


def _json_lines(records: list[dict[str, Any]]) -> bytes:
    option = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
    return b"".join(orjson.dumps(r, option=option, default=str) + b"\n" for r in records)


def _fsync(path: Path) -> None:
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())


def append_synced(path: Path, data: bytes) -> None:
    """Append ``data`` to ``path`` and fsync it; a full disk is one sentence."""
    try:
        with path.open("ab") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise _write_error(path, exc) from exc


def _write_error(path: Path, exc: OSError) -> BatchError:
    """One sentence for a failed write; a full disk says how to go on."""
    if exc.errno == errno.ENOSPC:
        return BatchError(
            f"The disk is full writing {path}; the parts before it are committed, "
            "so free some space and rerun with --resume."
        )
    return BatchError(f"{path} cannot be written: {exc.strerror or exc}.")


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new file, whole."""
    PartWriter(path.parent, "jsonl")._atomic(path, lambda temp: _write_synced(temp, data))


def _write_synced(path: Path, data: bytes) -> None:
    path.write_bytes(data)
