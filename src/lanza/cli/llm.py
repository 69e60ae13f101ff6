"""``lanza llm``: LLM deployments behind the OpenAI-compatible gateway.

The CLI writes the same table the server reads on each request, so a running server
serves a new or changed deployment from its next call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from lanza.cli.context import state
from lanza.cli.options import JsonFlag
from lanza.cli.output import console, print_json, print_table

if TYPE_CHECKING:
    from lanza.llm.gateway.spec import LLMDeploymentSpec
    from lanza.llm.gateway.store import LLMDeploymentStore

app = typer.Typer(
    help="Deploy LLMs (remote OpenAI-compatible APIs or local models) behind /v1.",
    no_args_is_help=True,
)
COLUMNS = ["name", "provider", "model", "device", "fallback", "retries", "rpm", "cache"]


def _store(ctx: typer.Context) -> LLMDeploymentStore:
    from lanza.llm.gateway.store import LLMDeploymentStore

    return LLMDeploymentStore(state(ctx).workspace().database)


def _row(spec: LLMDeploymentSpec) -> list[Any]:
    return [
        spec.name,
        spec.provider,
        spec.model,
        spec.device if spec.provider != "openai" else "-",
        spec.fallback,
        spec.retries,
        spec.rate_limit_rpm,
        "yes" if spec.cache else "no",
    ]


@app.command("deploy")
def deploy(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="What clients send as 'model'.")],
    model: Annotated[str, typer.Option(help="Upstream model id, or a local model folder.")],
    provider: Annotated[
        str, typer.Option(help="openai, local-transformers or local-embeddings.")
    ] = "openai",
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint.")] = None,
    api_key_env: Annotated[
        str | None, typer.Option(help="Environment variable that holds the API key.")
    ] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto (local models).")] = "auto",
    fallback: Annotated[str | None, typer.Option(help="Deployment tried on failure.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per upstream call.")] = 60.0,
    retries: Annotated[int, typer.Option(help="Extra tries on 429, 5xx, timeouts.")] = 2,
    rate_limit: Annotated[int | None, typer.Option(help="Requests per minute per API key.")] = None,
    cache: Annotated[bool, typer.Option("--cache", help="Cache identical requests.")] = False,
    prompt: Annotated[
        str | None,
        typer.Option(help="Default prompt; 'support@production=90,support@candidate=10' splits."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create or replace an LLM deployment.

    Example: lanza llm deploy gpt --provider openai --model gpt-4o-mini
    --base-url https://api.openai.com/v1 --api-key-env OPENAI_API_KEY --retries 3
    """
    from lanza.errors import NotFoundError
    from lanza.llm.gateway.store import parse_spec

    spec = parse_spec(
        {
            "name": name,
            "provider": provider,
            "model": model,
            "base_url": base_url,
            "api_key_env": api_key_env,
            "device": device,
            "fallback": fallback,
            "timeout_s": timeout,
            "retries": retries,
            "rate_limit_rpm": rate_limit,
            "cache": cache,
            "prompt": prompt,
        }
    )
    store = _store(ctx)
    try:
        # Guardrails are set apart (lanza llm guardrails); a redeploy keeps them.
        spec = spec.model_copy(update={"guardrails": store.get(name).guardrails})
        store.replace(spec)
        action = "updated"
    except NotFoundError:
        store.create(spec)
        action = "created"
    if as_json:
        print_json(spec.model_dump() | {"action": action})
        return
    console.print(f"LLM deployment [bold]{name}[/] {action}: {spec.provider} {spec.model}")
    console.print(f"Try: curl http://127.0.0.1:8000/v1/models  (model='{name}')")


@app.command("list")
def list_deployments(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Every LLM deployment.

    Example: lanza llm list --json
    """
    specs = _store(ctx).list()
    if as_json:
        print_json([s.model_dump() for s in specs])
        return
    if not specs:
        console.print("No LLM deployments yet. Create one: lanza llm deploy NAME --model M ...")
        return
    print_table(None, COLUMNS, [_row(s) for s in specs])


@app.command("show")
def show(ctx: typer.Context, name: str, as_json: JsonFlag = False) -> None:
    """One LLM deployment with all its settings.

    Example: lanza llm show gpt
    """
    spec = _store(ctx).get(name)
    if as_json:
        print_json(spec.model_dump())
        return
    print_table(name, ["setting", "value"], list(spec.model_dump().items()))


@app.command("delete")
def delete(ctx: typer.Context, name: str, as_json: JsonFlag = False) -> None:
    """Delete an LLM deployment.

    Example: lanza llm delete gpt
    """
    _store(ctx).delete(name)
    if as_json:
        print_json({"deleted": name})
        return
    console.print(f"LLM deployment [bold]{name}[/] deleted.")


def _policies() -> None:
    # Budgets and guardrails live in their own module; they hang under ``lanza llm``.
    from lanza.cli.llm_policy import budgets_app, guardrails_app

    app.add_typer(budgets_app, name="budgets")
    app.add_typer(guardrails_app, name="guardrails")


_policies()
