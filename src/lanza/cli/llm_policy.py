"""``lanza llm budgets`` and ``lanza llm guardrails``: spending limits and content checks.

Both write lanza's database; a running server reads budgets within a second and a
deployment's guardrails on its next spec refresh.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lanza.cli.context import state
from lanza.cli.options import JsonFlag
from lanza.cli.output import console, print_json, print_table

if TYPE_CHECKING:
    from lanza.llm.budgets.budgets import Budgets
    from lanza.llm.budgets.ledger import Ledger

budgets_app = typer.Typer(help="Spending limits per API key and deployment.", no_args_is_help=True)
guardrails_app = typer.Typer(help="Checks on what an LLM deployment reads and writes.")
guardrails_app.info.no_args_is_help = True


def _books(ctx: typer.Context) -> tuple[Budgets, Ledger]:
    from lanza.llm.budgets.budgets import Budgets
    from lanza.llm.budgets.ledger import Ledger

    database = state(ctx).workspace().database
    ledger = Ledger(database)
    return Budgets(database, ledger), ledger


@budgets_app.command("set")
def set_budget(
    ctx: typer.Context,
    usd: Annotated[float, typer.Option("--usd", help="Dollars allowed per period.")],
    key: Annotated[str | None, typer.Option(help="API key name (all callers if left out).")] = None,
    deployment: Annotated[
        str | None, typer.Option(help="LLM deployment (all if left out).")
    ] = None,
    per: Annotated[str, typer.Option(help="day, week or month (UTC calendar).")] = "month",
    action: Annotated[str, typer.Option(help="alert (log and webhook) or block (429).")] = "alert",
    webhook: Annotated[str | None, typer.Option(help="URL POSTed when spent.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create or replace the budget of a key, a deployment, or everyone.

    Example: lanza llm budgets set --key team-a --usd 50 --per month --action block
    """
    from lanza.llm.budgets.routes import parse_budget

    spec = parse_budget(
        {
            "key": key,
            "deployment": deployment,
            "usd": usd,
            "per": per,
            "action": action,
            "webhook": webhook,
        }
    )
    from lanza.llm.budgets.budgets import usd as dollars

    budgets, _ = _books(ctx)
    view = budgets.set(spec)
    if as_json:
        print_json(view)
        return
    console.print(
        f"Budget [bold]{view['name']}[/]: {dollars(view['usd'])} per {view['per']}, "
        f"{view['action']}; {dollars(view['spent_usd'])} spent this {view['per']}."
    )


@budgets_app.command("list")
def list_budgets(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Every budget with its spend this period.

    Example: lanza llm budgets list
    """
    budgets, _ = _books(ctx)
    views = budgets.list()
    if as_json:
        print_json(views)
        return
    if not views:
        console.print("No budgets yet. Set one: lanza llm budgets set --key K --usd 50")
        return
    columns = ["name", "usd", "per", "action", "spent_usd", "over", "resets_at"]
    print_table(None, columns, [[v[c] for c in columns] for v in views])


@budgets_app.command("delete")
def delete_budget(ctx: typer.Context, name: str, as_json: JsonFlag = False) -> None:
    """Remove a budget by its name (as ``list`` shows it).

    Example: lanza llm budgets delete "key team-a"
    """
    budgets, _ = _books(ctx)
    budgets.delete(name)
    if as_json:
        print_json({"deleted": name})
        return
    console.print(f"Budget [bold]{name}[/] deleted.")


@budgets_app.command("spend")
def spend(
    ctx: typer.Context,
    hours: Annotated[float, typer.Option(help="How far back.")] = 24.0,
    by: Annotated[str, typer.Option(help="key, deployment or prompt.")] = "key",
    as_json: JsonFlag = False,
) -> None:
    """Spend and tokens over the last hours, per key, deployment or prompt.

    Example: lanza llm budgets spend --hours 168 --by deployment
    """
    from lanza.errors import InvalidInputError

    if by not in ("key", "deployment", "prompt"):
        raise InvalidInputError(f"--by '{by}': use key, deployment or prompt.")
    _, ledger = _books(ctx)
    series = ledger.series(time.time() - hours * 3600.0, "hour", by)
    if as_json:
        print_json(series)
        return
    rows: dict[str, list[Any]] = {}
    for point in series["points"]:
        row = rows.setdefault(point[by], [point[by], 0, 0, 0.0])
        row[1] += point["calls"]
        row[2] += point["tokens"]
        row[3] += point["cost_usd"]
    print_table(f"Spend, last {hours:g} h", [by, "calls", "tokens", "usd"], list(rows.values()))


@guardrails_app.command("set")
def set_guardrails(
    ctx: typer.Context,
    deployment: Annotated[str, typer.Argument(help="The LLM deployment.")],
    pii: Annotated[str, typer.Option(help="Comma list of email, phone, card, iban.")] = "",
    pii_action: Annotated[str, typer.Option(help="redact, block or flag.")] = "redact",
    banned: Annotated[str, typer.Option(help="Comma list of banned words.")] = "",
    banned_action: Annotated[str, typer.Option(help="redact, block or flag.")] = "block",
    max_chars: Annotated[int | None, typer.Option(help="Longest text allowed per side.")] = None,
    length_action: Annotated[str, typer.Option(help="redact (cut), block or flag.")] = "block",
    json_schema: Annotated[
        Path | None, typer.Option(help="JSON schema file every answer must satisfy.")
    ] = None,
    schema_action: Annotated[str, typer.Option(help="block or flag.")] = "block",
    judge: Annotated[
        str | None, typer.Option(help="LLM deployment that grades each answer 1-5.")
    ] = None,
    judge_rule: Annotated[
        str, typer.Option(help="What the judge checks, in words.")
    ] = "The answer is safe, polite and about the question.",
    judge_below: Annotated[float, typer.Option(help="Grades under this fail.")] = 3.0,
    judge_action: Annotated[str, typer.Option(help="block or flag.")] = "flag",
    sides: Annotated[str, typer.Option(help="input, output or input,output.")] = "input,output",
    as_json: JsonFlag = False,
) -> None:
    """Replace a deployment's guardrails.

    Example: lanza llm guardrails set gpt --pii email,phone,card,iban --banned "acme,secret"
    --judge grader --judge-rule "No medical advice." --judge-action block
    """
    from lanza.errors import InvalidInputError
    from lanza.llm.gateway.store import LLMDeploymentStore, parse_spec

    schema = None
    if json_schema is not None:
        try:
            schema = json.loads(json_schema.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InvalidInputError(
                f"--json-schema {json_schema}: cannot read it ({exc})."
            ) from exc
    rails = {
        "pii": _items(pii),
        "pii_action": pii_action,
        "banned_words": _items(banned),
        "banned_action": banned_action,
        "max_chars": max_chars,
        "length_action": length_action,
        "json_schema": schema,
        "schema_action": schema_action,
        "judge": judge,
        "judge_rule": judge_rule,
        "judge_below": judge_below,
        "judge_action": judge_action,
        "sides": _items(sides),
    }
    store = LLMDeploymentStore(state(ctx).workspace().database)
    if judge is not None:
        store.get(judge)  # a judge that does not exist is an error now, not on every call
    spec = parse_spec(store.get(deployment).model_dump() | {"guardrails": rails})
    store.replace(spec)
    if as_json:
        print_json(spec.guardrails.model_dump())
        return
    console.print(f"Guardrails of [bold]{deployment}[/] set.")


@guardrails_app.command("show")
def show_guardrails(ctx: typer.Context, deployment: str, as_json: JsonFlag = False) -> None:
    """A deployment's guardrails.

    Example: lanza llm guardrails show gpt
    """
    from lanza.llm.gateway.store import LLMDeploymentStore

    rails = LLMDeploymentStore(state(ctx).workspace().database).get(deployment).guardrails
    if as_json:
        print_json(rails.model_dump())
        return
    print_table(deployment, ["check", "setting"], list(rails.model_dump().items()))


@guardrails_app.command("clear")
def clear_guardrails(ctx: typer.Context, deployment: str, as_json: JsonFlag = False) -> None:
    """Remove every guardrail of a deployment.

    Example: lanza llm guardrails clear gpt
    """
    from lanza.llm.gateway.store import LLMDeploymentStore, parse_spec

    store = LLMDeploymentStore(state(ctx).workspace().database)
    store.replace(parse_spec(store.get(deployment).model_dump() | {"guardrails": {}}))
    if as_json:
        print_json({"cleared": deployment})
        return
    console.print(f"Guardrails of [bold]{deployment}[/] cleared.")


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]
