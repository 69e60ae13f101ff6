"""``lanza optimize``: a faster version of a registered model, in ONNX."""

from __future__ import annotations

from typing import Annotated

import typer

from lanza.cli.context import state
from lanza.cli.options import JsonFlag
from lanza.cli.output import console, print_json, print_table


def optimize_command(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="NAME/VERSION or NAME@ALIAS to convert.")],
    tolerance: Annotated[
        float, typer.Option(help="Largest prediction difference accepted (probabilities).")
    ] = 1e-4,
    seconds: Annotated[float, typer.Option(help="Time spent measuring the speed-up.")] = 2.0,
    as_json: JsonFlag = False,
) -> None:
    """Convert a scikit-learn, XGBoost or LightGBM model to ONNX and register it.

    Checks predictions on the reference sample (else the input example, else rows from
    the signature) and reports the largest difference.

    Times one row and a batch against the original.

    Registers a new version that serving and batch run with ONNX Runtime.

    Example: lanza optimize fraud/3
    """
    from lanza.optimize.service import optimize

    with console.status("converting, checking and timing", spinner="dots") as status:
        if as_json:
            status.stop()
        result = optimize(state(ctx).workspace(), reference, tolerance, seconds)
    if as_json:
        print_json(result.to_dict())
        return
    parity, speed = result.parity, result.speed
    for rewrite in result.rewrites:
        console.print(f"rewrote {rewrite}")
    console.print(
        f"parity on {parity.rows:,} rows ({result.sample_source}): largest difference "
        f"{parity.max_abs_diff:.3g} (tolerance {parity.tolerance:g}), "
        f"{parity.label_mismatches} labels changed"
    )
    print_table(
        "Speed (median per call)",
        ["call", result.source.ref, f"{result.created.ref} (ONNX)", "speed-up"],
        [
            [
                "1 row",
                f"{speed.single_before_s * 1e3:.3f} ms",
                f"{speed.single_after_s * 1e3:.3f} ms",
                f"{speed.single_speedup:.1f}x",
            ],
            [
                f"{speed.batch_rows:,} rows",
                f"{speed.batch_before_s * 1e3:.2f} ms",
                f"{speed.batch_after_s * 1e3:.2f} ms",
                f"{speed.batch_speedup:.1f}x",
            ],
        ],
    )
    console.print(
        f"[bold green]Registered {result.created.ref}[/] (ONNX Runtime) from {result.source.ref}; "
        f"promote it with: lanza models promote {result.created.name} {result.created.version}"
    )
