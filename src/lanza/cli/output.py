"""Printing for the CLI: rich tables for people, JSON for machines, one-line errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

# Wide enough for the leaderboard when output goes to a file or a pipe.
console = Console(width=None if sys.stdout.isatty() else 120)
errors = Console(stderr=True)


def print_json(payload: Any) -> None:
    """Machine-readable output on stdout."""
    sys.stdout.write(json.dumps(payload, indent=2, default=_default) + "\n")


def print_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A table for people."""
    table = Table(title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD)
    for index, column in enumerate(columns):
        table.add_column(column, no_wrap=index < 2)
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    console.print(table)


def fail(message: str) -> None:
    """Print an error sentence on stderr."""
    errors.print("[bold red]error:[/] ", end="", soft_wrap=True)
    errors.print(message, markup=False, highlight=False, soft_wrap=True)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
