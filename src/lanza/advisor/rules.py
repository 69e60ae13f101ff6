"""The advisor's decision rules, applied to measurements and a price table.

1. **Mode.** Requests per second ask for real-time serving; rows per day ask for batch;
   both ask for both.
2. **Latency.** Real-time is feasible when one row's p99 model latency is at most half the
   p99 target (the other half is left to the network, HTTP and queueing).
3. **Real-time capacity.** Per vCPU: a request costs the core its time through lanza's
   micro-batcher (single-row requests on one pinned core, ``lanza.advisor.measure``)
   plus its time in the HTTP layer (``1 / HTTP_RPS_PER_VCPU``); both run on the same
   cores, so the times add: ``1 / (1 / model_rps + 1 / HTTP_RPS_PER_VCPU)``. Instances
   run at ``UTILISATION`` so bursts fit.
4. **Batch capacity.** Per vCPU: rows/s at the largest measured batch; a machine with
   *v* vCPUs does *v* times that (``PARALLEL_EFFICIENCY`` accounts for the rest). Reading
   and writing files is not included: for fast models it dominates (see bench/batch.py).
5. **Hardware.** GPU machines are priced only from a GPU measurement: made here when
   this machine has a GPU the model's framework can use, or read from ``--measurements``
   (``lanza advise --measure-only --json`` run where there is one). A GPU machine's
   capacity is that measurement, per GPU, never a CPU figure times vCPUs. Without one,
   GPU machines are listed apart as unmeasured, with the reason.
6. **Cost.** Monthly = 730 hours. Real-time runs all month (at least one instance);
   batch pays only for the hours it runs each day (30 days). Cloud Run adds its
   per-request price. The cheapest option that meets the targets is recommended; the
   table shows every option and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lanza.advisor.measure import Measured
from lanza.advisor.prices import Machine, PriceTable

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
    unmeasured: list[str]

    def recommended(self) -> list[Option]:
        """The cheapest option meeting the target, per mode."""
        picks = []
        for mode in sorted({o.mode for o in self.options}):
            fitting = [o for o in self.options if o.mode == mode and o.meets_target]
            if fitting:
                picks.append(min(fitting, key=lambda o: o.monthly_usd))
        return picks


def advise(
    cpu: Measured,
    prices: PriceTable,
    rps: float,
    p99_ms: float,
    rows_per_day: float,
    gpu: Measured | None = None,
    gpu_note: str = "",
) -> Advice:
    """Apply the rules; see the module docstring."""
    reasons: list[str] = []
    options: list[Option] = []
    mode = "both" if rps > 0 and rows_per_day > 0 else "real-time" if rps > 0 else "batch"
    gpus = [m for m in prices.machines if m.gpu]
    unmeasured: list[str] = []
    if gpu is None:
        why = gpu_note or "no GPU measurement"
        unmeasured = [
            f"{m.name} ({m.gpu}, {m.vcpus} vCPU, {m.memory_gib:g} GiB): not priced, {why}; "
            f"${m.hourly:.2f}/hour."
            for m in gpus
        ]
    if rps > 0:
        options += _realtime(cpu, prices, rps, p99_ms, reasons, gpu)
    if rows_per_day > 0:
        options += _batch(cpu, prices, rows_per_day, reasons, gpu)
    best = min((o for o in options if o.meets_target), key=lambda o: o.monthly_usd, default=None)
    hardware = "gpu" if best is not None and "GPU" in best.why else "cpu"
    return Advice(mode, hardware, options, reasons, unmeasured)


def _machines(prices: PriceTable, gpu: Measured | None) -> list[tuple[Machine, Measured | None]]:
    """CPU machines, and GPU machines only when there is a GPU measurement to size them."""
    return [(m, gpu if m.gpu else None) for m in prices.machines if not m.gpu or gpu]


def _realtime(
    cpu: Measured,
    prices: PriceTable,
    rps: float,
    p99_ms: float,
    reasons: list[str],
    gpu: Measured | None,
) -> list[Option]:
    single = cpu.batches[0]
    budget = p99_ms / 2
    feasible = single.p99_ms <= budget
    model_rps = cpu.server.requests_per_s / len(cpu.cores)
    per_vcpu = 1 / (1 / model_rps + 1 / HTTP_RPS_PER_VCPU) if model_rps > 0 else 0.0
    reasons.append(
        f"One row takes {single.p99_ms:.2f} ms at p99 against a model budget of {budget:.1f} ms "
        f"(half of {p99_ms:g} ms): real-time is {'feasible' if feasible else 'NOT feasible'}."
    )
    reasons.append(
        f"Through lanza's micro-batcher, {cpu.server.concurrency} callers got "
        f"{cpu.server.requests_per_s:,.0f} requests/s on {len(cpu.cores)} core(s) "
        f"(batches of {cpu.server.mean_batch:.1f} rows on average); with the HTTP layer's "
        f"{1000 / HTTP_RPS_PER_VCPU:.1f} ms of a core per request, capacity ≈ "
        f"{per_vcpu:,.0f} requests/s per vCPU."
    )
    options = []
    for machine, on_gpu in _machines(prices, gpu):
        if on_gpu is not None:
            capacity = on_gpu.server.requests_per_s * UTILISATION
            fits = on_gpu.batches[0].p99_ms <= budget
            why = f"GPU measured: {capacity:,.0f} req/s per instance at {UTILISATION:.0%} load"
        else:
            capacity = per_vcpu * machine.vcpus * PARALLEL_EFFICIENCY * UTILISATION
            fits = feasible
            why = f"{capacity:,.0f} req/s per instance at {UTILISATION:.0%} load"
        count = max(1, math.ceil(rps / capacity))
        cost = count * machine.hourly * HOURS_PER_MONTH
        options.append(
            Option("real-time", "Compute Engine / GKE", machine.name, count, cost, fits, why)
        )
        options.append(
            Option(
                "real-time",
                "Vertex AI endpoint",
                machine.name,
                count,
                cost * prices.vertex_markup,
                fits,
                "managed, with markup" + ("; GPU measured" if on_gpu else ""),
            )
        )
    vcpus = 2
    capacity = per_vcpu * vcpus * PARALLEL_EFFICIENCY * UTILISATION
    count = max(1, math.ceil(rps / capacity))
    seconds = HOURS_PER_MONTH * 3600
    per_instance = vcpus * (
        prices.cloud_run_vcpu_second + CLOUD_RUN_MEMORY_GIB_PER_VCPU * prices.cloud_run_gib_second
    )
    requests = rps * seconds / 1e6 * prices.cloud_run_requests_per_million
    options.append(
        Option(
            "real-time",
            "Cloud Run (always on)",
            f"{vcpus} vCPU",
            count,
            count * per_instance * seconds + requests,
            feasible,
            f"{capacity:,.0f} req/s per instance",
        )
    )
    if gpu is not None:
        options.append(_cloud_run_gpu(gpu, prices, rps, budget))
    return options


def _cloud_run_gpu(gpu: Measured, prices: PriceTable, rps: float, budget: float) -> Option:
    """Cloud Run with one L4 (4 vCPU, 16 GiB, the smallest shape a GPU takes), always on."""
    capacity = gpu.server.requests_per_s * UTILISATION
    count = max(1, math.ceil(rps / capacity))
    seconds = HOURS_PER_MONTH * 3600
    per_instance = (
        4 * prices.cloud_run_vcpu_second
        + 16 * prices.cloud_run_gib_second
        + prices.cloud_run_l4_gpu_second
    )
    requests = rps * seconds / 1e6 * prices.cloud_run_requests_per_million
    return Option(
        "real-time",
        "Cloud Run with L4 GPU (always on)",
        "4 vCPU + L4",
        count,
        count * per_instance * seconds + requests,
        gpu.batches[0].p99_ms <= budget,
        f"GPU measured: {capacity:,.0f} req/s per instance",
    )


def _batch(
    cpu: Measured,
    prices: PriceTable,
    rows_per_day: float,
    reasons: list[str],
    gpu: Measured | None,
) -> list[Option]:
    best = max(cpu.batches, key=lambda m: m.rows_per_s)
    per_vcpu = best.rows_per_s / len(cpu.cores)
    reasons.append(
        f"Batch throughput ≈ {per_vcpu:,.0f} rows/s per vCPU (batches of {best.batch_size})."
    )
    options = []
    for machine, on_gpu in _machines(prices, gpu):
        if on_gpu is not None:
            rate = max(m.rows_per_s for m in on_gpu.batches)
            how = "GPU measured"
        else:
            rate = per_vcpu * machine.vcpus * PARALLEL_EFFICIENCY
            how = "CPU"
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
                f"{hours * 60:,.1f} min/day at {rate:,.0f} rows/s ({how})",
            )
        )
    vcpus = 4
    rate = per_vcpu * vcpus * PARALLEL_EFFICIENCY
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
