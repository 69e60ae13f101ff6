"""PyTorch models saved with MLflow's ``pytorch`` flavour, on the CPU or a GPU.

The network takes one float32 matrix whose columns are the signature's inputs in
order, and its outputs become the predictions: a single output per row is a number,
several are a list. Rows go through the network in slices of ``batch_rows`` (larger
on a GPU, where a big batch is what keeps it busy) under ``torch.inference_mode``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lanza.errors import DeviceUnavailableError, PredictionError
from lanza.runtime.base import ModelRuntime, Prediction
from lanza.runtime.schema import InputSchema
from lanza.runtime.tensors import model_input

CPU_BATCH_ROWS = 8_192
GPU_BATCH_ROWS = 65_536


class TorchRuntime(ModelRuntime):
    """An ``nn.Module`` in eval mode on ``device``."""

    def __init__(
        self,
        name: str,
        version: str,
        path: Path,
        schema: InputSchema | None,
        device: str = "cpu",
        exported: bool = False,
    ) -> None:
        import mlflow.pytorch

        self.name, self.version = name, version
        self.schema = schema or InputSchema(())
        self.device = device
        self.batch_rows = GPU_BATCH_ROWS if device == "cuda" else CPU_BATCH_ROWS
        if not exported:
            self.model: Any = mlflow.pytorch.load_model(str(path), map_location="cpu")
            self.model.to(device).eval()
            return
        # A torch.export archive keeps the device it was exported on.
        self.model = mlflow.pytorch.load_model(str(path))
        weights = next(iter(self.model.parameters()), None)
        if weights is not None and weights.device.type != device:
            try:
                self.model.to(device)
            except Exception as exc:
                raise DeviceUnavailableError(
                    f"{self.ref} was exported on {weights.device.type} and cannot move to "
                    f"{device}; export it on {device} or save it with the pickle format."
                ) from exc

    def predict_frame(self, frame: pd.DataFrame, probabilities: bool = False) -> Prediction:
        import torch

        try:
            tensors = self.schema.tensors
            if len(tensors) == 1 and tensors[0].label in frame.columns:
                # Logged with a NumPy input example: each row's array in the tensor's
                # column, as requests bring it; stacked in the shape it was logged with.
                matrix = np.asarray(model_input(frame, self.schema), dtype=np.float32)
            else:
                matrix = frame.to_numpy(dtype=np.float32)
            if not matrix.flags.writeable:  # torch wants memory it could write to
                matrix = matrix.copy()
        except (TypeError, ValueError) as exc:
            raise PredictionError(f"{self.ref} takes numbers only: {exc}") from exc
        outputs = []
        try:
            with torch.inference_mode():
                for start in range(0, len(matrix), self.batch_rows):
                    rows = torch.from_numpy(matrix[start : start + self.batch_rows])
                    out = self.model(rows.to(self.device, non_blocking=True))
                    outputs.append(_tensor(out).detach().to("cpu").numpy())
        except Exception as exc:
            raise PredictionError(f"{self.ref} failed to predict: {exc}") from exc
        values = np.concatenate(outputs) if outputs else np.empty((0,), np.float32)
        if values.ndim == 2 and values.shape[-1] == 1:
            values = values.reshape(-1)
        return Prediction(values.astype(np.float64))

    def unload(self) -> None:
        """Drop the network and give its GPU memory back."""
        self.model = None
        if self.device == "cuda":
            import torch

            torch.cuda.empty_cache()


def exported(path: Path, flavour: dict[str, Any]) -> bool:
    """Whether the model is a ``torch.export`` archive (no pickle) rather than ``torch.save``."""
    return (path / str(flavour.get("model_data", "data")) / "model.pt2").exists()


def _tensor(out: Any) -> Any:
    """The first tensor of what a network returned (a tensor, a tuple or a dict)."""
    if isinstance(out, tuple | list):
        return out[0]
    if isinstance(out, dict):
        return next(iter(out.values()))
    return out
