"""Stream an input (file, folder, glob or fsspec URL; CSV, Parquet, JSON Lines) as chunks.

Memory is bounded by the chunk size. Parquet is read as Arrow record batches and cut
into chunks of exactly ``chunk_rows`` rows (the last of each file may be shorter), so
chunk ``i`` always holds the same rows and a resumed job can skip what was committed.
CSV and JSON Lines files are cut into blocks of exactly ``chunk_rows`` non-empty lines
by the thread that reads them, and each block is parsed where it is scored (``CsvBlock``,
``JsonBlock``): finding line ends is a fraction of the cost of parsing, so the parsing,
the larger part of the work, runs on every core.

A bad line costs only its own row. In CSV, numbers that do not parse make that block be
read as text, and the scorer sends those rows to the errors file; a line with the wrong
number of fields is an error row of its own. In JSON Lines, every block is read with the
same column types (the model's numbers as float64, other columns as the file's first
block has them), so an integer column that later holds ``0.5`` still reads; a line that
is not JSON, or holds a value of another type, is found by halving the block and becomes
an error row that names the column.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from lanza.batch.spec import Chunk, RowError
from lanza.errors import DataError

SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl"}
SUFFIXES |= {".json": "jsonl", ".ndjson": "jsonl"}
READ_BYTES = 1 << 22  # what the reading thread reads at a time from a CSV file
SNIFF_BYTES = 1 << 16  # read first to tell how a text file ends its lines
NEWLINE, RETURN = 10, 13


@dataclass(frozen=True)
class InputSet:
    """The files of one input, in a stable order, on one fsspec filesystem."""

    fs: Any
    files: tuple[str, ...]
    sizes: tuple[int, ...]

    @property
    def total_bytes(self) -> int:
        """Bytes over every file."""
        return sum(self.sizes)

    def parquet_rows(self) -> int | None:
        """Total rows from Parquet footers, or ``None`` when any file is not Parquet."""
        if any(kind_of(f) != "parquet" for f in self.files):
            return None
        total = 0
        for name in self.files:
            with self.fs.open(name, "rb") as handle:
                total += pq.ParquetFile(handle).metadata.num_rows
        return total


def kind_of(path: str) -> str:
    """The reader for a file name, by its suffix."""
    lower = path.lower().removesuffix(".gz")
    for suffix, kind in SUFFIXES.items():
        if lower.endswith(suffix):
            return kind
    raise DataError(f"{path} is not CSV, Parquet or JSON Lines (by its suffix).")


def resolve_input(text: str) -> InputSet:
    """Every data file an input names: the file itself, a folder's files, or a glob's matches."""
    try:
        # Imported here, not with the module: a server imports this module at start.
        import fsspec  # type: ignore[import-untyped]

        fs, path = fsspec.core.url_to_fs(text)
        if any(ch in path for ch in "*?["):
            found = sorted(fs.glob(path))
        elif fs.isdir(path):
            found = sorted(p for p in fs.find(path) if not _hidden(p))
        elif fs.exists(path):
            found = [path]
        else:
            raise DataError(f"The input {text} does not exist.")
        files = [f for f in found if _data_file(f)]
        sizes = [int(fs.size(f) or 0) for f in files]
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"The input {text} cannot be listed: {exc}") from exc
    if not files:
        raise DataError(f"The input {text} holds no CSV, Parquet or JSON Lines files.")
    return InputSet(fs, tuple(files), tuple(sizes))


def _hidden(path: str) -> bool:
    return any(part.startswith((".", "_")) for part in path.split("/")[-1:])


def _data_file(path: str) -> bool:
    try:
        kind_of(path)
    except DataError:
        return False
    return True


class ChunkReader:
    """Reads an ``InputSet`` chunk by chunk, keeping only the columns a job needs."""

    def __init__(
        self,
        inputs: InputSet,
        features: list[str] | None,
        kept: list[str],
        chunk_rows: int,
        required: set[str] | None = None,
        numeric: set[str] | None = None,
    ) -> None:
        self.inputs = inputs
        self.features = features
        self.kept = kept
        self.chunk_rows = chunk_rows
        self.required = required if required is not None else set(features or ())
        self.bytes_done = 0
        self.numeric = numeric or set()

    def fraction(self) -> float:
        """How much of the input's bytes have been read, 0 to 1."""
        total = self.inputs.total_bytes
        return min(self.bytes_done / total, 1.0) if total else 0.0

    def chunks(self, skip: int = 0) -> Generator[Unread, None, None]:
        """Every chunk in order; the first ``skip`` chunks are read past but not built.

        CSV and JSON Lines files give blocks, which the scorer parses (``load``) where
        it runs.
        """
        index = start = 0
        for number, name in enumerate(self.inputs.files):
            before = sum(self.inputs.sizes[:number])
            kind = kind_of(name)
            if kind in ("csv", "jsonl"):
                blocks = self._csv_blocks if kind == "csv" else self._json_blocks
                for raw, lines, layout in blocks(name, before):
                    if index >= skip:
                        yield layout.block(index, start, lines, raw)
                    index, start = index + 1, start + lines
            else:
                for table in self._tables(name):
                    rows = table.num_rows
                    if index >= skip:
                        yield self._chunk(index, start, name, table)
                    index, start = index + 1, start + rows
            self.bytes_done = before + self.inputs.sizes[number]

    def _csv_blocks(self, name: str, before: int) -> Iterator[tuple[bytes, int, CsvLayout]]:
        """A CSV file's blocks of ``chunk_rows`` non-empty lines, and how to parse them."""
        try:
            with self.inputs.fs.open(name, "rb", compression="infer") as opened:
                handle = _newline_ended(opened)
                first = handle.readline()
                header = _csv_header(first)
                self._check_columns(name, header)
                wanted = self._wanted(header)
                layout: CsvLayout | None = None
                for raw, lines, read in split_lines(handle, self.chunk_rows):
                    if layout is None:
                        layout = CsvLayout(
                            name,
                            header,
                            wanted,
                            [c for c in self.numeric if c in wanted],
                            self.features,
                            self.kept,
                            self._kept_types(header, raw),
                        )
                    self.bytes_done = before + len(first) + read
                    yield raw, lines, layout
        except DataError:
            raise
        except (OSError, ValueError, UnicodeDecodeError, csv.Error) as exc:
            raise DataError(f"{name} cannot be read: {_first_line(exc)}") from exc

    def _kept_types(self, header: list[str], first: bytes) -> dict[str, pa.DataType]:
        """The types of kept columns that are not the model's, as Arrow infers them from
        the first block: numbers, booleans and times stay what they are in the output."""
        own = [c for c in self.kept if c not in set(self.features or ())]
        if not own:
            return {}
        try:
            sample = pacsv.read_csv(
                pa.BufferReader(first),
                read_options=pacsv.ReadOptions(column_names=header, use_threads=False),
                parse_options=pacsv.ParseOptions(invalid_row_handler=lambda row: "skip"),
                convert_options=pacsv.ConvertOptions(include_columns=own, strings_can_be_null=True),
            )
        except pa.ArrowException:
            return {}
        types = {}
        for column in own:
            kind = sample.schema.field(column).type
            if pa.types.is_integer(kind):
                types[column] = pa.int64()
            elif (
                pa.types.is_floating(kind)
                or pa.types.is_boolean(kind)
                or pa.types.is_timestamp(kind)
                or pa.types.is_date(kind)
            ):
                types[column] = kind
        return types

    def _json_blocks(self, name: str, before: int) -> Iterator[tuple[bytes, int, JsonLayout]]:
        """A JSON Lines file's blocks of ``chunk_rows`` non-empty lines, typed by the first."""
        layout: JsonLayout | None = None
        try:
            with self.inputs.fs.open(name, "rb", compression="infer") as opened:
                handle = _newline_ended(opened)
                for raw, lines, read in split_lines(handle, self.chunk_rows):
                    if layout is None:
                        layout = self._json_layout(name, raw)
                    self.bytes_done = before + read
                    yield raw, lines, layout
        except DataError:
            raise
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise DataError(f"{name} cannot be read: {_first_line(exc)}") from exc

    def _json_layout(self, name: str, first: bytes) -> JsonLayout:
        """The columns a job needs and their types, from the file's first block."""
        sample = _first_table(name, first)
        self._check_columns(name, sample.column_names)
        present = set(sample.column_names)
        absent = [c for c in self.features or [] if c not in present]  # optional, so far
        wanted = self._wanted(sample.column_names) + absent
        fields = []
        for column in wanted:
            kind = sample.schema.field(column).type if column in present else pa.string()
            if column in self.numeric:
                kind = pa.float64()
            elif pa.types.is_null(kind):
                kind = pa.string()
            fields.append(pa.field(column, kind))
        return JsonLayout(name, pa.schema(fields), self.features, self.kept)

    def _chunk(self, index: int, start: int, name: str, table: pa.Table) -> Chunk:
        present = set(table.column_names)
        names = self.features if self.features is not None else list(table.column_names)
        features = table.select([n for n in names if n in present])
        kept = table.select(self.kept)
        return Chunk(index, start, table.num_rows, name, features, kept)

    def _tables(self, name: str) -> Iterator[pa.Table]:
        """A Parquet file's chunks."""
        try:
            with self.inputs.fs.open(name, "rb", compression="infer") as handle:
                yield from rebatch(self._batches(name, handle), self.chunk_rows)
        except DataError:
            raise
        except (pa.ArrowException, OSError, ValueError, UnicodeDecodeError) as exc:
            raise DataError(f"{name} cannot be read: {_first_line(exc)}") from exc

    def _batches(self, name: str, handle: Any) -> Iterator[pa.RecordBatch]:
        parquet = pq.ParquetFile(handle)
        self._check_columns(name, parquet.schema_arrow.names)
        columns = self._wanted(parquet.schema_arrow.names)
        yield from parquet.iter_batches(batch_size=self.chunk_rows, columns=columns)

    def _wanted(self, names: list[str]) -> list[str]:
        if self.features is None:
            return list(names)
        present = set(names)
        return [n for n in dict.fromkeys([*self.features, *self.kept]) if n in present]

    def _check_columns(self, name: str, names: list[str]) -> None:
        present = set(names)
        for column in [*sorted(self.required), *self.kept]:
            if column not in present:
                raise DataError(f"Column '{column}' is missing from {name}.")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _csv_header(line: bytes | str) -> list[str]:
    text = line.decode("utf-8-sig") if isinstance(line, bytes) else str(line)
    return next(csv.reader(io.StringIO(text)), [])


def rebatch(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """Tables of exactly ``rows`` rows from batches of any size (the last may be shorter)."""
    buffer: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        buffer.append(batch)
        held += batch.num_rows
        while held >= rows:
            table = pa.Table.from_batches(buffer)
            yield table.slice(0, rows)
            rest = table.slice(rows)
            buffer = rest.to_batches() if rest.num_rows else []
            held = rest.num_rows
    if held:
        yield pa.Table.from_batches(buffer)


@dataclass(frozen=True)
class CsvLayout:
    """How every block of one CSV file is parsed: its header and the columns a job needs."""

    source: str
    header: list[str]
    wanted: list[str]
    numeric: list[str]
    features: list[str] | None
    kept: list[str]
    kept_types: dict[str, pa.DataType] = field(default_factory=dict)

    def block(self, index: int, start: int, rows: int, raw: bytes) -> CsvBlock:
        """A block of this file, parsed later by whoever scores it."""
        return CsvBlock(index, start, rows, raw, self)

    def parse(self, raw: bytes, numbers: bool, malformed: list[Any]) -> pa.Table:
        """The block as a table; model columns as float64 when ``numbers``, else as text."""
        types = dict.fromkeys(self.wanted, pa.string())
        if numbers:
            types |= dict.fromkeys(self.numeric, pa.float64()) | self.kept_types

        def invalid(row: Any) -> str:
            malformed.append(row)
            return "skip"

        table = pacsv.read_csv(
            pa.BufferReader(raw),
            read_options=pacsv.ReadOptions(column_names=self.header, use_threads=False),
            parse_options=pacsv.ParseOptions(invalid_row_handler=invalid),
            convert_options=pacsv.ConvertOptions(
                include_columns=self.wanted, column_types=types, strings_can_be_null=True
            ),
        )
        return table if numbers else self._typed_kept(table)

    def _typed_kept(self, table: pa.Table) -> pa.Table:
        """Kept columns read as text (a model column did not parse) back in their types,
        each where all its values cast."""
        for name, kind in self.kept_types.items():
            if name not in table.column_names:
                continue
            try:
                cast = pc.cast(table.column(name), kind)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
            table = table.set_column(table.column_names.index(name), name, cast)
        return table


@dataclass
class CsvBlock:
    """Consecutive non-empty lines of a CSV file, parsed into a ``Chunk`` where it is scored."""

    index: int
    start: int
    rows: int
    raw: bytes = field(repr=False)
    layout: CsvLayout

    def load(self) -> Chunk:
        """Parse the block: numbers first, as text when one does not parse.

        A line with the wrong number of fields becomes an error row with its number.
        """
        malformed: list[Any] = []
        try:
            try:
                table = self.layout.parse(self.raw, True, malformed)
            except pa.ArrowInvalid as exc:
                if "conversion error" not in str(exc):
                    raise
                malformed.clear()
                table = self.layout.parse(self.raw, False, malformed)
        except pa.ArrowException as exc:
            raise DataError(f"{self.layout.source} cannot be read: {_first_line(exc)}") from exc
        errors = [self._error(row) for row in malformed]
        numbers = None
        skipped = [row.number - 1 for row in malformed if 0 < row.number <= self.rows]
        exact = len(skipped) == len(malformed) and table.num_rows == self.rows - len(skipped)
        if skipped and exact:  # the good rows' numbers, around the malformed lines
            numbers = self.start + np.delete(np.arange(self.rows), skipped)
        return _as_chunk(self, table, errors, numbers)

    def _error(self, row: Any) -> RowError:
        reason = (
            f"a line has {row.actual_columns} fields where the header has "
            f"{row.expected_columns}: {str(row.text)[:80]!r}"
        )
        number = self.start + row.number - 1 if 0 < row.number <= self.rows else -1
        return RowError(number, reason, self.layout.source)


@dataclass(frozen=True)
class JsonLayout:
    """How every block of one JSON Lines file is read: the columns a job needs, typed."""

    source: str
    schema: pa.Schema
    features: list[str] | None
    kept: list[str]

    def block(self, index: int, start: int, rows: int, raw: bytes) -> JsonBlock:
        """A block of this file, parsed later by whoever scores it."""
        return JsonBlock(index, start, rows, raw, self)

    def parse(self, raw: bytes) -> pa.Table:
        """Lines as a table with this layout's columns and types; other fields are left out."""
        return pajson.read_json(
            pa.BufferReader(raw),
            read_options=pajson.ReadOptions(use_threads=False, block_size=max(len(raw), 1 << 20)),
            parse_options=pajson.ParseOptions(
                explicit_schema=self.schema, unexpected_field_behavior="ignore"
            ),
        )

    def reason(self, line: bytes, exc: pa.ArrowInvalid) -> str:
        """Why one line cannot be read, naming the column where one is at fault."""
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            return f"the line is not valid JSON ({error}): {line[:80]!r}"
        if not isinstance(record, dict):
            return f"the line is not a JSON object: {line[:80]!r}"
        for column in self.schema:
            value = record.get(column.name)
            if value is not None and not _fits(value, column.type):
                return (
                    f"column '{column.name}' holds {str(orjson.dumps(value), 'utf-8')[:80]}, "
                    f"where the file has {_type_words(column.type)}"
                )
        return f"the line cannot be read: {_ROW_SUFFIX.sub('', _first_line(exc))}"


_ROW_SUFFIX = re.compile(r" in row \d+$")


def _fits(value: Any, kind: pa.DataType) -> bool:
    """Whether a JSON value can be read as an Arrow column of ``kind``."""
    if pa.types.is_floating(kind) or pa.types.is_integer(kind):
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return number and (pa.types.is_floating(kind) or isinstance(value, int))
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return isinstance(value, str)
    if pa.types.is_boolean(kind):
        return isinstance(value, bool)
    return True


def _type_words(kind: pa.DataType) -> str:
    if pa.types.is_floating(kind):
        return "numbers"
    if pa.types.is_integer(kind):
        return "integers"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "text"
    if pa.types.is_boolean(kind):
        return "true or false"
    return str(kind)


@dataclass
class JsonBlock:
    """Consecutive non-empty lines of a JSON Lines file, parsed where it is scored."""

    index: int
    start: int
    rows: int
    raw: bytes = field(repr=False)
    layout: JsonLayout

    def load(self) -> Chunk:
        """Parse the block at once; when that fails, find the lines at fault by halving."""
        layout = self.layout
        try:
            table = layout.parse(self.raw)
        except pa.ArrowInvalid:
            table = None
        if table is not None and table.num_rows == self.rows:
            return _as_chunk(self, table, [], None)
        lines = [line for line in self.raw.split(b"\n") if line not in (b"", b"\r")]
        errors: list[RowError] = []
        good: list[tuple[int, pa.Table]] = []

        def fail(position: int, exc: pa.ArrowInvalid | None) -> None:
            line = lines[position]
            reason = "the line does not hold exactly one JSON object"
            if exc is not None:
                reason = layout.reason(line, exc)
            errors.append(RowError(self.start + position, reason, layout.source))

        _halve(lines, 0, len(lines), layout.parse, good, fail)
        tables = [t for _, t in good]
        table = pa.concat_tables(tables) if tables else layout.schema.empty_table()
        empty = np.empty(0, np.int64)
        positions = np.concatenate([np.arange(p, p + t.num_rows) for p, t in good] or [empty])
        return _as_chunk(self, table, errors, self.start + positions)


def _as_chunk(
    block: CsvBlock | JsonBlock,
    table: pa.Table,
    errors: list[RowError],
    numbers: np.ndarray[Any, Any] | None,
) -> Chunk:
    """A parsed block as the chunk the scorer takes: the model's columns and the kept ones."""
    names = block.layout.features or table.column_names
    present = set(table.column_names)
    features = table.select([n for n in names if n in present])
    kept = table.select(block.layout.kept)
    source = block.layout.source
    return Chunk(block.index, block.start, block.rows, source, features, kept, errors, numbers)


def _halve(
    lines: list[bytes],
    low: int,
    high: int,
    parse: Callable[[bytes], pa.Table],
    good: list[tuple[int, pa.Table]],
    fail: Callable[[int, pa.ArrowInvalid | None], None],
) -> None:
    """Parse ``lines[low:high]``; on failure, each half on its own, down to single lines."""
    try:
        table = parse(b"\n".join(lines[low:high]))
        if table.num_rows == high - low:
            good.append((low, table))
            return
        problem: pa.ArrowInvalid | None = None
    except pa.ArrowInvalid as exc:
        problem = exc
    if high - low == 1:
        fail(low, problem)
        return
    middle = (low + high) // 2
    _halve(lines, low, middle, parse, good, fail)
    _halve(lines, middle, high, parse, good, fail)


def _first_table(name: str, raw: bytes) -> pa.Table:
    """The first block of a JSON Lines file as Arrow reads it, skipping lines it cannot."""
    try:
        return pajson.read_json(pa.BufferReader(raw))
    except pa.ArrowInvalid:
        pass
    for line in raw.split(b"\n"):
        try:
            table = pajson.read_json(pa.BufferReader(line))
        except pa.ArrowInvalid:
            continue
        if table.num_rows == 1:
            return table
    raise DataError(f"{name} cannot be read: no line of its first block is a JSON object.")


Unread = Chunk | CsvBlock | JsonBlock  # what the reader hands the engine: read, or to parse


class _ReturnsAsNewlines(io.RawIOBase):
    """A stream whose lines end in a bare carriage return, read as if they ended in ``\n``.

    Old Mac and some spreadsheet exports end lines that way; without this, a whole file
    would be one line, read into memory at once.
    """

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.handle.read(len(buffer)).replace(b"\r", b"\n")
        buffer[: len(data)] = data
        return len(data)


def _newline_ended(handle: Any) -> Any:
    """``handle`` itself, or a view of it with ``\r`` as ``\n`` when no line ends in ``\n``."""
    if not handle.seekable():  # cannot read ahead and go back: take it as it is
        return handle
    head = handle.read(SNIFF_BYTES)
    handle.seek(0)
    if b"\n" in head or b"\r" not in head:
        return handle
    return io.BufferedReader(_ReturnsAsNewlines(handle), READ_BYTES)


def split_lines(handle: Any, rows: int) -> Iterator[tuple[bytes, int, int]]:
    """Blocks of exactly ``rows`` non-empty lines from a binary stream (the last may hold
    fewer), each with its line count and the bytes read so far.

    Empty lines (Arrow skips them) are not counted, so a block's lines are its rows.
    Line ends are found with NumPy over each read; bytes are copied once, into the block.
    """
    pieces: list[bytes] = []
    held = 0  # non-empty lines finished in pieces
    open_len = 0  # bytes of the unfinished line at the end of pieces
    open_last = 0  # its last byte
    read = 0
    while data := handle.read(READ_BYTES):
        read += len(data)
        view = np.frombuffer(data, np.uint8)
        ends = np.flatnonzero(view == NEWLINE)
        if not len(ends):
            pieces.append(data)
            open_len, open_last = open_len + len(data), int(view[-1])
            continue
        lengths = np.diff(ends, prepend=-1) - 1
        lengths[0] += open_len
        before = view[np.maximum(ends - 1, 0)]
        if ends[0] == 0:
            before[0] = open_last if open_len else NEWLINE
        empty = (lengths == 0) | ((lengths == 1) & (before == RETURN))
        full = ends[~empty]
        position = used = 0
        while len(full) - used >= rows - held:
            used += rows - held
            cut = int(full[used - 1]) + 1
            pieces.append(data[position:cut])
            yield b"".join(pieces), rows, read
            pieces, held, position = [], 0, cut
        pieces.append(data[position:])
        held += len(full) - used
        open_len = len(data) - int(ends[-1]) - 1
        open_last = int(view[-1])
    if open_len and not (open_len == 1 and open_last == RETURN):
        held += 1
    if held:
        yield b"".join(pieces), held, read
