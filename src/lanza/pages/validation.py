"""Reading an uploaded CSV or Excel file and checking it, row by row and column by column.

Every cell is read as the person typed it and converted to the type the model's
signature asks for; a cell that cannot be converted makes its row bad, with the reason
and the line number a spreadsheet shows (the header is line 1); so does a line with
more or fewer fields than the header, as in ``lanza batch``. Columns the model does not
take are kept beside the predictions; a column the model takes that the file lacks is a
problem of the whole file (unless the deployment imputes it). Empty cells, categories
and numbers the model never saw in training are warnings, not errors: the rules of
``lanza.runtime.rules``, as every other way in applies them.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from lanza.errors import DataError, UnsupportedMediaTypeError
from lanza.pages.form import Form
from lanza.runtime.rules import missing_columns, value_warning
from lanza.runtime.schema import DATED, Column, InputSchema

EXCEL = (".xlsx", ".xlsm")
TRUE = {"true", "yes", "1", "y", "t"}
FALSE = {"false", "no", "0", "n", "f"}
MAX_REPORTED = 200
FIELDS = "fields"  # ``frame.attrs`` key: line index -> fields it has where the header has more


@dataclass(frozen=True)
class Problem:
    """A bad cell (row and column), or a column problem (row ``None``), with its reason."""

    reason: str
    column: str | None = None
    row: int | None = None
    value: str | None = None


@dataclass
class Checked:
    """A validated file: the good rows ready for the model, and what is wrong with the rest."""

    rows: int
    columns: list[str]
    good: list[int] = field(default_factory=list)
    inputs: dict[str, list[Any]] = field(default_factory=dict)
    errors: dict[int, list[Problem]] = field(default_factory=dict)
    column_problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def bad(self) -> int:
        """Rows that cannot be predicted."""
        return self.rows - len(self.good)

    def report(self) -> dict[str, Any]:
        """JSON-ready summary, the first ``MAX_REPORTED`` row problems in full."""
        problems = [asdict(p) for row in sorted(self.errors) for p in self.errors[row]]
        return {
            "rows": self.rows,
            "good": len(self.good),
            "bad": self.bad,
            "columns": self.columns,
            "column_problems": [asdict(p) for p in self.column_problems],
            "row_problems": problems[:MAX_REPORTED],
            "more_problems": max(0, len(problems) - MAX_REPORTED),
            "warnings": [asdict(p) for p in self.warnings[:MAX_REPORTED]],
        }


def read_table(filename: str, data: bytes) -> pd.DataFrame:
    """A CSV or Excel file as text cells (Excel keeps its numbers), or a 400/415 saying why."""
    lower = filename.lower()
    if not data:
        raise DataError(f"'{filename}' is empty.")
    try:
        if lower.endswith(EXCEL):
            frame = pd.read_excel(
                io.BytesIO(data), engine="openpyxl", dtype=object, keep_default_na=False
            )
        elif lower.endswith((".csv", ".txt", ".tsv")):
            frame = _read_csv(_text(data), "\t" if lower.endswith(".tsv") else ",")
        else:
            raise UnsupportedMediaTypeError(
                f"'{filename}' is not a CSV or Excel file; upload .csv, .tsv or .xlsx."
            )
    except (UnsupportedMediaTypeError, DataError):
        raise
    except Exception as exc:
        raise DataError(f"'{filename}' cannot be read: {str(exc).splitlines()[0]}") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise DataError(f"'{filename}' has a header but no rows.")
    return frame.reset_index(drop=True)


def _read_csv(text: str, sep: str) -> pd.DataFrame:
    """Text cells; a line with another number of fields than the header is noted in
    ``attrs[FIELDS]`` (its cells padded or cut) so that its row, not the file, fails."""
    lines = [row for row in csv.reader(io.StringIO(text), delimiter=sep) if row]
    if not lines:
        raise DataError("the file has no header")
    header, rows = lines[0], lines[1:]
    width = len(header)
    twice = [name for name in header if header.count(name) > 1]
    if twice:
        raise DataError(f"the header names column '{twice[0]}' twice")
    uneven = {i: len(row) for i, row in enumerate(rows) if len(row) != width}
    cells = [(row + [""] * width)[:width] for row in rows]
    frame = pd.DataFrame(cells, columns=header, dtype=object)
    frame.attrs[FIELDS] = uneven
    return frame


def _text(data: bytes) -> str:
    """UTF-8 (with or without a byte-order mark), else Windows-1252 as spreadsheets save it."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def check(frame: pd.DataFrame, schema: InputSchema, form: Form, impute: bool = False) -> Checked:
    """Validate every cell the model reads; rows with any bad cell are set aside.

    ``impute``: the deployment answers rows without a column it takes (flagged).
    """
    checked = Checked(len(frame), list(frame.columns))
    present = set(frame.columns)
    for name in missing_columns(schema, present, impute):
        checked.column_problems.append(
            Problem("the model needs this column and the file has none", name)
        )
    for name in frame.columns:
        if schema.columns and name not in schema.names:
            checked.column_problems.append(
                Problem("the model does not take this column; it is kept beside the answers", name)
            )
    if any(p.reason.startswith("the model needs") for p in checked.column_problems):
        checked.errors = {i: [] for i in range(len(frame))}
        return checked
    for index, count in frame.attrs.get(FIELDS, {}).items():
        uneven = f"the line has {count} fields where the header has {len(frame.columns)}"
        checked.errors.setdefault(index, []).append(Problem(uneven, None, index + 2))
    facts = schema if schema.has_facts else with_form_facts(schema, form)
    converted: dict[str, list[Any]] = {}
    for column in facts.columns:
        if column.name not in present:  # imputed, as the deployment asks
            converted[column.name] = [None] * len(frame)
            for index in range(len(frame)):
                _warn(checked, column, None, index)
            continue
        values = []
        for index, raw in enumerate(frame[column.name].tolist()):
            value, reason = convert(raw, column.type, column.numeric)
            if reason is not None:
                checked.errors.setdefault(index, []).append(
                    Problem(reason, column.name, index + 2, _shown(raw))
                )
            else:
                _warn(checked, column, value, index)
            values.append(value)
        converted[column.name] = values
    checked.good = [i for i in range(len(frame)) if i not in checked.errors]
    checked.inputs = {n: [v[i] for i in checked.good] for n, v in converted.items()}
    return checked


def convert(raw: Any, kind: str, numeric: bool) -> tuple[Any, str | None]:
    """One cell as the signature's type, or the reason it cannot be."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return None, None
    text = raw.strip() if isinstance(raw, str) else raw
    if text == "":
        return None, None
    if numeric:
        if isinstance(text, bool):
            return None, "must be a number, not true/false"
        try:
            number = float(text)
        except (TypeError, ValueError):
            return None, "must be a number (leave the cell empty when it is unknown)"
        if math.isinf(number) or math.isnan(number):
            return None, "must be a finite number"
        return number, None
    if kind == "boolean":
        if isinstance(text, bool):
            return text, None
        word = str(text).lower()
        if word in TRUE or word in FALSE:
            return word in TRUE, None
        return None, "must be yes or no (true/false)"
    if kind in DATED:
        when = pd.to_datetime(str(text), errors="coerce", utc=True, format="ISO8601")
        if pd.isna(when):
            return None, "must be a date or time such as 2024-05-01 or 2024-05-01T13:45:00"
    return str(text), None


def with_form_facts(schema: InputSchema, form: Form) -> InputSchema:
    """A model trained before ``lanza.inputs`` was recorded: training's ranges and
    categories from the reference sample the form is drawn from."""
    facts: dict[str, dict[str, Any]] = {}
    for spec in form.fields:
        if spec.kind == "category" and spec.values:
            facts[spec.name] = {"categories": spec.values}
        elif spec.kind == "number" and spec.minimum is not None and spec.maximum is not None:
            facts[spec.name] = {"min": spec.minimum, "max": spec.maximum}
    return schema.with_facts(facts)


def _warn(checked: Checked, column: Column, value: Any, index: int) -> None:
    flag = value_warning(column, value)
    if flag is not None:
        shown = "" if flag.value is None else _shown(flag.value)
        checked.warnings.append(Problem(flag.text, column.name, index + 2, shown))


def _shown(raw: Any) -> str:
    text = str(raw)
    return text if len(text) <= 80 else text[:77] + "..."
