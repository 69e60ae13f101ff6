"""``lanza prompts``: versioned prompt templates with aliases, on MLflow's prompt registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lanza.cli.context import state
from lanza.cli.options import JsonFlag
from lanza.cli.output import console, print_json, print_table
from lanza.errors import InvalidInputError

if TYPE_CHECKING:
    from lanza.llm.prompts import PromptInfo, PromptStore

app = typer.Typer(
    help="Create, list, show and promote versioned prompt templates.", no_args_is_help=True
)


def _store(ctx: typer.Context) -> PromptStore:
    from lanza.llm.prompts import PromptStore

    return PromptStore(state(ctx).workspace().mlflow)


def _payload(info: PromptInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "version": info.version,
        "reference": info.reference,
        "aliases": info.aliases,
        "variables": info.variables,
        "template": info.template,
        "message": info.message,
        "created_at": info.created_at,
    }


def read_template(template: str | None, file: Path | None) -> str | list[dict[str, Any]]:
    """A template from the option or a file; a ``.json`` file holds chat messages."""
    if (template is None) == (file is None):
        raise InvalidInputError("Give the template with --template or --file (one of them).")
    if file is None:
        assert template is not None
        return template
    try:
        text = file.read_text()
    except OSError as exc:
        raise InvalidInputError(f"The template file {file} cannot be read: {exc}.") from exc
    if file.suffix != ".json":
        return text
    try:
        messages = json.loads(text)
    except ValueError as exc:
        raise InvalidInputError(f"The template file {file} is not valid JSON: {exc}.") from exc
    if not isinstance(messages, list) or not all(
        isinstance(m, dict) and "role" in m and "content" in m for m in messages
    ):
        raise InvalidInputError(f"{file} must hold a list of {{role, content}} messages.")
    return messages


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Prompt name.")],
    template: Annotated[str | None, typer.Option(help="Text with {{variables}}.")] = None,
    file: Annotated[
        Path | None, typer.Option(help="A text file, or a .json list of chat messages.")
    ] = None,
    message: Annotated[str | None, typer.Option(help="What changed, for the history.")] = None,
    alias: Annotated[str | None, typer.Option(help="Point this alias at the new version.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Register a new version of a prompt.

    Example: lanza prompts create support --template "Answer kindly: {{question}}" --alias staging
    """
    store = _store(ctx)
    info = store.create(name, read_template(template, file), message)
    if alias:
        info = store.promote(name, info.version, alias)
    if as_json:
        print_json(_payload(info))
        return
    aliases = f" (aliases: {', '.join(info.aliases)})" if info.aliases else ""
    console.print(f"Prompt [bold]{info.reference}[/] created{aliases}; variables: {info.variables}")


@app.command("list")
def list_prompts(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Every prompt with its newest version.

    Example: lanza prompts list
    """
    prompts = _store(ctx).list_all()
    if as_json:
        print_json([_payload(p) for p in prompts])
        return
    if not prompts:
        console.print('No prompts yet. Create one: lanza prompts create NAME --template "..."')
        return
    print_table(
        None,
        ["prompt", "latest", "aliases", "variables", "created"],
        [
            [p.name, p.version, ", ".join(p.aliases), ", ".join(p.variables), p.created_at]
            for p in prompts
        ],
    )


@app.command("show")
def show(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="NAME, NAME@ALIAS or NAME/VERSION.")],
    as_json: JsonFlag = False,
) -> None:
    """A prompt version's template, or every version of a prompt given by name.

    Example: lanza prompts show support@production
    """
    store = _store(ctx)
    if "@" in reference or "/" in reference:
        info = store.get(reference)
        if as_json:
            print_json(_payload(info))
            return
        console.print(f"[bold]{info.reference}[/] aliases: {', '.join(info.aliases) or '-'}")
        console.print(
            json.dumps(info.template, indent=2)
            if isinstance(info.template, list)
            else info.template,
            highlight=False,
            markup=False,
        )
        return
    versions = store.versions(reference)
    if as_json:
        print_json([_payload(v) for v in versions])
        return
    print_table(
        reference,
        ["version", "aliases", "message", "variables", "created"],
        [
            [v.version, ", ".join(v.aliases), v.message, ", ".join(v.variables), v.created_at]
            for v in versions
        ],
    )


@app.command("promote")
def promote(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Prompt name.")],
    version: Annotated[int, typer.Argument(help="Version to point the alias at.")],
    alias: Annotated[str, typer.Option(help="Alias to move.")] = "production",
    as_json: JsonFlag = False,
) -> None:
    """Point an alias (production by default) at a prompt version.

    Example: lanza prompts promote support 2 --alias production
    """
    info = _store(ctx).promote(name, version, alias)
    if as_json:
        print_json(_payload(info))
        return
    console.print(f"{name}@{alias} now points at version {info.version}.")
