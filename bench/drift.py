"""Drift over a big window: lanza against Evidently's data-drift report, same data, same run.

Draws a 5,000-row reference and a window of ``--rows`` rows x ``--columns`` columns (a
tenth categorical), with clear shifts in a few columns (0.5 SD on numeric ones, 20
points of share on categorical ones) and none elsewhere, and writes both as parquet.
lanza's drift runs in this process; Evidently's ``DataDriftPreset`` runs on the same
files in its own virtual environment under ``bench/.peers/evidently`` (made on first
use: Evidently 0.7 needs pandas < 3). Prints each tool's seconds, the ratio, and
whether the two agree per column on the clearly shifted and the unshifted ones.

    .venv/bin/python bench/drift.py --rows 1000000 --columns 100
    .venv/bin/python bench/drift.py --rows 1000000 --columns 100 --evidently-rows 100000

``--evidently-rows`` gives Evidently a smaller window (its first rows) when its time at
full size is out of reach; the ratio is then reported per row, and said so.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from lanza.monitoring.drift import Thresholds, dataset_drift

ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT / "bench" / ".peers" / "evidently"
REFERENCE_ROWS = 5000
SHIFTED_EVERY = 10  # every tenth column of each kind is shifted
PEER_SCRIPT = """
import json, sys, time
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
reference = pd.read_parquet(sys.argv[1])
current = pd.read_parquet(sys.argv[2])
began = time.perf_counter()
snapshot = Report([DataDriftPreset()]).run(current, reference)
seconds = time.perf_counter() - began
verdicts = {}
for item in snapshot.dict()["metrics"]:
    config = item.get("config") or {}
    column = config.get("column")
    if column is None or "ValueDrift" not in str(config.get("type", "")):
        continue
    method = str(config.get("method", ""))
    threshold = config.get("threshold")
    value = item["value"]
    p_value = "p_value" in method.lower() or "test" in method.lower()
    verdicts[column] = bool(value < threshold if p_value else value >= threshold)
print(json.dumps({"seconds": seconds, "drifted": verdicts}))
"""


def make_data(rows: int, columns: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, set[str]]:
    """Reference, window and the names of the columns shifted in the window."""
    rng = np.random.default_rng(seed)
    categorical = max(1, columns // 10)
    reference: dict[str, np.ndarray] = {}
    current: dict[str, np.ndarray] = {}
    shifted: set[str] = set()
    labels = np.array(list("abcdefgh"))
    shares = np.array([0.3, 0.2, 0.15, 0.1, 0.1, 0.05, 0.05, 0.05])
    moved = shares + np.array([-0.2, 0.2, 0, 0, 0, 0, 0, 0])
    for i in range(columns - categorical):
        name = f"n{i}"
        reference[name] = rng.normal(0, 1, REFERENCE_ROWS)
        current[name] = rng.normal(0, 1, rows)
        if i % SHIFTED_EVERY == 0:
            current[name] += 0.5
            shifted.add(name)
    for i in range(categorical):
        name = f"c{i}"
        reference[name] = rng.choice(labels, REFERENCE_ROWS, p=shares)
        current[name] = rng.choice(labels, rows, p=moved if i % SHIFTED_EVERY == 0 else shares)
        if i % SHIFTED_EVERY == 0:
            shifted.add(name)
    return pd.DataFrame(reference), pd.DataFrame(current), shifted


def run_lanza(
    reference: pd.DataFrame, current: pd.DataFrame
) -> tuple[float, dict[str, bool], dict[str, float]]:
    """Seconds for lanza's drift over every column, its verdicts and effect sizes."""
    began = time.perf_counter()
    found = dataset_drift(reference, current, list(reference.columns), Thresholds())
    seconds = time.perf_counter() - began
    return (
        seconds,
        {f.column: f.drifted for f in found.features},
        {f.column: f.effect_size for f in found.features},
    )


def run_scipy(
    reference: pd.DataFrame, current: pd.DataFrame
) -> tuple[float, dict[str, bool], dict[str, float]]:
    """The reference computation: SciPy, column by column, on every row of the window.

    ``ks_2samp`` and ``wasserstein_distance`` (in reference SDs) on numeric columns,
    ``chi2_contingency`` and the total variation distance on categorical ones; the same
    thresholds as lanza's, so the verdicts and effect sizes can be compared one to one.
    """
    t = Thresholds()
    verdicts: dict[str, bool] = {}
    effects: dict[str, float] = {}
    began = time.perf_counter()
    for name in reference.columns:
        ref, cur = reference[name], current[name]
        if pd.api.types.is_numeric_dtype(ref):
            p = float(stats.ks_2samp(ref, cur).pvalue)
            effect = float(stats.wasserstein_distance(ref, cur)) / float(np.std(ref))
            threshold = t.distance
        else:
            table = pd.concat([ref.value_counts(), cur.value_counts()], axis=1).fillna(0)
            p = float(stats.chi2_contingency(table.to_numpy().T, correction=False).pvalue)
            shares = table / table.sum()
            effect = 0.5 * float(np.abs(shares.iloc[:, 0] - shares.iloc[:, 1]).sum())
            threshold = t.category_share
        effects[name] = effect
        verdicts[name] = effect >= threshold and p < t.p_value
    return time.perf_counter() - began, verdicts, effects


def peer_python() -> Path:
    """Evidently's interpreter, its environment made on first use."""
    python = PEER / "bin" / "python"
    done = PEER / ".installed"
    if not done.exists():
        print("making bench/.peers/evidently (once) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(PEER)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "evidently", "pandas<3", "pyarrow"],
            check=True,
        )
        done.touch()
    return python


def run_evidently(folder: Path) -> tuple[float, dict[str, bool]]:
    """Seconds for Evidently's data-drift report on the same files, and its verdicts."""
    env = {**os.environ, "DO_NOT_TRACK": "1", "EVIDENTLY_DISABLE_TELEMETRY": "1"}
    done = subprocess.run(
        [str(peer_python()), "-c", PEER_SCRIPT, str(folder / "ref.parquet"),
         str(folder / "peer.parquet")],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"Evidently failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return float(result["seconds"]), dict(result["drifted"])


def main() -> None:
    """Measure both tools on the same data and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--columns", type=int, default=100)
    parser.add_argument("--evidently-rows", type=int, default=None)
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    reference, current, shifted = make_data(args.rows, args.columns, args.seed)
    print(f"window {args.rows:,} rows x {args.columns} columns, {len(shifted)} shifted; "
          f"reference {REFERENCE_ROWS:,} rows; {os.cpu_count()} cores")  # fmt: skip
    lanza_s, ours, _ = run_lanza(reference, current)
    print(f"lanza      {lanza_s:8.2f} s  ({args.rows / lanza_s:,.0f} rows/s)")
    wrong = [c for c in ours if ours[c] != (c in shifted)]
    print(f"lanza flags the {len(shifted)} shifted columns and no other: {not wrong} {wrong[:5]}")
    if args.skip_evidently:
        return
    peer_rows = args.evidently_rows or args.rows
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        reference.to_parquet(folder / "ref.parquet")
        current.head(peer_rows).to_parquet(folder / "peer.parquet")
        theirs_s, theirs = run_evidently(folder)
    print(
        f"Evidently  {theirs_s:8.2f} s  ({peer_rows / theirs_s:,.0f} rows/s) on {peer_rows:,} rows"
    )
    if peer_rows == args.rows:
        print(f"lanza is {theirs_s / lanza_s:.1f}x faster")
    else:
        ratio = (args.rows / lanza_s) / (peer_rows / theirs_s)
        print(f"lanza is {ratio:.1f}x faster per row (Evidently ran {peer_rows:,} of the rows)")
    same = [c for c in ours if c in theirs and ours[c] == theirs[c]]
    differ = [c for c in ours if c in theirs and ours[c] != theirs[c]]
    print(f"verdicts agree on {len(same)} of {len(theirs)} columns; differ on: {differ or 'none'}")


if __name__ == "__main__":
    main()
