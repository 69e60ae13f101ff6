"""``lanza monitor``: a deployment's monitoring report, read from lanza's database.

The same figures as ``GET /api/v1/deployments/{name}/monitoring`` (less the error
counts, which only a running server knows), computed here from the prediction log.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lanza.cli.context import state
from lanza.cli.output import console, print_json, print_table

COLOURS = {"healthy": "green", "watch": "yellow", "degraded": "red"}
EFFECT_UNITS = {"wasserstein_sd": "SD", "total_variation": "moved"}


def monitor_command(
    ctx: typer.Context,
    deployment: Annotated[str, typer.Argument(help="Deployment name.")],
    window: Annotated[
        int | None, typer.Option(help="Latest predictions to judge (default: the setting).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Traffic, latency, drift per feature, live quality and alerts of a deployment.

    Example: lanza monitor fraud --window 500
    """
    from lanza.errors import NotFoundError
    from lanza.monitoring.service import Monitor
    from lanza.serving.store import DeploymentStore

    workspace = state(ctx).workspace()
    monitor = Monitor(workspace)
    try:
        DeploymentStore(workspace.database).get(deployment)
    except NotFoundError:
        if deployment not in monitor.watched():
            raise
    report = monitor.report(deployment, window)
    if as_json:
        print_json(report)
        return
    show(report)


def show(report: dict[str, Any]) -> None:
    """The report for people: the verdict and its reasons, figures, drift, quality, alerts."""
    traffic, latency, drift = report["traffic"], report["latency"], report["drift"]
    serving = ", ".join(f"{m} ({n})" for m, n in report["serving"].items()) or "-"
    health = report["health"]
    colour = COLOURS[health["status"]]
    console.print(f"[bold]{report['deployment']}[/]  [{colour}]{health['status']}[/]  {serving}")
    for reason in health["reasons"]:
        console.print(f"  [{COLOURS[reason['level']]}]{reason['level']}[/]: {reason['text']}")
    console.print(
        f"requests {traffic['requests']}  rows {traffic['rows']}  "
        f"p50 {_ms(latency['p50_ms'])}  p99 {_ms(latency['p99_ms'])}"
    )
    if drift["reason"]:
        console.print(f"drift: {drift['reason']}")
    else:
        verdict = "[red]drifts[/]" if drift["dataset_drift"] else "no dataset drift"
        console.print(f"drift: {drift['share']:.0%} of features drift, {verdict}")
        items = [*drift["features"], *([drift["prediction"]] if drift["prediction"] else [])]
        print_table(
            None,
            ["column", "test", "statistic", "p-value", "effect size", "threshold", "drifted"],
            [
                [
                    i["column"],
                    i["test"],
                    f"{i['statistic']:.4g}",
                    "-" if i["p_value"] is None else f"{i['p_value']:.3g}",
                    f"{i['effect_size']:.3f} {EFFECT_UNITS[i['effect']]}",
                    i["threshold"],
                    i["drifted"],
                ]
                for i in items
            ],
        )
    _quality(report)
    if report["alerts"]:
        print_table(
            "alerts",
            ["fired", "metric", "value", "threshold", "delivered"],
            [
                [
                    a["fired_at"],
                    a["metric"],
                    a["value"],
                    f"{a['comparison']} {a['threshold']}",
                    a["delivered"],
                ]
                for a in report["alerts"]
            ],
        )


def _quality(report: dict[str, Any]) -> None:
    quality = report["quality"]
    training = quality["training"]
    beside = f" (training {training['metric']} {training['cv_mean']:.4f})" if training else ""
    figures = ", ".join(f"{k} {v:.4f}" for k, v in quality["metrics"].items())
    console.print(f"live quality: {quality.get('labels_text', '')}{beside}")
    if figures:
        console.print(f"  {figures}")
    estimated = report.get("estimated") or {}
    if estimated.get("metrics"):
        shown = ", ".join(f"{k} {v:.4f}" for k, v in estimated["metrics"].items())
        console.print(f"estimated without labels over {estimated['rows']} rows: {shown}")
    elif estimated.get("reason"):
        console.print(f"estimated quality: {estimated['reason']}")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} ms"
