"""Uploaded files: reading CSV and Excel, and per-cell validation with reasons."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from lanza.errors import DataError, UnsupportedMediaTypeError
from lanza.pages.form import Form, FormField
from lanza.pages.validation import check, convert, read_table
from lanza.runtime.schema import Column, InputSchema

SCHEMA = InputSchema(
    (Column("x", "double"), Column("city", "string"), Column("flag", "boolean", required=False))
)
FORM = Form(
    "d",
    "m/1",
    "regression",
    "y",
    None,
    "rmse",
    1.0,
    [
        FormField("x", "number", "double", True, 1.0, minimum=0.0, maximum=10.0),
        FormField("city", "category", "string", True, "rome", ["rome", "oslo"]),
        FormField("flag", "boolean", "boolean", False, True),
    ],
)


def test_cells_convert_to_the_signature_type_or_say_why_not() -> None:
    assert convert(" 3.5 ", "double", True) == (3.5, None)
    assert convert("", "double", True) == (None, None)
    assert convert("abc", "double", True)[1] is not None
    assert convert("inf", "double", True)[1] == "must be a finite number"
    assert convert(True, "double", True)[1] == "must be a number, not true/false"
    assert convert("Yes", "boolean", False) == (True, None)
    assert convert("0", "boolean", False) == (False, None)
    assert convert("maybe", "boolean", False)[1] == "must be yes or no (true/false)"
    assert convert(12, "string", False) == ("12", None)
    assert convert("2024-05-01", "datetime", False) == ("2024-05-01", None)
    assert convert("soon", "datetime", False)[1] == (
        "must be a date or time such as 2024-05-01 or 2024-05-01T13:45:00"
    )


def test_bad_rows_are_set_aside_with_line_numbers_and_extra_columns_kept() -> None:
    data = b"x,city,flag,id\n1,rome,yes,a\nabc,oslo,no,b\n2,lima,maybe,c\n11,rome,,d\n"
    frame = read_table("f.csv", data)
    checked = check(frame, SCHEMA, FORM)
    assert checked.good == [0, 3]
    assert checked.inputs == {"x": [1.0, 11.0], "city": ["rome", "rome"], "flag": [True, None]}
    report = checked.report()
    assert (report["rows"], report["good"], report["bad"]) == (4, 2, 2)
    assert [(p["row"], p["column"], p["value"]) for p in report["row_problems"]] == [
        (3, "x", "abc"),
        (4, "flag", "maybe"),
    ]
    assert report["column_problems"][0]["column"] == "id"
    assert {(w["row"], w["column"]) for w in report["warnings"]} == {
        (4, "city"),
        (5, "x"),
        (5, "flag"),
    }
    words = {w["column"]: w["reason"] for w in report["warnings"]}
    assert words == {
        "city": "lima (city) was never seen in training; this answer is a guess.",
        "x": "x 11 is outside the training range 0 to 10; this answer is a guess.",
        "flag": "flag was not given; a typical value was used.",
    }


def test_a_line_with_too_few_or_too_many_fields_is_a_bad_row_as_in_batch() -> None:
    frame = read_table("f.csv", b"x,city,flag\n1,rome,yes\n2,oslo\n3,rome,no,extra\n\n4,oslo,no\n")
    checked = check(frame, SCHEMA, FORM)
    assert checked.good == [0, 3]
    reasons = [(p["row"], p["reason"]) for p in checked.report()["row_problems"]]
    assert reasons == [
        (3, "the line has 2 fields where the header has 3"),
        (4, "the line has 4 fields where the header has 3"),
    ]


def test_spreadsheet_encodings_are_read() -> None:
    text = "x,city\n1,Zürich\n"
    assert read_table("a.csv", text.encode("cp1252"))["city"].tolist() == ["Zürich"]
    assert read_table("a.csv", b"\xef\xbb\xbf" + text.encode())["x"].tolist() == ["1"]


def test_a_missing_column_makes_every_row_bad_unless_the_deployment_imputes() -> None:
    frame = read_table("f.csv", b"x,city\n1,rome\n")
    checked = check(frame, SCHEMA, FORM)
    assert checked.good == []
    assert checked.column_problems[0].column == "flag"  # optional in the signature: still
    imputed = check(frame, SCHEMA, FORM, impute=True)
    assert imputed.good == [0]
    assert imputed.warnings[0].reason == "flag was not given; a typical value was used."


def test_excel_keeps_numbers_and_text_and_unknown_files_are_refused() -> None:
    buffer = io.BytesIO()
    pd.DataFrame({"x": [1.5, 2.0], "city": ["rome", "n/a"]}).to_excel(
        buffer, index=False, engine="openpyxl"
    )
    frame = read_table("book.XLSX", buffer.getvalue())
    assert frame["x"].tolist() == [1.5, 2.0]
    assert frame["city"].tolist() == ["rome", "n/a"]
    with pytest.raises(UnsupportedMediaTypeError):
        read_table("f.pdf", b"%PDF")
    with pytest.raises(DataError, match="empty"):
        read_table("f.csv", b"")
    with pytest.raises(DataError, match="no rows"):
        read_table("f.csv", b"x,city\n")
    with pytest.raises(DataError, match="cannot be read"):
        read_table("f.xlsx", b"not a workbook")
