"""MLflow's model registry behind a small interface, with the alias history MLflow lacks."""

from lanza.registry.history import AliasHistory
from lanza.registry.references import ModelReference, parse_reference
from lanza.registry.registry import ModelInfo, ModelVersionInfo, Registry

__all__ = [
    "AliasHistory",
    "ModelInfo",
    "ModelReference",
    "ModelVersionInfo",
    "Registry",
    "parse_reference",
]
