"""``lanza deploy`` and ``lanza deployments``: serving configurations in lanza's database.

The CLI writes the same store the server reads; a running server picks changes up
within ``LANZA_SERVER__POLL_INTERVAL_S`` seconds and swaps with no downtime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from lanza.cli.context import state
from lanza.cli.options import JsonFlag
from lanza.cli.output import console, print_json, print_table
from lanza.errors import InvalidInputError

if TYPE_CHECKING:
    from lanza.serving.spec import DeploymentSpec
    from lanza.serving.store import DeploymentStore, StoredDeployment
    from lanza.workspace import Workspace

app = typer.Typer(help="List, show, update and delete deployments.", no_args_is_help=True)
Traffic = Annotated[
    str | None, typer.Option(help="Weighted routes: 'm@champion=90,m@challenger=10'.")
]


def _store(ctx: typer.Context) -> DeploymentStore:
    from lanza.serving.store import DeploymentStore

    return DeploymentStore(state(ctx).workspace().database)


def parse_traffic(text: str) -> list[dict[str, Any]]:
    """``REF=WEIGHT,REF=WEIGHT`` into routes."""
    routes = []
    for part in text.split(","):
        ref, _, weight = part.strip().rpartition("=")
        try:
            routes.append({"model": ref, "weight": float(weight)})
        except ValueError:
            raise InvalidInputError(
                f"'{part}' is not REF=WEIGHT (e.g. fraud@challenger=10)."
            ) from None
    return routes


Imputes = Annotated[
    bool | None,
    typer.Option(
        "--impute-missing-columns/--refuse-missing-columns",
        help="Answer requests that leave out a column (flagged) instead of a 422.",
    ),
]


def _spec_fields(model: str | None, traffic: str | None, **options: Any) -> dict[str, Any]:
    fields = {k: v for k, v in options.items() if v is not None}
    if model is not None:
        fields["model"] = model
    if traffic is not None:
        fields["traffic"] = parse_traffic(traffic)
    return fields


def _validated(cls: Any, fields: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    try:
        return cls.model_validate(fields)
    except ValidationError as exc:
        from lanza.api.errors import describe

        raise InvalidInputError(describe(exc.errors())) from None


def _check_budget(workspace: Workspace, spec: DeploymentSpec) -> None:
    """Refuse, as the server does, a deployment whose models alone pass the memory budget."""
    from lanza.serving.residency import check_fits, deployment_bytes

    server = workspace.settings.server
    if server.model_memory_mb is None:
        return
    refs = [r.model for r in spec.routes] + ([spec.shadow] if spec.shadow else [])
    versions = [workspace.registry.resolve(ref) for ref in refs]
    share = int(server.model_memory_mb * 2**20 / server.workers)
    check_fits(spec.name, deployment_bytes(workspace.loader, versions), share, server.workers)


def deploy_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Deployment name.")],
    model: Annotated[str | None, typer.Option(help="NAME@ALIAS or NAME/VERSION.")] = None,
    traffic: Traffic = None,
    shadow: Annotated[str | None, typer.Option(help="Model that mirrors traffic.")] = None,
    sticky_header: Annotated[str | None, typer.Option(help="Header for sticky routing.")] = None,
    max_batch_size: Annotated[int | None, typer.Option(help="1 turns batching off.")] = None,
    max_delay_ms: Annotated[float | None, typer.Option(help="Wait for a batch to fill.")] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda or auto.")] = None,
    residency: Annotated[
        str | None,
        typer.Option(help="always (loaded at start) or on_demand (loaded on first request)."),
    ] = None,
    extra_columns: Annotated[
        str | None, typer.Option(help="Columns the model does not take: refuse or ignore.")
    ] = None,
    impute_missing_columns: Imputes = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a deployment of a registered model.

    Example: lanza deploy fraud --model fraud@champion --max-batch-size 64
    """
    from lanza.serving.spec import DeploymentSpec

    fields = _spec_fields(
        model,
        traffic,
        name=name,
        shadow=shadow,
        sticky_header=sticky_header,
        max_batch_size=max_batch_size,
        max_delay_ms=max_delay_ms,
        device=device,
        residency=residency,
        extra_columns=extra_columns,
        impute_missing_columns=impute_missing_columns,
    )
    spec = _validated(DeploymentSpec, fields)
    workspace = state(ctx).workspace()
    workspace.registry.resolve(spec.routes[0].model)
    _check_budget(workspace, spec)
    stored = _store(ctx).create(spec)
    _show(stored, as_json, "Created")


@app.command("list")
def list_deployments(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Every deployment and the models it routes to.

    Example: lanza deployments list
    """
    items = _store(ctx).list()
    if as_json:
        print_json([_doc(s) for s in items])
        return
    if not items:
        console.print("No deployments. Create one: lanza deploy NAME --model NAME@champion")
        return
    print_table(
        None,
        ["deployment", "routes", "shadow", "batch", "device", "updated"],
        [
            [
                s.spec.name,
                ", ".join(f"{r.model}×{r.weight:g}" for r in s.spec.routes),
                s.spec.shadow,
                f"{s.spec.max_batch_size}/{s.spec.max_delay_ms:g}ms",
                s.spec.device,
                s.updated_at,
            ]
            for s in items
        ],
    )


@app.command("show")
def show(ctx: typer.Context, name: str, as_json: JsonFlag = False) -> None:
    """One deployment's configuration.

    Example: lanza deployments show fraud --json
    """
    _show(_store(ctx).get(name), as_json, None)


@app.command("update")
def update(
    ctx: typer.Context,
    name: str,
    model: Annotated[str | None, typer.Option(help="New model reference.")] = None,
    traffic: Traffic = None,
    shadow: Annotated[str | None, typer.Option(help="Model that mirrors traffic.")] = None,
    max_batch_size: Annotated[int | None, typer.Option(help="1 turns batching off.")] = None,
    max_delay_ms: Annotated[float | None, typer.Option(help="Wait for a batch to fill.")] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda or auto.")] = None,
    residency: Annotated[
        str | None,
        typer.Option(help="always (loaded at start) or on_demand (loaded on first request)."),
    ] = None,
    extra_columns: Annotated[
        str | None, typer.Option(help="Columns the model does not take: refuse or ignore.")
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            help="Swap even when the new version's input signature cannot take the "
            "requests the serving one takes (refused otherwise, see last_swap_error)."
        ),
    ] = False,
    impute_missing_columns: Imputes = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a deployment; a running server swaps to it with no failed request.

    A new version whose input signature would refuse today's requests is not swapped in
    (the old one keeps serving and the deployment shows last_swap_error) unless --force.

    Example: lanza deployments update fraud --traffic fraud@champion=90,fraud@challenger=10
    """
    from lanza.serving.spec import DeploymentUpdate

    store = _store(ctx)
    fields = _spec_fields(
        model,
        traffic,
        shadow=shadow,
        max_batch_size=max_batch_size,
        max_delay_ms=max_delay_ms,
        device=device,
        residency=residency,
        extra_columns=extra_columns,
        force=force or None,
        impute_missing_columns=impute_missing_columns,
    )
    change = _validated(DeploymentUpdate, fields)
    spec = change.apply(store.get(name).spec)
    _check_budget(state(ctx).workspace(), spec)
    _show(store.update(spec), as_json, "Updated")


@app.command("delete")
def delete(ctx: typer.Context, name: str) -> None:
    """Delete a deployment; running servers unload it.

    Example: lanza deployments delete fraud
    """
    _store(ctx).delete(name)
    console.print(f"Deleted deployment '{name}'.")


def _doc(stored: StoredDeployment) -> dict[str, Any]:
    return {
        **stored.spec.model_dump(),
        "generation": stored.generation,
        "created_at": stored.created_at,
        "updated_at": stored.updated_at,
    }


def _show(stored: StoredDeployment, as_json: bool, verb: str | None) -> None:
    if as_json:
        print_json(_doc(stored))
        return
    if verb:
        console.print(
            f"{verb} deployment '{stored.spec.name}'. A running server picks it up "
            "within seconds; start one with: lanza serve"
        )
    print_table(None, ["field", "value"], [[k, v] for k, v in _doc(stored).items()])
