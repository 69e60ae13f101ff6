"""``lanza models``: the lifecycle of registered models, through aliases."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from lanza.cli.context import state
from lanza.cli.options import JsonFlag
from lanza.cli.output import console, print_json, print_table
from lanza.errors import InvalidInputError

if TYPE_CHECKING:
    from lanza.registry.history import AliasMove

app = typer.Typer(
    help="List, inspect, promote, roll back, archive and delete models.", no_args_is_help=True
)


@app.command("list")
def list_models(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Every registered model with its champion and challenger.

    Example: lanza models list --json
    """
    models = state(ctx).workspace().registry.list_models()
    if as_json:
        print_json([m.__dict__ for m in models])
        return
    if not models:
        console.print("No models yet. Train one: lanza train data.csv --target y")
        return
    print_table(
        None,
        ["model", "champion", "challenger", "latest", "updated"],
        [
            [
                m.name,
                m.aliases.get("champion"),
                m.aliases.get("challenger"),
                m.latest_version,
                m.updated_at,
            ]
            for m in models
        ],
    )


@app.command("show")
def show(ctx: typer.Context, name: str, as_json: JsonFlag = False) -> None:
    """A model's versions and the history of its aliases.

    Example: lanza models show cancer
    """
    registry = state(ctx).workspace().registry
    model = registry.get_model(name)
    versions = registry.list_versions(name)
    history = registry.alias_history(name)
    if as_json:
        print_json(
            {
                **model.__dict__,
                "versions": [{**v.__dict__, "archived": v.archived} for v in versions],
                "history": [m.__dict__ for m in history],
            }
        )
        return
    console.print(f"[bold]{model.name}[/] {model.description}")
    print_table(
        "Versions",
        ["version", "aliases", "candidate", "metric", "cv score", "created", "state"],
        [
            [
                v.version,
                ", ".join(v.aliases),
                v.tags.get("lanza.candidate"),
                v.tags.get("lanza.metric"),
                v.tags.get("lanza.cv_mean"),
                v.created_at,
                "archived" if v.archived else v.status.lower(),
            ]
            for v in versions
        ],
    )
    _print_history(history)


@app.command("promote")
def promote(
    ctx: typer.Context,
    name: str,
    version: str,
    alias: Annotated[str, typer.Option(help="Alias to move.")] = "champion",
    reason: Annotated[str | None, typer.Option(help="Why, for the history.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Point an alias (champion by default) at a version.

    Example: lanza models promote cancer 3 --alias champion --reason "better recall"
    """
    move = state(ctx).workspace().registry.promote(name, version, alias, reason)
    _report(move, as_json)


@app.command("rollback")
def rollback(
    ctx: typer.Context,
    name: str,
    alias: Annotated[str, typer.Option(help="Alias to move back.")] = "champion",
    as_json: JsonFlag = False,
) -> None:
    """Move an alias back to the version it held before.

    Example: lanza models rollback cancer
    """
    _report(state(ctx).workspace().registry.rollback(name, alias), as_json)


@app.command("archive")
def archive(
    ctx: typer.Context,
    name: str,
    version: str,
    force: Annotated[bool, typer.Option(help="Archive even the champion.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Take a version out of service: its aliases go, the version stays.

    Example: lanza models archive cancer 1
    """
    info = state(ctx).workspace().registry.archive(name, version, force)
    if as_json:
        print_json({**info.__dict__, "archived": info.archived})
    else:
        console.print(f"Archived {info.ref}.")


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: str,
    version: Annotated[str | None, typer.Argument(help="Only this version.")] = None,
    force: Annotated[bool, typer.Option(help="Delete even the champion.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a model version, or a whole model with every version.

    Example: lanza models delete cancer 2 --yes
    """
    what = f"{name}/{version}" if version else f"model '{name}' and all its versions"
    if not yes:
        if not sys.stdin.isatty():
            raise InvalidInputError(f"Deleting {what} needs confirmation; pass --yes.")
        typer.confirm(f"Delete {what}?", abort=True)
    state(ctx).workspace().registry.delete(name, version, force)
    console.print(f"Deleted {what}.")


def _report(move: AliasMove, as_json: bool) -> None:
    if as_json:
        print_json(move.__dict__)
        return
    before = f"from version {move.from_version} " if move.from_version else ""
    console.print(f"{move.model}@{move.alias} moved {before}to version {move.to_version}.")


def _print_history(history: list[AliasMove]) -> None:
    if not history:
        console.print("No alias moves recorded.")
        return
    print_table(
        "Alias history",
        ["when", "alias", "from", "to", "action", "who", "reason"],
        [
            [m.created_at, m.alias, m.from_version, m.to_version, m.action, m.actor, m.reason]
            for m in reversed(history)
        ],
    )
