"""A bad lanza.yaml gets one sentence naming the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from lanza.automation.loader import load_file, load_text
from lanza.errors import SpecFileError

GOOD = """\
version: 1
models:
  - name: churn
    data: churn.csv
    target: churned
    candidates: [logistic_regression]
deployments:
  - name: churn
    model: churn@champion
    max_batch_size: 16
alerts:
  - deployment: churn
    metric: drift_share
    threshold: 0.3
schedules:
  - name: nightly
    model: churn@champion
    input: gs://bucket/{date}/*.parquet
    output: gs://bucket/predictions/{date}
    cron: "0 2 * * *"
pipelines:
  - name: retrain
    model: churn
    deployment: churn
    data: churn.csv
    target: churned
    margin: 0.01
    triggers:
      every: 1d
      alerts: [drift_share]
"""


def error(text: str) -> str:
    with pytest.raises(SpecFileError) as caught:
        load_text(text)
    return caught.value.message


def test_a_good_file_loads() -> None:
    spec = load_text(GOOD)
    assert [d.name for d in spec.deployments] == ["churn"]
    assert spec.schedules[0].cron == "0 2 * * *"
    assert spec.pipelines[0].triggers.alerts == ["drift_share"]
    assert spec.alerts[0].key == "churn:drift_share>"


def test_wrong_value_points_at_its_line() -> None:
    text = GOOD.replace("max_batch_size: 16", "max_batch_size: 0")
    assert error(text) == (
        "lanza.yaml line 10: deployments[0].max_batch_size: "
        "Input should be greater than or equal to 1."
    )


def test_unknown_field_points_at_its_line() -> None:
    text = GOOD.replace("    margin: 0.01", "    margn: 0.01")
    assert error(text) == "lanza.yaml line 27: pipelines[0].margn: is not a known field."


def test_missing_field_points_at_the_item() -> None:
    text = GOOD.replace("    target: churned\n    candidates", "    candidates")
    assert error(text) == "lanza.yaml line 3: models[0].target: is required."


def test_bad_cron_names_the_cron_field() -> None:
    text = GOOD.replace('cron: "0 2 * * *"', 'cron: "0 2 * *"')
    message = error(text)
    assert message.startswith("lanza.yaml line 20: schedules[0].cron: cron expression")
    assert "5 fields" in message


def test_traffic_error_names_the_route() -> None:
    text = GOOD.replace(
        "    model: churn@champion\n    max_batch_size: 16",
        "    traffic:\n      - model: churn@champion\n        weight: -1",
    )
    assert error(text) == (
        "lanza.yaml line 11: deployments[0].traffic[0].weight: Input should be greater than 0."
    )


def test_rule_across_fields_points_at_the_item() -> None:
    text = GOOD.replace('    cron: "0 2 * * *"', '    cron: "0 2 * * *"\n    every: 1h')
    assert error(text) == "lanza.yaml line 16: schedules[0]: give exactly one of 'cron' or 'every'."


def test_duplicate_names() -> None:
    text = GOOD + "  - name: retrain\n    model: m\n    deployment: d\n    data: x\n    target: y\n"
    assert error(text) == (
        "lanza.yaml line 31: pipelines[1].name: 'retrain' appears twice in pipelines."
    )


def test_yaml_syntax_error_names_the_line() -> None:
    assert error("deployments:\n  - name: [oops\n").startswith("lanza.yaml line 3: not valid YAML")


def test_top_level_must_be_a_mapping() -> None:
    assert error("- a\n- b\n") == "lanza.yaml line 1: the file must be a mapping of sections."
    assert load_text("").deployments == []


def test_unknown_section_and_version() -> None:
    assert error("deploy: []\n") == "lanza.yaml line 1: deploy: is not a known field."
    assert error("version: 2\n").startswith("lanza.yaml line 1: version: Input should be 1")


def test_file_name_appears_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "prod.yaml"
    path.write_text("deployments:\n  - name: Bad Name\n    model: a@b\n")
    with pytest.raises(SpecFileError, match=r"^prod.yaml line 2: deployments\[0\].name: must"):
        load_file(path)
    with pytest.raises(SpecFileError, match="There is no file"):
        load_file(tmp_path / "missing.yaml")
