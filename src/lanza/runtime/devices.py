"""Where a loaded model runs: ``cpu`` or ``cuda``, decided once when it loads.

A deployment or a batch job asks for ``cpu``, ``cuda`` or ``auto``. Only frameworks
that gain from a GPU are placed on one: PyTorch networks and XGBoost boosters (alone
or as the last step of a scikit-learn pipeline). Everything else runs on the CPU,
whatever was asked, and reports ``cpu``. Asking for ``cuda`` on a machine where the
model's framework sees no GPU is an error when the model loads, never a silent fall-back.
"""

from __future__ import annotations

import functools
import importlib.util
from typing import Any, Literal

from lanza.errors import DeviceUnavailableError

Framework = Literal["torch", "xgboost", "other"]
DEVICES = ("cpu", "cuda", "auto")


def check_device(requested: str) -> None:
    """Refuse ``cuda`` up front when this machine has no usable GPU at all."""
    if requested not in DEVICES:
        raise DeviceUnavailableError(f"Unknown device '{requested}'; use cpu, cuda or auto.")
    if requested == "cuda" and not any_gpu():
        raise DeviceUnavailableError(
            "Device 'cuda' was asked for, but this machine has no usable GPU; "
            "use --device cpu or --device auto."
        )


def place(requested: str, framework: Framework, ref: str) -> str:
    """The device ``ref`` runs on: ``cuda`` only for GPU frameworks that can reach a GPU."""
    check_device(requested)
    if framework == "other" or requested == "cpu":
        return "cpu"
    usable = cuda_for(framework)
    if requested == "cuda" and not usable:
        raise DeviceUnavailableError(
            f"{ref} was asked to run on cuda, but {_package(framework)} here cannot use the GPU "
            f"({_hint(framework)})."
        )
    return "cuda" if usable else "cpu"


@functools.cache
def any_gpu() -> bool:
    """Whether a CUDA GPU is visible to this process (nvidia-smi or torch)."""
    from lanza.hardware.devices import detect

    return detect().has_gpu


@functools.cache
def cuda_for(framework: Framework) -> bool:
    """Whether ``framework`` itself can run on a GPU here (a CUDA build and a device)."""
    if framework == "torch":
        if importlib.util.find_spec("torch") is None:
            return False
        import torch

        return bool(torch.cuda.is_available())
    if framework == "xgboost":
        if importlib.util.find_spec("xgboost") is None or not any_gpu():
            return False
        import xgboost

        return bool(xgboost.build_info().get("USE_CUDA", False))
    return False


def xgboost_step(model: Any) -> Any | None:
    """The XGBoost estimator in ``model`` (itself, or a pipeline's last step), if there is one."""
    steps = getattr(model, "steps", None)
    last = steps[-1][1] if steps else model
    # lanza's XGBoost classifiers sit in a vote of one that encodes their labels.
    inner = getattr(last, "estimators_", None)
    if isinstance(inner, list) and len(inner) == 1:
        last = inner[0]
    return last if type(last).__module__.startswith("xgboost") else None


def move_xgboost(estimator: Any, device: str) -> None:
    """Run an XGBoost estimator or booster on ``device``."""
    if hasattr(estimator, "set_params") and hasattr(estimator, "get_booster"):
        estimator.set_params(device=device)
        estimator.get_booster().set_param({"device": device})
    else:
        estimator.set_param({"device": device})


def _package(framework: Framework) -> str:
    return {"torch": "PyTorch", "xgboost": "XGBoost"}.get(framework, framework)


def _hint(framework: Framework) -> str:
    if framework == "xgboost":
        return "install XGBoost with CUDA: pip install 'lanza[gpu]'"
    return "install a CUDA build of torch"
