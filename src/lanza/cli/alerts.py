"""``lanza alerts``: alert rules per deployment, in lanza's database.

A running server checks every rule each monitoring round and POSTs to its webhook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from lanza.cli.context import state
from lanza.cli.options import JsonFlag
from lanza.cli.output import console, print_json, print_table

if TYPE_CHECKING:
    from lanza.monitoring.alerts import AlertStore

app = typer.Typer(help="Add, list and delete alert rules of deployments.", no_args_is_help=True)


def _store(ctx: typer.Context) -> AlertStore:
    from lanza.monitoring.alerts import AlertStore

    return AlertStore(state(ctx).workspace().database)


@app.command("add")
def add(
    ctx: typer.Context,
    deployment: Annotated[str, typer.Argument(help="Deployment name.")],
    metric: Annotated[str, typer.Option(help="drift_share, drift.<feature>, accuracy, ...")],
    threshold: Annotated[float, typer.Option(help="Value compared with.")],
    comparison: Annotated[str, typer.Option(help="One of > >= < <= == !=.")] = ">",
    window: Annotated[int, typer.Option(help="Latest predictions judged.")] = 1000,
    cooldown: Annotated[float, typer.Option(help="Seconds between firings.")] = 300,
    webhook: Annotated[str | None, typer.Option(help="URL POSTed on firing.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a rule that fires when a monitoring metric crosses a threshold.

    Example: lanza alerts add fraud --metric drift_share --comparison '>=' --threshold 0.5
    """
    from pydantic import ValidationError

    from lanza.errors import InvalidInputError
    from lanza.monitoring.alerts import AlertRule

    try:
        rule = AlertRule(
            metric=metric,
            comparison=comparison,
            threshold=threshold,
            window=window,
            cooldown_s=cooldown,
            webhook_url=webhook,
        )
    except ValidationError as exc:
        from lanza.api.errors import describe

        raise InvalidInputError(describe(exc.errors())) from None
    created = _store(ctx).create(deployment, rule)
    if as_json:
        print_json(created)
        return
    console.print(f"Added alert rule {created['id']} to '{deployment}'.")


@app.command("list")
def list_rules(
    ctx: typer.Context,
    deployment: Annotated[str, typer.Argument(help="Deployment name.")],
    as_json: JsonFlag = False,
) -> None:
    """A deployment's rules and its recent firings.

    Example: lanza alerts list fraud
    """
    store = _store(ctx)
    rules, history = store.describe(deployment), store.history(deployment)
    if as_json:
        print_json({"rules": rules, "history": history})
        return
    print_table(
        "rules",
        ["id", "metric", "condition", "window", "cool-down s", "webhook", "last fired"],
        [
            [
                r["id"],
                r["metric"],
                f"{r['comparison']} {r['threshold']}",
                r["window"],
                r["cooldown_s"],
                r["webhook_url"],
                r["last_fired_at"],
            ]
            for r in rules
        ],
    )
    print_table(
        "fired",
        ["fired", "metric", "value", "delivered"],
        [[h["fired_at"], h["metric"], h["value"], h["delivered"]] for h in history],
    )


@app.command("delete")
def delete(
    ctx: typer.Context,
    deployment: Annotated[str, typer.Argument(help="Deployment name.")],
    rule_id: Annotated[str, typer.Argument(help="Rule id (see lanza alerts list).")],
) -> None:
    """Delete one rule.

    Example: lanza alerts delete fraud 3f2a...
    """
    _store(ctx).delete(deployment, rule_id)
    console.print(f"Deleted alert rule {rule_id}.")
