"""scikit-learn models in the skops format, with the types lanza trusts declared here.

A skops file lists the types it needs; loading refuses any type that is not trusted.
lanza trusts the types of the models it trains (scikit-learn, NumPy, XGBoost) and
nothing else, whatever a model file itself claims.
"""

from __future__ import annotations

from typing import Any

import skops.io as sio

from lanza.errors import LanzaError

TRUSTED_PREFIXES = (
    "sklearn.",
    "numpy.",
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBClassifier",
    "xgboost.sklearn.XGBRegressor",
    "builtins.",
    "collections.OrderedDict",
    "scipy.sparse.",
)


class UntrustedModelError(LanzaError):
    """A model file needs a type lanza does not trust."""

    status_code = 422
    code = "untrusted_model"


def dump_model(model: Any) -> bytes:
    """Serialise a model with skops."""
    return bytes(sio.dumps(model))


def trusted_types(blob: bytes) -> list[str]:
    """The non-default types a skops blob needs, checked against lanza's trusted prefixes."""
    needed = [str(t) for t in sio.get_untrusted_types(data=blob)]
    refused = [t for t in needed if not t.startswith(TRUSTED_PREFIXES)]
    if refused:
        raise UntrustedModelError(
            f"The model needs type '{refused[0]}', which lanza does not trust to load."
        )
    return needed


def load_model(blob: bytes) -> Any:
    """Load a skops blob, trusting only lanza's declared types."""
    return sio.loads(blob, trusted=trusted_types(blob))
