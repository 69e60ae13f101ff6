"""skops with lanza's trusted types, and the signed cache of models that passed the check."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from lanza.runtime import serialization
from lanza.runtime.serialization import VerifiedCache, dump_model


@pytest.fixture
def blob() -> bytes:
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    return dump_model(LogisticRegression().fit(x, [0, 0, 1, 1]))


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.pkl"))


def test_a_checked_model_is_cached_and_the_entry_is_used_next_time(
    tmp_path: Path, blob: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = VerifiedCache(tmp_path / "verified")
    first = cache.load(blob)
    assert len(entries(tmp_path / "verified")) == 1
    assert (tmp_path / "verified" / "key").stat().st_mode & 0o777 == 0o600

    def refuse(_: bytes) -> None:
        raise AssertionError("the skops path ran although a valid entry exists")

    monkeypatch.setattr(serialization, "load_model", refuse)
    again = VerifiedCache(tmp_path / "verified").load(blob)
    assert again.predict([[2.5]]) == first.predict([[2.5]])


def test_a_forged_entry_is_ignored_and_replaced(tmp_path: Path, blob: bytes) -> None:
    folder = tmp_path / "verified"
    cache = VerifiedCache(folder)
    cache.load(blob)
    (entry,) = entries(folder)
    # Someone without the key writes their own pickle under the model's digest.
    forged = pickle.dumps({"not": "a model"})
    entry.write_bytes(b"\0" * serialization.SIGNATURE_BYTES + forged)
    model = cache.load(blob)
    assert isinstance(model, LogisticRegression)
    assert forged not in entry.read_bytes()


def test_an_entry_signed_with_another_key_is_ignored(tmp_path: Path, blob: bytes) -> None:
    other = VerifiedCache(tmp_path / "other")
    other.load(blob)
    (foreign,) = entries(tmp_path / "other")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / foreign.name).write_bytes(foreign.read_bytes())
    cache = VerifiedCache(mine)
    assert isinstance(cache.load(blob), LogisticRegression)
    assert (mine / foreign.name).read_bytes() != foreign.read_bytes()


def test_an_untrusted_type_is_refused_before_anything_is_cached(tmp_path: Path) -> None:
    import skops.io as sio

    from lanza.errors import UntrustedModelError

    blob = bytes(sio.dumps({"x": Path("/tmp")}))
    with pytest.raises(UntrustedModelError, match="does not trust"):
        VerifiedCache(tmp_path / "verified").load(blob)
    assert entries(tmp_path / "verified") == []


def test_the_first_check_does_not_import_all_of_scikit_learn(tmp_path: Path, blob: bytes) -> None:
    """skops alone would import every scikit-learn module (and PyTorch) to list estimators."""
    path = tmp_path / "model.skops"
    path.write_bytes(blob)
    probe = (
        "import sys\n"
        "from lanza.runtime.serialization import load_model, trusted_types\n"
        f"blob = open({str(path)!r}, 'rb').read()\n"
        "model = load_model(blob)\n"
        "walked = 'sklearn.gaussian_process' in sys.modules\n"
        "print(type(model).__name__, walked, 'torch' in sys.modules)\n"
        "print(*trusted_types(blob))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    first, needed = done.stdout.splitlines()
    assert first == "LogisticRegression False False"
    assert "sklearn.linear_model._logistic.LogisticRegression" in needed.split()
