"""``lanza plan``, ``lanza apply [--check]`` and ``lanza export``: deployments as code.

A ``lanza.yaml`` describes models to train, deployments, alert rules, scheduled batch
jobs and retrain pipelines; these commands compare it with the running state, make
the two equal, or write the running state out as such a file.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lanza.cli.context import state
from lanza.cli.options import JsonFlag
from lanza.cli.output import console, print_json

if TYPE_CHECKING:
    from lanza.automation.plan import Change, Plan

FileOption = Annotated[
    Path, typer.Option("--file", "-f", help="The file describing the production setup.")
]
PruneFlag = Annotated[
    bool,
    typer.Option(
        "--prune", help="Also delete hand-made resources (not managed) that the file lacks."
    ),
]
DONE = {"create": "created", "update": "updated", "delete": "deleted", "adopt": "adopted"}


def plan_command(
    ctx: typer.Context,
    file: FileOption = Path("lanza.yaml"),
    prune: PruneFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Show what apply would create, update, adopt and delete, field by field.

    Example: lanza plan -f lanza.yaml
    """
    from lanza.automation.loader import load_file
    from lanza.automation.plan import make_plan

    spec = load_file(file)
    _show(make_plan(spec, state(ctx).workspace(), prune), as_json)


def apply_command(
    ctx: typer.Context,
    file: FileOption = Path("lanza.yaml"),
    check: Annotated[
        bool, typer.Option("--check", help="Change nothing; exit 1 if the state differs.")
    ] = False,
    prune: PruneFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Make the running state what the file says; a second apply changes nothing.

    Only resources an earlier apply created or adopted are deleted when the file lacks
    them; --prune deletes the others too.

    Example: lanza apply -f lanza.yaml   (in CI: lanza apply --check)
    """
    from lanza.automation.apply import Applier
    from lanza.automation.loader import load_file
    from lanza.automation.plan import make_plan

    spec = load_file(file)
    workspace = state(ctx).workspace()
    if check:
        plan = make_plan(spec, workspace, prune)
        _show(plan, as_json)
        if not plan.empty:
            sys.exit(1)
        return

    def report(change: Change) -> None:
        if not as_json:
            line = f"{DONE[change.action]} {change.kind} {change.name}"
            console.print(line, highlight=False, markup=False)

    done = Applier(workspace, file.resolve().parent).apply(spec, report, prune)
    if as_json:
        print_json(
            {
                "applied": [c.to_dict() for c in done.changes],
                "unmanaged": _unmanaged(done),
                **done.counts(),
            }
        )
        return
    n = done.counts()
    if done.empty:
        console.print("Nothing to do: the running state matches the file.")
    else:
        adopted = f", {n['adopt']} adopted" if n["adopt"] else ""
        console.print(
            f"Applied: {n['create']} created, {n['update']} updated, "
            f"{n['delete']} deleted{adopted}."
        )
    for note in done.notes():
        console.print(note, highlight=False, markup=False)


def export_command(
    ctx: typer.Context,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Write the running state as a lanza.yaml.

    Example: lanza export -o lanza.yaml
    """
    from lanza.automation.export import export_state, to_yaml

    text = to_yaml(export_state(state(ctx).workspace()))
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text)
    console.print(f"Wrote {output}.")


def _show(plan: Plan, as_json: bool) -> None:
    from lanza.automation.plan import render

    if as_json:
        print_json(
            {
                "changes": [c.to_dict() for c in plan.changes],
                "empty": plan.empty,
                "unmanaged": _unmanaged(plan),
                **plan.counts(),
            }
        )
        return
    for line in render(plan):
        console.print(line, highlight=False, markup=False)


def _unmanaged(plan: Plan) -> list[dict[str, str]]:
    return [{"kind": kind, "name": name} for kind, name in plan.unmanaged]
