"""MLflow's model registry behind a small interface, with the alias history MLflow lacks.

Names are imported on first use: ``lanza.registry.references`` (model references,
pure Python) must not pull MLflow into a command that only parses a reference.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lanza.registry.history import AliasHistory
    from lanza.registry.references import ModelReference, parse_reference
    from lanza.registry.registry import ModelInfo, Registry
    from lanza.registry.versions import ModelVersionInfo

__all__ = [
    "AliasHistory",
    "ModelInfo",
    "ModelReference",
    "ModelVersionInfo",
    "Registry",
    "parse_reference",
]

_HOMES = {
    "AliasHistory": "lanza.registry.history",
    "ModelReference": "lanza.registry.references",
    "parse_reference": "lanza.registry.references",
    "ModelInfo": "lanza.registry.registry",
    "ModelVersionInfo": "lanza.registry.versions",
    "Registry": "lanza.registry.registry",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'lanza.registry' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
