"""How often lanza's drift flags a column with no shift, and how often it catches a real one.

For each window size (100 to 1,000,000 rows) and each scenario, many trials draw a fresh
reference sample of 5,000 rows (what ``lanza train`` registers) and a fresh window, and
run lanza's column drift with its default thresholds. Numeric columns cycle through a
normal, a log-normal (skewed) and a Poisson (integers, many ties) distribution; a shift of
k SD adds k population standard deviations to the window. The categorical scenario moves
10 percentage points of share from the commonest category to the second one.

Run: ``python bench/drift_calibration.py`` (prints the table) and
``python bench/drift_calibration.py --write`` (also puts it in docs/monitoring.md).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from lanza.monitoring.drift import NumericReference, Thresholds, categorical_drift, numeric_drift

REFERENCE_ROWS = 5000
SIZES = (100, 1_000, 10_000, 100_000, 1_000_000)
SHARES = np.array([0.5, 0.3, 0.15, 0.05])
MOVED = np.array([0.4, 0.4, 0.15, 0.05])
DOC = Path(__file__).resolve().parent.parent / "docs" / "monitoring.md"
BEGIN, END = "<!-- drift-calibration:begin -->", "<!-- drift-calibration:end -->"
Draw = Callable[[np.random.Generator, int], np.ndarray]
DISTRIBUTIONS: list[tuple[Draw, float]] = [
    (lambda rng, n: rng.normal(0.0, 1.0, n), 1.0),
    (lambda rng, n: rng.lognormal(0.0, 0.5, n), float(np.sqrt((np.exp(0.25) - 1) * np.exp(0.25)))),
    (lambda rng, n: rng.poisson(3.0, n).astype(float), float(np.sqrt(3.0))),
]


def numeric_rate(size: int, shift: float, trials: int, seed: int) -> float:
    """Share of trials flagged when the window moves by ``shift`` population SDs."""
    rng = np.random.default_rng(seed)
    flagged = 0
    for trial in range(trials):
        draw, sd = DISTRIBUTIONS[trial % len(DISTRIBUTIONS)]
        reference = NumericReference(draw(rng, REFERENCE_ROWS))
        window = draw(rng, size) + shift * sd
        flagged += numeric_drift("x", reference, window, Thresholds()).drifted
    return flagged / trials


def categorical_rate(size: int, shares: np.ndarray, trials: int, seed: int) -> float:
    """Share of trials flagged when the window's categories have ``shares``."""
    rng = np.random.default_rng(seed)
    labels = np.array(["a", "b", "c", "d"])
    flagged = 0
    for _ in range(trials):
        reference = pd.Series(rng.choice(labels, REFERENCE_ROWS, p=SHARES))
        window = pd.Series(rng.choice(labels, size, p=shares))
        flagged += categorical_drift("k", reference, window, Thresholds()).drifted
    return flagged / trials


def trials_for(size: int, base: int) -> int:
    """Fewer trials on big windows: each costs a sort of the whole window."""
    return max(40, min(base, base * 10_000 // size))


def table(base: int, sizes: tuple[int, ...] = SIZES) -> str:
    """The markdown table of rates per scenario and window size."""
    scenarios: list[tuple[str, Callable[[int, int], float]]] = [
        ("no shift, numeric (false alarms)", lambda n, k: numeric_rate(n, 0.0, k, 1)),
        ("no shift, categorical (false alarms)", lambda n, k: categorical_rate(n, SHARES, k, 2)),
        ("0.1 SD shift", lambda n, k: numeric_rate(n, 0.1, k, 3)),
        ("0.2 SD shift", lambda n, k: numeric_rate(n, 0.2, k, 4)),
        ("0.5 SD shift", lambda n, k: numeric_rate(n, 0.5, k, 5)),
        ("10 pp category share moved", lambda n, k: categorical_rate(n, MOVED, k, 6)),
    ]
    head = "| scenario | " + " | ".join(f"{n:,} rows" for n in sizes) + " |"
    lines = [head, "|---" * (len(sizes) + 1) + "|"]
    for name, rate in scenarios:
        cells = [f"{rate(n, trials_for(n, base)):.1%}" for n in sizes]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    counts = ", ".join(f"{trials_for(n, base):,} at {n:,}" for n in sizes)
    t = Thresholds()
    lines.append("")
    lines.append(
        f"Trials per cell: {counts} rows. Thresholds: effect size >= {t.distance} SD "
        f"(numeric) or >= {t.category_share:.0%} of rows changing category, and "
        f"p < {t.p_value}. Reference: {REFERENCE_ROWS:,} rows."
    )
    return "\n".join(lines)


def main() -> None:
    """Measure, print, and optionally publish in docs/monitoring.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000, help="Trials per cell up to 10k rows.")
    parser.add_argument("--write", action="store_true", help="Update docs/monitoring.md.")
    parser.add_argument("--sizes", help="Window sizes, comma-separated (default: all five).")
    args = parser.parse_args()
    sizes = tuple(int(n) for n in args.sizes.split(",")) if args.sizes else SIZES
    began = time.perf_counter()
    result = table(args.trials, sizes)
    print(f"\n{result}\n\nmeasured in {time.perf_counter() - began:.0f} s")
    if args.write:
        text = DOC.read_text()
        start, stop = text.index(BEGIN) + len(BEGIN), text.index(END)
        DOC.write_text(f"{text[:start]}\n{result}\n{text[stop:]}")


if __name__ == "__main__":
    main()
