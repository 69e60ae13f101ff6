"""``lanza serve``: the HTTP server, with every face, on one port."""

from __future__ import annotations

from typing import Annotated

import typer

from lanza.cli.context import state
from lanza.cli.options import hand_off, platform_port
from lanza.cli.output import console
from lanza.errors import InvalidInputError


def serve_command(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Interface [default: 127.0.0.1].")] = None,
    port: Annotated[
        int | None, typer.Option(help="Port [default: $AIP_HTTP_PORT, $PORT or 8000].")
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Server processes.")] = None,
    grpc_port: Annotated[
        int,
        typer.Option(min=0, max=65535, help="Open Inference v2 over gRPC; 0 turns it off."),
    ] = 8081,
    insecure: Annotated[
        bool, typer.Option(help="Allow a public interface with no API keys.")
    ] = False,
) -> None:
    """Serve deployments over HTTP (native API, MLflow, Open Inference v2, Vertex AI) and
    Open Inference v2 over gRPC.

    Example: lanza serve --port 8000 --grpc-port 8081 --workers 2
    """
    cli = state(ctx)
    _export(cli.overrides, host, port, workers, insecure)
    hand_off({}, {"grpc_port": grpc_port})
    run_server(cli.workspace())


def _export(
    overrides: dict[str, object],
    host: str | None,
    port: int | None,
    workers: int | None,
    insecure: bool,
) -> None:
    """Flags become LANZA_* variables so every worker process sees the same settings."""
    hand_off(
        overrides,
        {
            "host": host,
            "port": port or platform_port(None),
            "workers": workers,
            "insecure": "true" if insecure else None,
        },
    )


def prepare_stores(workspace: object) -> None:
    """Create and migrate lanza's database and MLflow's store once, in this process.

    Workers start together: on a brand-new home each would otherwise create the same
    tables at the same moment, and one dies on the other's half-made schema (MLflow's
    ``duplicate column name``). Done here first, every worker finds them ready.
    """
    from lanza.workspace import Workspace

    assert isinstance(workspace, Workspace)
    workspace.database  # noqa: B018 - the property creates and migrates it
    try:
        workspace.registry.check()  # creates MLflow's tables in a new local store
    except Exception as exc:  # an unreachable MLflow server: the workers say so, as one would
        console.print(f"MLflow's store was not set up before the workers start: {exc}")


def run_server(workspace: object, banner: str | None = None) -> None:
    """Check the interface is safe, then run uvicorn until interrupted."""
    import uvicorn

    from lanza.api.app import is_public
    from lanza.security.keys import KeyStore
    from lanza.settings import Settings
    from lanza.workspace import Workspace

    assert isinstance(workspace, Workspace)
    settings = Settings()
    server = settings.server
    if is_public(settings) and not KeyStore(workspace.database).any_active():
        raise InvalidInputError(
            f"Refusing to listen on {server.host} with no API keys: create one with "
            "'lanza keys create NAME --role admin', or pass --insecure."
        )
    if server.workers > 1:
        prepare_stores(workspace)
    console.print(
        banner
        or f"lanza serving on http://{server.host}:{server.port} "
        + (f"and gRPC {server.host}:{server.grpc_port} " if server.grpc_port else "")
        + f"(docs at /docs, {server.workers} worker(s))",
        soft_wrap=True,
    )
    uvicorn.run(
        "lanza.server:create_app",
        factory=True,
        host=server.host,
        port=server.port,
        workers=server.workers,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=int(server.shutdown_grace_s),
    )
