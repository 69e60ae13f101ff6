"""The dated price table shipped with lanza, which users can replace with their own."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from lanza.errors import InvalidInputError

CURRENCY = "USD"
"""The currency of every figure the advisor prints (``monthly_usd``); a table must use it."""


@dataclass(frozen=True)
class Machine:
    """A Compute Engine machine type with its hourly price."""

    name: str
    vcpus: int
    memory_gib: float
    hourly: float
    gpu: str | None


@dataclass(frozen=True)
class PriceTable:
    """Prices with their date and source, so every recommendation says how old they are."""

    date: str
    region: str
    source: str
    cloud_run_vcpu_second: float
    cloud_run_gib_second: float
    machines: list[Machine]
    vertex_markup: float
    cloud_run_requests_per_million: float = 0.0
    cloud_run_l4_gpu_second: float = 0.0
    currency: str = CURRENCY

    @classmethod
    def load(cls, path: Path | None = None) -> PriceTable:
        """The shipped table, or the user's file."""
        try:
            text = (
                path.read_text() if path else (files("lanza.advisor") / "prices.json").read_text()
            )
            data: dict[str, Any] = json.loads(text)
            currency = str(data.get("currency", CURRENCY))
            if currency != CURRENCY:
                raise ValueError(f"its prices are in {currency}; lanza's figures are in {CURRENCY}")
            machines = [
                Machine(name, m["vcpus"], m["memory_gib"], m["hourly"], m.get("gpu"))
                for name, m in data["machines"].items()
            ]
            return cls(
                data["date"],
                data["region"],
                data["source"],
                data["cloud_run"]["vcpu_second"],
                data["cloud_run"]["gib_second"],
                machines,
                float(data.get("vertex_prediction_markup", 1.0)),
                float(data["cloud_run"].get("requests_per_million", 0.0)),
                float(data["cloud_run"].get("l4_gpu_second", 0.0)),
                currency,
            )
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"The price table {path or 'shipped'} is not usable: {exc}."
            ) from exc
