"""The advisor's decision rules, applied to measurements and a price table.

1. **Mode.** Requests per second ask for real-time serving; rows per day ask for batch;
   both ask for both.
2. **Latency.** Real-time is feasible when one row's p99 model latency is at most half the
   p99 target (the other half is left to the network, HTTP and queueing).
3. **Real-time capacity.** Per vCPU: the model's rows/s at the largest measured batch whose
   p99 fits in half the target (micro-batching merges concurrent rows), capped by the
   HTTP layer at ``HTTP_RPS_PER_VCPU``. Instances run at ``UTILISATION`` so bursts fit.
4. **Batch capacity.** Per vCPU: rows/s at the largest measured batch; a machine with
   *v* vCPUs does *v* times that (``PARALLEL_EFFICIENCY`` accounts for the rest). Reading
   and writing files is not included: for fast models it dominates (see bench/batch.py).
5. **Hardware.** CPUs for scikit-learn, XGBoost, LightGBM, kNN and SVM models; a GPU only
   for deep-learning models and only when it was measured faster here.
6. **Cost.** Monthly = 730 hours. Real-time runs all month (at least one instance);
   batch pays only for the hours it runs each day (30 days). The cheapest option that
   meets the targets is recommended; the table shows every option and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lanza.advisor.measure import Measurement
from lanza.advisor.prices import PriceTable

HOURS_PER_MONTH = 730.0
# What lanza's HTTP layer answers per vCPU for single-row requests (bench/realtime.py).
HTTP_RPS_PER_VCPU = 500.0
UTILISATION = 0.6
PARALLEL_EFFICIENCY = 0.8
CLOUD_RUN_MEMORY_GIB_PER_VCPU = 2.0


@dataclass(frozen=True)
class Option:
    """One way to run the model, its size and its monthly cost."""

    mode: str
    platform: str
    machine: str
    instances: int
    monthly_usd: float
    meets_target: bool
    why: str


@dataclass(frozen=True)
class Advice:
    """The recommendation, the options behind it, and the reasoning."""

    mode: str
    hardware: str
    options: list[Option]
    reasons: list[str]

    def recommended(self) -> list[Option]:
        """The cheapest option meeting the target, per mode."""
        picks = []
        for mode in sorted({o.mode for o in self.options}):
            fitting = [o for o in self.options if o.mode == mode and o.meets_target]
            if fitting:
                picks.append(min(fitting, key=lambda o: o.monthly_usd))
        return picks


def advise(
    measurements: list[Measurement],
    prices: PriceTable,
    rps: float,
    p99_ms: float,
    rows_per_day: float,
    deep_learning: bool = False,
) -> Advice:
    """Apply the rules; see the module docstring."""
    reasons: list[str] = []
    options: list[Option] = []
    mode = "both" if rps > 0 and rows_per_day > 0 else "real-time" if rps > 0 else "batch"
    hardware = "gpu" if deep_learning else "cpu"
    reasons.append(
        "Model family runs best on CPU (tree, linear, kNN and SVM models gain nothing from a GPU)."
        if not deep_learning
        else "Deep-learning model: GPU options are considered."
    )
    if rps > 0:
        options += _realtime(measurements, prices, rps, p99_ms, reasons, deep_learning)
    if rows_per_day > 0:
        options += _batch(measurements, prices, rows_per_day, reasons, deep_learning)
    return Advice(mode, hardware, options, reasons)


def _realtime(
    measurements: list[Measurement],
    prices: PriceTable,
    rps: float,
    p99_ms: float,
    reasons: list[str],
    gpu_ok: bool,
) -> list[Option]:
    single = measurements[0]
    budget = p99_ms / 2
    feasible = single.p99_ms <= budget
    fitting = [m for m in measurements if m.p99_ms <= budget] or [single]
    per_vcpu = min(max(m.rows_per_s for m in fitting), HTTP_RPS_PER_VCPU)
    reasons.append(
        f"One row takes {single.p99_ms:.2f} ms at p99 against a model budget of {budget:.1f} ms "
        f"(half of {p99_ms:g} ms): real-time is {'feasible' if feasible else 'NOT feasible'}."
    )
    reasons.append(
        f"Real-time capacity ≈ {per_vcpu:,.0f} requests/s per vCPU "
        f"(micro-batching up to {max(m.batch_size for m in fitting)} rows)."
    )
    options = []
    for machine in prices.machines:
        if machine.gpu and not gpu_ok:
            continue
        capacity = per_vcpu * machine.vcpus * PARALLEL_EFFICIENCY * UTILISATION
        count = max(1, math.ceil(rps / capacity))
        cost = count * machine.hourly * HOURS_PER_MONTH
        options.append(
            Option(
                "real-time",
                "Compute Engine / GKE",
                machine.name,
                count,
                cost,
                feasible,
                f"{capacity:,.0f} req/s per instance at {UTILISATION:.0%} load",
            )
        )
        options.append(
            Option(
                "real-time",
                "Vertex AI endpoint",
                machine.name,
                count,
                cost * prices.vertex_markup,
                feasible,
                "managed, with markup",
            )
        )
    vcpus = 2
    capacity = per_vcpu * vcpus * PARALLEL_EFFICIENCY * UTILISATION
    count = max(1, math.ceil(rps / capacity))
    seconds = HOURS_PER_MONTH * 3600
    per_instance = vcpus * (
        prices.cloud_run_vcpu_second + CLOUD_RUN_MEMORY_GIB_PER_VCPU * prices.cloud_run_gib_second
    )
    options.append(
        Option(
            "real-time",
            "Cloud Run (always on)",
            f"{vcpus} vCPU",
            count,
            count * per_instance * seconds,
            feasible,
            f"{capacity:,.0f} req/s per instance",
        )
    )
    return options


def _batch(
    measurements: list[Measurement],
    prices: PriceTable,
    rows_per_day: float,
    reasons: list[str],
    gpu_ok: bool,
) -> list[Option]:
    best = max(measurements, key=lambda m: m.rows_per_s)
    reasons.append(
        f"Batch throughput ≈ {best.rows_per_s:,.0f} rows/s per vCPU (batches of {best.batch_size})."
    )
    options = []
    for machine in prices.machines:
        if machine.gpu and not gpu_ok:
            continue
        rate = best.rows_per_s * machine.vcpus * PARALLEL_EFFICIENCY
        hours = rows_per_day / rate / 3600
        billed = max(hours, 1 / 60)
        options.append(
            Option(
                "batch",
                "Compute Engine (per day)",
                machine.name,
                1,
                billed * 30 * machine.hourly,
                hours <= 24,
                f"{hours * 60:,.1f} min/day at {rate:,.0f} rows/s",
            )
        )
    vcpus = 4
    rate = best.rows_per_s * vcpus * PARALLEL_EFFICIENCY
    seconds = rows_per_day / rate
    per_second = vcpus * (
        prices.cloud_run_vcpu_second + CLOUD_RUN_MEMORY_GIB_PER_VCPU * prices.cloud_run_gib_second
    )
    options.append(
        Option(
            "batch",
            "Cloud Run job",
            f"{vcpus} vCPU",
            1,
            max(seconds, 60) * 30 * per_second,
            seconds <= 86400,
            f"{seconds / 60:,.1f} min/day at {rate:,.0f} rows/s",
        )
    )
    return options
