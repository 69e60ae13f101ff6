"""Monitoring at scale: drift over a big window, rounds over a big log, each against a reference.

Drift: a 5,000-row reference and a window of ``--rows`` rows x ``--columns`` columns (a
tenth categorical, every tenth column of each kind clearly shifted; ``bench/drift.py``
makes them). lanza's ``dataset_drift`` runs three times: the first prepares the
reference inside the timing (a version's first round), the others reuse it (every later
round). In the same run, on the same data: SciPy column by column on every row (the
reference computation: ``ks_2samp``, ``wasserstein_distance``, ``chi2_contingency``, the
same thresholds), and Evidently's ``DataDriftPreset`` on the window's first
``--evidently-rows`` rows (its own environment under ``bench/.peers``, made on first use).

Rounds: a fresh Postgres database at 127.0.0.1:5432 (``LANZA_BENCH_PG``) with a log of
``--log-rows`` rows, lanza's monitoring round timed against the round as it was before
(``bench/monitoring_round.py``), the batched purge, and the database dropped.

Prints each figure, the ratios, whether each goal of the monitoring issue is met, the
machine's cores and its load average before and after.

    .venv/bin/python bench/monitoring.py                  # 1M x 100 window, 10M-row log
    .venv/bin/python bench/monitoring.py --quick          # 100k x 100 window, 1M-row log
    .venv/bin/python bench/monitoring.py --rows 1000000 --log-rows 10000000 --evidently-rows 50000
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import drift
import monitoring_round
from lanza.monitoring.drift import ReferenceProfile

DRIFT_GOAL_S = 10.0
EVIDENTLY_GOAL = 20.0


def load() -> str:
    """The load average over 1, 5 and 15 minutes."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


def drift_part(rows: int, columns: int, evidently_rows: int, skip_evidently: bool) -> list[str]:
    """Time lanza, SciPy and Evidently on one window; the summary lines."""
    began = time.perf_counter()
    reference, current, shifted = drift.make_data(rows, columns, 0)
    made = time.perf_counter() - began
    print(
        f"\n== drift: window {rows:,} x {columns}, {len(shifted)} columns shifted, "
        f"reference {drift.REFERENCE_ROWS:,} rows (made in {made:.0f} s)"
    )
    first_s, ours, effects = drift.run_lanza(reference, current)
    profile = ReferenceProfile(reference)
    drift.dataset_drift(profile, current.head(1000), list(reference.columns), drift.Thresholds())
    later = []
    for _ in range(2):
        began = time.perf_counter()
        drift.dataset_drift(profile, current, list(reference.columns), drift.Thresholds())
        later.append(time.perf_counter() - began)
    wrong = sorted(c for c in ours if ours[c] != (c in shifted))
    print(f"lanza      first round {first_s:.2f} s, later rounds {later[0]:.2f} s and "
          f"{later[1]:.2f} s; flags the {len(shifted)} shifted columns and no other: "
          f"{not wrong} {wrong[:5]}", flush=True)  # fmt: skip
    scipy_s, scipy_verdicts, scipy_effects = drift.run_scipy(reference, current)
    differ = sorted(c for c in ours if ours[c] != scipy_verdicts[c])
    gap = max(abs(effects[c] - scipy_effects[c]) for c in effects)
    print(f"SciPy      {scipy_s:.2f} s on every row, column by column; verdicts differ on: "
          f"{differ or 'none'}; largest effect-size difference {gap:.4f}", flush=True)  # fmt: skip
    slowest = max(first_s, *later)
    lines = [
        f"drift {rows:,} x {columns}: lanza {first_s:.2f} s first round, "
        f"{min(later):.2f} s later (goal <= {DRIFT_GOAL_S:.0f} s: "
        f"{'met' if slowest <= DRIFT_GOAL_S else 'NOT met'}); SciPy on every row "
        f"{scipy_s:.2f} s ({scipy_s / first_s:.1f}x lanza's first round); verdicts as SciPy's "
        f"on {columns - len(differ)} of {columns} columns, effect sizes within {gap:.4f}",
    ]
    if skip_evidently:
        return lines
    peer_rows = min(evidently_rows, rows)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        reference.to_parquet(folder / "ref.parquet")
        current.head(peer_rows).to_parquet(folder / "peer.parquet")
        theirs_s, theirs = drift.run_evidently(folder)
    same = sum(ours[c] == theirs[c] for c in ours if c in theirs)
    clear = [c for c in shifted if c in theirs]
    caught = sum(theirs[c] for c in clear)
    ratio = (rows / first_s) / (peer_rows / theirs_s)
    per_row = "" if peer_rows == rows else f" per row (Evidently ran the first {peer_rows:,} rows)"
    print(
        f"Evidently  {theirs_s:.2f} s on {peer_rows:,} rows; agrees with lanza on {same} of "
        f"{len(theirs)} columns, flags {caught} of the {len(clear)} shifted",
        flush=True,
    )
    lines.append(
        f"Evidently {theirs_s:.2f} s on {peer_rows:,} rows: lanza {ratio:.0f}x faster{per_row} "
        f"(goal >= {EVIDENTLY_GOAL:.0f}x: {'met' if ratio >= EVIDENTLY_GOAL else 'NOT met'}); "
        f"same verdicts on {same} of {len(theirs)} columns"
    )
    return lines


def main() -> None:
    """Both parts, then the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k-row window, 1M-row log")
    parser.add_argument("--rows", type=int, default=None, help="window rows for drift")
    parser.add_argument("--columns", type=int, default=100)
    parser.add_argument("--evidently-rows", type=int, default=None)
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--log-rows", type=int, default=None, help="prediction log rows")
    parser.add_argument("--new", type=int, default=100, help="requests logged between rounds")
    parser.add_argument("--part", choices=["all", "drift", "round"], default="all")
    args = parser.parse_args()
    rows = args.rows or (100_000 if args.quick else 1_000_000)
    log_rows = args.log_rows or (1_000_000 if args.quick else 10_000_000)
    evidently_rows = args.evidently_rows or (10_000 if args.quick else 50_000)
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"{started}; {platform.node()}, {os.cpu_count()} cores, {platform.processor() or ''} "
          f"numpy {np.__version__}; load average {load()}", flush=True)  # fmt: skip
    lines: list[str] = []
    if args.part in ("all", "drift"):
        lines += drift_part(rows, args.columns, evidently_rows, args.skip_evidently)
    if args.part in ("all", "round"):
        print(f"\n== monitoring rounds: a log of {log_rows:,} rows in Postgres", flush=True)
        figures = monitoring_round.measure(log_rows, 1000, 5, args.new)
        lines += monitoring_round.summary(figures)
        purge = f"purge of {figures.purged:,} expired rows in batches {figures.purge_s:.1f} s"
        lines.append(purge)
    print(f"\n== summary (load average now {load()})")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
