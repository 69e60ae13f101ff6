"""``lanza predict``: a quick client for a running server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from lanza.cli.output import print_json
from lanza.errors import InvalidInputError, UnavailableError


def predict_command(
    deployment: Annotated[str, typer.Argument(help="Deployment name.")],
    input: Annotated[str, typer.Option("--input", "-i", help="A JSON/CSV file or inline JSON.")],
    url: Annotated[str, typer.Option(envvar="LANZA_URL", help="Server URL.")] = (
        "http://127.0.0.1:8000"
    ),
    key: Annotated[str | None, typer.Option(envvar="LANZA_API_KEY", help="API key.")] = None,
    probabilities: Annotated[bool, typer.Option(help="Add class probabilities.")] = False,
) -> None:
    """Send rows to a deployment and print the answer as JSON.

    Example: lanza predict fraud --input '[{"amount": 12.5, "country": "NO"}]'
    """
    import httpx

    body = _body(input)
    body["probabilities"] = probabilities
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        response = httpx.post(
            f"{url.rstrip('/')}/api/v1/deployments/{deployment}/predict",
            json=body,
            headers=headers,
            timeout=60,
        )
    except httpx.HTTPError as exc:
        raise UnavailableError(f"The server at {url} cannot be reached ({exc}).") from exc
    answer = response.json()
    if response.status_code >= 400:
        message = answer.get("error", {}).get("message", response.text)
        raise InvalidInputError(f"{response.status_code}: {message}")
    print_json(answer)


def _body(text: str) -> dict[str, Any]:
    path = Path(text)
    if len(text) < 4096 and path.exists():
        if path.suffix.lower() == ".csv":
            import pandas as pd

            frame = pd.read_csv(path)
            return {"dataframe_split": json.loads(frame.to_json(orient="split", index=False))}
        text = path.read_text()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"--input is neither a file nor valid JSON: {exc}.") from exc
    if isinstance(value, list):
        return {"instances": value}
    if isinstance(value, dict):
        return value
    raise InvalidInputError("--input must be a JSON array of rows or a request object.")
