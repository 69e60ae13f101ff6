"""Options several commands share, and the one hand-off of settings to server workers.

``lanza serve --workers N`` runs N processes that each build their own app from
``Settings()``; flags reach them as ``LANZA_*`` variables, written here and nowhere else.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def platform_port(default: int | None) -> int | None:
    """The port the platform asks for: Vertex AI's ``AIP_HTTP_PORT``, Cloud Run's ``PORT``."""
    for name in ("AIP_HTTP_PORT", "PORT"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return default


def hand_off(settings: dict[str, object], server: dict[str, object]) -> None:
    """Pass flags to the server's worker processes as ``LANZA_*`` settings variables.

    ``settings`` are top-level settings (``LANZA_DEVICE``), ``server`` the server's
    (``LANZA_SERVER__PORT``); ``None`` leaves a setting as configured.
    """
    for key, value in settings.items():
        if value is not None:
            os.environ[f"LANZA_{key.upper()}"] = str(value)
    for key, value in server.items():
        if value is not None:
            os.environ[f"LANZA_SERVER__{key.upper()}"] = str(value)
