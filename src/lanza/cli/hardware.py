"""``lanza info`` and ``lanza advise``: the hardware here, and how a model should run."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from lanza.cli.context import state
from lanza.cli.options import JsonFlag
from lanza.cli.output import console, print_json, print_table


def info_command(as_json: JsonFlag = False) -> None:
    """The hardware lanza sees: cores, memory, GPUs with memory and driver.

    Example: lanza info --json
    """
    from lanza.hardware.devices import detect

    hardware = detect()
    if as_json:
        print_json({**asdict(hardware), "has_gpu": hardware.has_gpu})
        return
    console.print(f"CPU cores: {hardware.cores}   memory: {hardware.memory_mib / 1024:.1f} GiB")
    if not hardware.gpus:
        console.print("GPUs: none" + (" (torch sees CUDA)" if hardware.torch_cuda else ""))
        return
    print_table(
        "GPUs",
        ["index", "name", "memory MiB", "driver"],
        [[g.index, g.name, g.memory_mib, g.driver] for g in hardware.gpus],
    )


def advise_command(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="NAME@ALIAS or NAME/VERSION.")],
    rps: Annotated[float, typer.Option(help="Peak real-time requests per second.")] = 0.0,
    p99_ms: Annotated[float, typer.Option(help="Real-time p99 latency target.")] = 100.0,
    rows_per_day: Annotated[float, typer.Option(help="Rows scored in batch per day.")] = 0.0,
    seconds: Annotated[float, typer.Option(help="Measuring time per figure.")] = 0.5,
    cores: Annotated[
        str | None,
        typer.Option(help="Cores to measure on, e.g. 3 or 2,3 (default: this process's last)."),
    ] = None,
    max_spread: Annotated[
        float, typer.Option(help="Refuse figures whose rounds differ by more (0.5 = 50 %).")
    ] = 0.5,
    measurements: Annotated[
        Path | None,
        typer.Option(help="GPU figures from `lanza advise --measure-only --json` elsewhere."),
    ] = None,
    measure_only: Annotated[
        bool, typer.Option("--measure-only", help="Print the measurements, no advice.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Real-time or batch, CPU or GPU, how many of which Google Cloud machine, and the cost.

    Example: lanza advise fraud@champion --rps 200 --p99-ms 50 --rows-per-day 5e6
    """
    from lanza.advisor.service import AdviseRequest, measurements_json, run_advice
    from lanza.errors import DataError

    try:
        pinned = [int(c) for c in cores.split(",")] if cores else None
    except ValueError:
        raise DataError(f"--cores {cores}: give core numbers separated by commas.") from None
    request = AdviseRequest(
        reference,
        rps,
        p99_ms,
        rows_per_day,
        seconds,
        pinned,
        max_spread,
        measurements,
        measure_only,
    )
    report = run_advice(state(ctx).workspace(), request)
    if measure_only:
        figures = measurements_json(report)
        if as_json:
            print_json(figures)
        else:
            _print_measured(report)
        return
    advice = report.advice
    if as_json:
        print_json(
            {
                **measurements_json(report),
                "sample_source": report.sample_source,
                "gpu_source": report.gpu_source,
                "prices": {
                    "date": report.prices.date,
                    "region": report.prices.region,
                    "currency": report.prices.currency,
                    "source": report.prices.source,
                    "machines": [asdict(m) for m in report.prices.machines],
                },
                "mode": advice.mode,
                "device": advice.hardware,
                "reasons": advice.reasons,
                "recommended": [asdict(o) for o in advice.recommended()],
                "options": [asdict(o) for o in advice.options],
                "unmeasured": advice.unmeasured,
            }
        )
        return
    _print_measured(report)
    sizes = {
        m.name: f"{m.name} ({m.vcpus} vCPU, {m.memory_gib:g} GiB)" for m in report.prices.machines
    }
    for reason in advice.reasons:
        console.print(f"• {reason}")
    print_table(
        f"Options (prices {report.prices.region}, {report.prices.date})",
        ["mode", "platform", "machine", "instances", "USD/month", "meets", "why"],
        [
            [
                o.mode,
                o.platform,
                sizes.get(o.machine, o.machine),
                o.instances,
                f"{o.monthly_usd:,.2f}",
                "yes" if o.meets_target else "no",
                o.why,
            ]
            for o in sorted(advice.options, key=lambda o: (o.mode, o.monthly_usd))
        ],
    )
    if advice.unmeasured:
        console.print("[bold]GPU machines, unmeasured (not priced):[/]")
        for line in advice.unmeasured:
            console.print(f"  {line}")
    for pick in advice.recommended():
        console.print(
            f"[bold green]Recommended {pick.mode}[/]: {pick.instances} × {pick.machine} "
            f"on {pick.platform}, ≈ ${pick.monthly_usd:,.2f}/month ({pick.why})."
        )
    if not advice.recommended():
        console.print(
            "[bold red]No option meets the target[/]: relax the latency "
            "target, or make the model faster (lanza optimize)."
        )
    console.print(f"Prices of {report.prices.date}: {report.prices.source}")
    console.print("How it decides: docs/advisor.md (the rules of lanza.advisor.rules).")


def _print_measured(report: Any) -> None:
    """The measurements, with the rows they used and the cores they ran on."""
    cpu = report.cpu
    console.print(
        f"[bold]{report.version.ref}[/] measured on core(s) "
        f"{','.join(map(str, cpu.cores))} of {report.hardware.cores}, one thread per core, "
        f"on the {report.sample_source}; GPU: {report.gpu_source}."
    )
    for measured in (m for m in (cpu, report.gpu) if m is not None):
        print_table(
            f"Measured on {measured.device}",
            ["batch", "p50 ms", "p99 ms", "rows/s", "spread"],
            [
                [
                    m.batch_size,
                    f"{m.p50_ms:.3f}",
                    f"{m.p99_ms:.3f}",
                    f"{m.rows_per_s:,.0f}",
                    f"{m.spread:.0%}",
                ]
                for m in measured.batches
            ],
        )
        server = measured.server
        console.print(
            f"Server path ({server.concurrency} callers, micro-batching): "
            f"{server.requests_per_s:,.0f} req/s, p50 {server.p50_ms:.2f} ms, "
            f"p99 {server.p99_ms:.2f} ms, spread {server.spread:.0%}."
        )
