"""Cost from a price table: USD per million input and output tokens, per model.

lanza ships ``prices.json`` (with the date its prices were read); a user file named by
``LANZA_LLM__PRICES_PATH`` in the same shape adds models or overrides prices. Local
models cost nothing; an unknown remote model costs ``None`` (unknown, not free).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from lanza.errors import InvalidInputError
from lanza.llm.providers.base import Usage


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float


class PriceTable:
    """Looks up a model's price: exact name first, then the longest known prefix."""

    def __init__(self, prices: dict[str, Price], updated: str) -> None:
        self.prices = prices
        self.updated = updated

    @classmethod
    def load(cls, extra: Path | None = None) -> PriceTable:
        """The shipped table, extended by the user's file when one is given."""
        shipped = json.loads(resources.files(__package__).joinpath("prices.json").read_text())
        prices = _parse(shipped, "the shipped price table")
        updated = str(shipped.get("updated", "unknown"))
        if extra is not None:
            try:
                user = json.loads(Path(extra).read_text())
            except (OSError, ValueError) as exc:
                raise InvalidInputError(f"The price table {extra} cannot be read: {exc}.") from exc
            prices |= _parse(user, str(extra))
            updated = str(user.get("updated", updated))
        return cls(prices, updated)

    def price(self, model: str) -> Price | None:
        """The price of a model, or ``None`` when the table does not know it."""
        if model in self.prices:
            return self.prices[model]
        known = [name for name in self.prices if model.startswith(name)]
        return self.prices[max(known, key=len)] if known else None

    def cost(self, model: str, usage: Usage) -> float | None:
        """USD for one call's tokens."""
        price = self.price(model)
        if price is None:
            return None
        return (usage.prompt_tokens * price.input + usage.completion_tokens * price.output) / 1e6


def _parse(table: object, where: str) -> dict[str, Price]:
    models = table.get("models") if isinstance(table, dict) else None
    if not isinstance(models, dict):
        raise InvalidInputError(f"{where} has no 'models' object of input/output prices.")
    try:
        return {
            str(name): Price(float(p["input"]), float(p.get("output", 0.0)))
            for name, p in models.items()
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{where}: every model needs numeric 'input' and 'output' prices."
        ) from exc
