"""``lanza keys``: API keys with roles (admin, predict, read)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from lanza.cli.context import state
from lanza.cli.output import console, print_json, print_table

if TYPE_CHECKING:
    from lanza.security.keys import KeyStore

app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)


def _keys(ctx: typer.Context) -> KeyStore:
    from lanza.security.keys import KeyStore

    return KeyStore(state(ctx).workspace().database)


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Who or what uses the key.")],
    role: Annotated[str, typer.Option(help="admin, predict or read.")] = "predict",
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Create a key; it is shown once and stored only as a hash.

    Example: lanza keys create ci-bot --role admin
    """
    info, secret = _keys(ctx).create(name, role)
    if as_json:
        print_json({**info.__dict__, "key": secret})
        return
    console.print(f"Key '{info.name}' ({info.role}, id {info.id}) — shown once, keep it safe:")
    console.print(secret, highlight=False, soft_wrap=True)


@app.command("list")
def list_keys(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Every key (never the secrets).

    Example: lanza keys list
    """
    keys = _keys(ctx).list()
    if as_json:
        print_json([k.__dict__ for k in keys])
        return
    print_table(
        None,
        ["id", "name", "role", "created", "revoked"],
        [[k.id, k.name, k.role, k.created_at, k.revoked_at] for k in keys],
    )


@app.command("revoke")
def revoke(ctx: typer.Context, key_id: str) -> None:
    """Revoke a key by id; servers refuse it within seconds.

    Example: lanza keys revoke 3f2a9c1b7d4e
    """
    info = _keys(ctx).revoke(key_id)
    console.print(f"Revoked key '{info.name}' ({info.id}).")
