"""Device placement: which models go on a GPU, and the errors when none is there."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from lanza.errors import DeviceUnavailableError
from lanza.runtime.devices import any_gpu, check_device, cuda_for, move_xgboost, place, xgboost_step

no_gpu = pytest.mark.skipif(any_gpu(), reason="checks behaviour on a machine without a GPU")


def test_cpu_is_always_cpu() -> None:
    for framework in ("torch", "xgboost", "other"):
        assert place("cpu", framework, "m/1") == "cpu"  # type: ignore[arg-type]


def test_models_that_gain_nothing_from_a_gpu_stay_on_cpu() -> None:
    assert place("auto", "other", "m/1") == "cpu"


def _torch_sees_cuda() -> bool:
    """The oracle: PyTorch's own answer, not lanza's."""
    torch = pytest.importorskip("torch")
    return bool(torch.cuda.is_available())


def test_auto_follows_what_the_framework_can_use() -> None:
    expected = "cuda" if _torch_sees_cuda() else "cpu"
    assert place("auto", "torch", "m/1") == expected


@no_gpu
def test_auto_stays_on_cpu_without_a_gpu() -> None:
    for framework in ("torch", "xgboost"):
        assert place("auto", framework, "m/1") == "cpu"  # type: ignore[arg-type]
        assert not cuda_for(framework)  # type: ignore[arg-type]


def test_unknown_device_is_refused() -> None:
    with pytest.raises(DeviceUnavailableError, match="Unknown device 'tpu'"):
        check_device("tpu")


@no_gpu
def test_cuda_without_a_gpu_names_the_fix() -> None:
    with pytest.raises(DeviceUnavailableError, match="no usable GPU; use --device cpu"):
        place("cuda", "torch", "m/1")
    with pytest.raises(DeviceUnavailableError):
        place("cuda", "other", "m/1")  # asked for a GPU: say there is none, never pretend


def test_xgboost_is_found_alone_or_at_the_end_of_a_pipeline() -> None:
    from xgboost import XGBClassifier

    x = np.random.default_rng(0).normal(size=(60, 2))
    y = (x[:, 0] > 0).astype(int)
    booster = XGBClassifier(n_estimators=3).fit(x, y)
    pipeline = Pipeline([("scale", StandardScaler()), ("model", XGBClassifier(n_estimators=3))])
    pipeline.fit(x, y)
    assert xgboost_step(booster) is booster
    assert xgboost_step(pipeline) is pipeline.named_steps["model"]
    assert xgboost_step(LogisticRegression().fit(x, y)) is None
    move_xgboost(booster, "cpu")
    assert booster.get_params()["device"] == "cpu"
    move_xgboost(booster.get_booster(), "cpu")  # a bare Booster takes the same parameter
    before = booster.predict_proba(x)
    move_xgboost(booster, "cpu")
    np.testing.assert_array_equal(booster.predict_proba(x), before)


@pytest.mark.gpu
@pytest.mark.skipif(not any_gpu(), reason="checks behaviour on a machine with a GPU")
def test_cuda_on_a_gpu_machine() -> None:
    """The counterpart of the two checks above: what cuda and auto give where a GPU is."""
    if _torch_sees_cuda():
        assert place("cuda", "torch", "m/1") == "cuda"
        assert place("auto", "torch", "m/1") == "cuda"
    assert place("cuda", "other", "m/1") == "cpu"  # a GPU is there; it would not help
    assert place("auto", "other", "m/1") == "cpu"
