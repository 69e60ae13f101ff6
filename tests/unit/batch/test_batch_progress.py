"""Progress and summary figures: rates count only this run's rows."""

from __future__ import annotations

from lanza.batch.spec import BatchOptions, BatchSummary, Progress


def test_rate_and_eta_leave_out_rows_done_before_a_resume() -> None:
    progress = Progress(
        rows_done=1_500, rows_total=3_000, errors=0, elapsed_s=5.0, resumed_from=1_000
    )
    assert progress.rate == 100.0
    assert progress.eta_s == 15.0
    assert Progress(10, None, 0, 1.0).eta_s is None
    summary = BatchSummary("m/1", "out", 3_000, 2_990, 10, 3, 20.0, resumed_from=1_000)
    assert summary.to_dict()["rows_per_s"] == 100.0


def test_options_round_trip_through_json_form() -> None:
    options = BatchOptions("m@champion", "in/*.csv", "out", keep_columns=("id", "ts"))
    assert BatchOptions.from_dict(options.to_dict()) == options
