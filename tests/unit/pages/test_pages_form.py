"""The predict form: one field per signature column, shaped by the reference sample."""

from __future__ import annotations

import pandas as pd

from lanza.monitoring.reference import Reference
from lanza.pages.form import baselines, build_form
from lanza.runtime.schema import Column, InputSchema


def _reference(frame: pd.DataFrame) -> Reference:
    return Reference("m/1", frame, "y", "classification", "accuracy", 0.9, ["no", "yes"])


def test_fields_follow_the_signature_with_reference_examples() -> None:
    frame = pd.DataFrame(
        {
            "age": [20, 30, 40, 50, 60],
            "income": [1.5, 2.5, 3.5, 4.5, 100.0],
            "city": ["rome", "oslo", "rome", "lima", "rome"],
            "member": [True, False, True, True, False],
            "note": [f"n{i}" for i in range(5)],
            "y": ["no", "yes", "no", "yes", "no"],
        }
    )
    schema = InputSchema(
        (
            Column("age", "double"),
            Column("income", "double"),
            Column("city", "string"),
            Column("member", "boolean"),
            Column("note", "string", required=False),
            Column("when", "datetime"),
        )
    )
    form = build_form("d", "m/1", schema, _reference(frame))
    fields = {f.name: f for f in form.fields}
    assert list(fields) == ["age", "income", "city", "member", "note", "when"]
    assert (fields["age"].kind, fields["age"].integer, fields["age"].example) == (
        "number",
        True,
        40,
    )
    assert (fields["age"].minimum, fields["age"].maximum) == (20.0, 60.0)
    assert fields["income"].example == 3.5
    assert fields["income"].integer is False
    assert fields["city"].kind == "category"
    assert fields["city"].values[0] == "rome"
    assert set(fields["city"].values) == {"rome", "oslo", "lima"}
    assert (fields["member"].kind, fields["member"].example) == ("boolean", True)
    assert fields["note"].required is False
    assert fields["when"].kind == "date"
    assert form.classes == ["no", "yes"]
    assert baselines(form) == {
        "age": 40,
        "income": 3.5,
        "city": "rome",
        "member": True,
        "note": "n0",
    }


def test_many_distinct_texts_are_free_text_and_no_reference_still_gives_a_form() -> None:
    frame = pd.DataFrame({"comment": [f"c{i}" for i in range(80)], "y": [0, 1] * 40})
    schema = InputSchema((Column("comment", "string"), Column("n", "long")))
    form = build_form("d", "m/1", schema, _reference(frame))
    assert form.fields[0].kind == "text"
    assert form.fields[1].kind == "number"
    assert form.fields[1].integer is True
    assert form.fields[1].example is None
    bare = build_form("d", "m/1", schema, None)
    assert [f.kind for f in bare.fields] == ["text", "number"]
    assert bare.task is None
