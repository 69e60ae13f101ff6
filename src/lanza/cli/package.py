"""``lanza package`` (a container build context) and ``lanza container-start`` (its entry)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from lanza.cli.context import state
from lanza.cli.options import hand_off, platform_port
from lanza.cli.output import console, print_json
from lanza.cloud.bundle import MANIFEST, BundleManifest

SOURCE_HELP = "'bundle' copies the model into the image; 'registry' pulls it at start."


def package_command(
    ctx: typer.Context,
    deployment: Annotated[str, typer.Argument(help="The deployment to package.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Folder [default: build/DEPLOYMENT].")
    ] = None,
    source: Annotated[str, typer.Option(help=SOURCE_HELP)] = "bundle",
    lanza_wheel: Annotated[
        Path | None, typer.Option(help="Install lanza from this wheel instead of PyPI.")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty output folder.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Write a container build context (Dockerfile, requirements, model) for a deployment.

    Example: lanza package fraud --output build/fraud
    """
    from lanza.cloud.context import PackageOptions, package
    from lanza.errors import InvalidInputError

    if source not in ("bundle", "registry"):
        raise InvalidInputError(f"Unknown --source '{source}'; use bundle or registry.")
    folder = output or Path("build") / deployment
    built = package(
        state(ctx).workspace(),
        PackageOptions(deployment, folder, source, lanza_wheel, overwrite),  # type: ignore[arg-type]
    )
    if json_output:
        print_json(built.__dict__)
        return
    console.print(
        f"Wrote the build context of '{built.deployment}' to {built.folder} "
        f"({built.base_image}, {', '.join(built.models)}, source {built.source}).",
        soft_wrap=True,
    )
    console.print(f"  docker build -t lanza-{built.deployment} {built.folder}", soft_wrap=True)
    console.print(f"  docker run --rm -p 8080:8080 lanza-{built.deployment}", soft_wrap=True)


def container_start_command(
    ctx: typer.Context,
    manifest: Annotated[
        Path, typer.Argument(help="The bundle manifest [default: ./lanza-deployment.json].")
    ] = Path(MANIFEST),
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "0.0.0.0",
    insecure: Annotated[
        bool, typer.Option(help="Allow a public interface with no API keys.")
    ] = False,
) -> None:
    """Start a packaged deployment: register its bundled models, deploy it and serve it.

    The container's entry command; it listens on $AIP_HTTP_PORT, else $PORT, else 8080.
    Example: lanza container-start --host 0.0.0.0 --insecure
    """
    from lanza.cli.serve import run_server
    from lanza.cloud.bootstrap import install

    cli = state(ctx)
    for key, value in cli.overrides.items():
        if value is not None:
            os.environ[f"LANZA_{key.upper()}"] = str(value)
    bundle = BundleManifest.load(manifest)
    folder = manifest.parent if manifest.suffix == ".json" else manifest
    workspace = cli.workspace()
    install(workspace, bundle, folder.resolve())
    name = bundle.deployment.name
    os.environ.setdefault("LANZA_SERVE_DEPLOYMENT", name)
    port = platform_port(8080)
    hand_off({}, {"host": host, "port": port, "insecure": "true" if insecure else None})
    workspace.close()
    run_server(workspace, f"lanza serving '{name}' on http://{host}:{port}")
