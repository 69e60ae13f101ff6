"""The model interface every flavour plugs into: load, predict, unload, ready."""

from lanza.runtime.base import ModelRuntime, Prediction
from lanza.runtime.loader import LoadedModel, ModelLoader
from lanza.runtime.schema import InputSchema

__all__ = ["InputSchema", "LoadedModel", "ModelLoader", "ModelRuntime", "Prediction"]
