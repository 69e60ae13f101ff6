"""Reading an uploaded CSV or Excel file and checking it, row by row and column by column.

Every cell is read as the person typed it and converted to the type the model's
signature asks for; a cell that cannot be converted makes its row bad, with the reason
and the line number a spreadsheet shows (the header is line 1). Columns the model does
not take are kept beside the predictions; a missing required column is a problem of the
whole file. Values outside what the model saw at training are warnings, not errors.
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from lanza.errors import DataError, UnsupportedMediaTypeError
from lanza.pages.form import Form, FormField
from lanza.runtime.schema import InputSchema

EXCEL = (".xlsx", ".xlsm")
TRUE = {"true", "yes", "1", "y", "t"}
FALSE = {"false", "no", "0", "n", "f"}
MAX_REPORTED = 200


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
            sep = "\t" if lower.endswith(".tsv") else ","
            frame = pd.read_csv(
                io.StringIO(_text(data)), sep=sep, dtype=str, keep_default_na=False, na_filter=False
            )
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


def _text(data: bytes) -> str:
    """UTF-8 (with or without a byte-order mark), else Windows-1252 as spreadsheets save it."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def check(frame: pd.DataFrame, schema: InputSchema, form: Form) -> Checked:
    """Validate every cell the model reads; rows with any bad cell are set aside."""
    checked = Checked(len(frame), list(frame.columns))
    present = set(frame.columns)
    for column in schema.columns:
        if column.required and column.name not in present:
            checked.column_problems.append(
                Problem("the model needs this column and the file has none", column.name)
            )
    for name in frame.columns:
        if schema.columns and name not in schema.names:
            checked.column_problems.append(
                Problem("the model does not take this column; it is kept beside the answers", name)
            )
    if any(p.reason.startswith("the model needs") for p in checked.column_problems):
        checked.errors = {i: [] for i in range(len(frame))}
        return checked
    fields = {f.name: f for f in form.fields}
    converted: dict[str, list[Any]] = {}
    for column in schema.columns:
        if column.name not in present:
            converted[column.name] = [None] * len(frame)
            continue
        spec = fields.get(column.name)
        values = []
        for index, raw in enumerate(frame[column.name].tolist()):
            value, reason = convert(raw, column.type, column.numeric)
            if reason is not None:
                checked.errors.setdefault(index, []).append(
                    Problem(reason, column.name, index + 2, _shown(raw))
                )
            elif spec is not None and value is not None:
                _warn(checked, spec, value, index)
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
    return str(text), None


def _warn(checked: Checked, spec: FormField, value: Any, index: int) -> None:
    if spec.kind == "category" and spec.values and str(value) not in spec.values:
        checked.warnings.append(
            Problem("a value the model never saw in training", spec.name, index + 2, str(value))
        )
    elif (
        spec.kind == "number"
        and spec.minimum is not None
        and spec.maximum is not None
        and not spec.minimum <= value <= spec.maximum
    ):
        checked.warnings.append(
            Problem(
                f"outside the training range {spec.minimum:g} to {spec.maximum:g}",
                spec.name,
                index + 2,
                f"{value:g}",
            )
        )


def _shown(raw: Any) -> str:
    text = str(raw)
    return text if len(text) <= 80 else text[:77] + "..."
