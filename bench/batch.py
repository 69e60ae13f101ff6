"""Batch scoring: ``lanza batch`` against ``mlflow models predict`` on the same model.

Generates N rows × 20 numeric columns as CSV, trains one logistic regression with
lanza (registered in a temporary LANZA_HOME), then scores the CSV with both tools in
the same run and prints wall time, rows/s and peak RSS of each process tree, and the
ratios. lanza runs twice: cold (its cache of checked models emptied, as on a machine
that did not train the model) and warm. ``lanza batch`` hands its MLflow run to a
process it starts as it ends; the benchmark waits for that run to be logged before it
measures anything else, and reports when it was. Both tools then score the first 10
rows, and a bare interpreter imports what a job needs (pandas, pyarrow, scikit-learn),
each the fastest of three runs, so the report can split each tool's time into a fixed
start-up and the cost per million rows. Run:
``python bench/batch.py --rows 1000000`` (and ``--rows 5000000`` to see that lanza's
memory does not grow with the input).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

COLUMNS = 20
SMALL_ROWS = 10
# What any job that reads a CSV file and scores a scikit-learn model has to import; it then
# exits without the interpreter's teardown (about 0.9 s for these modules, measured), which
# a lanza job also skips: it freezes the garbage collector once the model is loaded.
IMPORTS = (
    "import pandas, pyarrow.csv, pyarrow.parquet, sklearn.linear_model, sklearn.pipeline, "
    "sklearn.impute, sklearn.preprocessing, sklearn.compose; import os; os._exit(0)"
)
DRAIN = "lanza.batch.tracking"  # the module of the process that logs lanza's MLflow run


@dataclass
class Run:
    """One measured command."""

    name: str
    seconds: float
    peak_mb: float
    rows: int
    stdout: bytes = b""
    tracked_s: float | None = None  # lanza: from its start until its MLflow run was logged

    @property
    def rows_per_s(self) -> float:
        """Rows scored per second of wall time."""
        return self.rows / self.seconds


def write_csv(path: Path, rows: int, seed: int = 0) -> None:
    """Random rows in slices of 500k, so making the data stays small in memory too."""
    rng = np.random.default_rng(seed)
    names = [f"f{i}" for i in range(COLUMNS)]
    for start in range(0, rows, 500_000):
        size = min(500_000, rows - start)
        frame = pd.DataFrame(rng.normal(size=(size, COLUMNS)).round(6), columns=names)
        frame.to_csv(path, mode="a" if start else "w", header=not start, index=False)


def train_model(home: Path) -> str:
    """Train and register ``bench`` in the given home; returns its models:/ URI."""
    from lanza.settings import Settings
    from lanza.training.service import TrainRequest, train
    from lanza.workspace import Workspace

    rng = np.random.default_rng(1)
    x = rng.normal(size=(5_000, COLUMNS))
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(COLUMNS)])
    frame["y"] = (x[:, 0] + 0.5 * x[:, 1] - x[:, 2] > 0).astype(int)
    workspace = Workspace(Settings(home=home))
    train(workspace, TrainRequest(frame, "y", "bench", candidates=["logistic_regression"], folds=3))
    workspace.close()
    return "models:/bench/1"


def measure(name: str, command: list[str], env: dict[str, str], rows: int) -> Run:
    """Run a command and poll the RSS of its whole process tree every 50 ms."""
    began = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE)
    root = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            peak = max(peak, sum(_rss(p) for p in tree))
        except psutil.NoSuchProcess:
            pass
        time.sleep(0.05)
    seconds = time.perf_counter() - began
    stdout = process.stdout.read() if process.stdout else b""
    if process.returncode != 0:
        sys.exit(f"{name} failed with exit code {process.returncode}")
    tracked = _wait_for_drain(Path(env["LANZA_HOME"]) / "outbox") - began
    return Run(name, seconds, peak / 2**20, rows, stdout, tracked if "lanza" in name else None)


def _wait_for_drain(outbox: Path) -> float:
    """When lanza's MLflow run was logged, after the drain process has exited: it must not
    run beside the next measurement."""
    logged = None
    while True:
        if logged is None and not list(outbox.glob("*.json")):
            logged = time.perf_counter()
        draining = [
            p for p in psutil.process_iter(["cmdline"]) if DRAIN in (p.info["cmdline"] or [])
        ]
        if logged is not None and not draining:
            return logged
        time.sleep(0.02)


def fastest(name: str, command: list[str], env: dict[str, str], rows: int) -> Run:
    """The fastest of three runs: start-up times on a shared machine only ever gain noise."""
    return min((measure(name, command, env, rows) for _ in range(3)), key=lambda r: r.seconds)


def _rss(process: psutil.Process) -> int:
    try:
        return int(process.memory_info().rss)
    except psutil.Error:
        return 0


def main() -> None:
    """Generate, train, score twice, print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-mlflow", action="store_true", help="Measure lanza only.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lanza-bench-") as tmp:
        folder = Path(tmp)
        home = folder / "home"
        data = folder / "in.csv"
        write_csv(data, args.rows)
        small = folder / "small.csv"
        with data.open() as full, small.open("w") as head:
            head.writelines(next(full) for _ in range(SMALL_ROWS + 1))
        uri = train_model(home)
        env = {
            **os.environ,
            "LANZA_HOME": str(home),
            "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
            "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",
        }
        bin_dir = Path(sys.executable).parent
        size_mb = data.stat().st_size / 2**20
        cores = os.cpu_count()
        print(f"{args.rows:,} rows × {COLUMNS} columns, {size_mb:,.0f} MB CSV, {cores} cores")
        lanza = [str(bin_dir / "lanza"), "batch", "bench/1", str(data), "--json"]
        # Training cached the checked model; the cold run first deletes that cache, as
        # on a machine that did not train it (the first load there checks the skops file).
        shutil.rmtree(home / "models" / ".verified", ignore_errors=True)
        cold = measure(
            "lanza batch (cold)", [*lanza[:4], str(folder / "cold"), *lanza[4:]], env, args.rows
        )
        runs = [
            measure("lanza batch", [*lanza[:4], str(folder / "out"), *lanza[4:]], env, args.rows)
        ]
        floor = fastest("imports alone", [sys.executable, "-c", IMPORTS], env, SMALL_ROWS)
        small_out = str(folder / "small-out")
        small_lanza = [*lanza[:3], str(small), small_out, *lanza[4:], "--overwrite"]
        small_runs = [fastest("lanza batch", small_lanza, env, SMALL_ROWS)]
        if not args.skip_mlflow:
            mlflow = [str(bin_dir / "mlflow"), "models", "predict", "-m", uri, "-t", "csv"]
            mlflow += ["--env-manager", "local"]
            runs.append(
                measure(
                    "mlflow models predict",
                    [*mlflow, "-i", str(data), "-o", str(folder / "out.json")],
                    env,
                    args.rows,
                )
            )
            small_runs.append(
                fastest(
                    "mlflow models predict",
                    [*mlflow, "-i", str(small), "-o", str(folder / "small.json")],
                    env,
                    SMALL_ROWS,
                )
            )
        report(runs, cold)
        split(runs, small_runs, floor)


def report(runs: list[Run], cold: Run) -> None:
    """A small table, then the ratios against the peer."""
    print(f"{'tool':<24}{'wall s':>10}{'rows/s':>14}{'peak RSS MB':>14}")
    for run in [cold, *runs]:
        print(f"{run.name:<24}{run.seconds:>10.2f}{run.rows_per_s:>14,.0f}{run.peak_mb:>14,.0f}")
    scoring = json.loads(runs[0].stdout)["seconds"]
    print(
        f"of lanza's {runs[0].seconds:.1f} s, {scoring:.1f} s ran the job (the model loading "
        f"while the first chunks were parsed, then the rows scored and written: "
        f"{runs[0].rows / scoring:,.0f} rows/s); the rest is the interpreter and imports."
    )
    if runs[0].tracked_s is not None:
        print(
            f"lanza's MLflow run was logged {runs[0].tracked_s:.1f} s after it started "
            f"({runs[0].tracked_s - runs[0].seconds:.1f} s after it returned), by the process "
            "it starts as it ends."
        )
    if len(runs) == 2:
        ours, peer = runs
        print(
            f"lanza is {peer.seconds / ours.seconds:.1f}× faster and uses "
            f"{ours.peak_mb / peer.peak_mb:.2f}× the memory of {peer.name} "
            f"(cold: {peer.seconds / cold.seconds:.1f}× faster, "
            f"{cold.peak_mb / peer.peak_mb:.2f}× the memory)."
        )


def split(runs: list[Run], small_runs: list[Run], floor: Run) -> None:
    """Each tool's fixed start-up (its 10-row run) and its seconds per million rows."""
    print(f"\n{'tool (10 rows, fastest of 3)':<30}{'start-up s':>12}{'s per 1M rows':>16}")
    for run, small in zip(runs, small_runs, strict=True):
        per_million = (run.seconds - small.seconds) / (run.rows - small.rows) * 1e6
        print(f"{run.name:<30}{small.seconds:>12.2f}{per_million:>16.2f}")
    print(
        f"importing pandas, pyarrow and scikit-learn alone takes {floor.seconds:.2f} s "
        f"and {floor.peak_mb:,.0f} MB: {floor.seconds / small_runs[0].seconds:.0%} of lanza's "
        "start-up."
    )
    if len(runs) == 2:
        budget = runs[1].seconds / 4
        print(
            f"4× faster than {runs[1].name} means the whole lanza job in {budget:.2f} s; "
            f"the imports leave {budget - floor.seconds:.2f} s for reading the model "
            f"and {runs[0].rows:,} rows."
        )


if __name__ == "__main__":
    main()
