"""scikit-learn models in the skops format, with the types lanza trusts declared here.

A skops file lists the types it needs; loading refuses any type that is not trusted.
lanza trusts the types of the models it trains (scikit-learn, NumPy, XGBoost and its
own date and text transformers) and nothing else, whatever a model file itself claims.

On import, ``skops.io`` builds its default list of trusted types from scikit-learn's
``all_estimators()``, which imports every scikit-learn module, and PyTorch too when it is
installed (through scikit-learn's array API shims): 2.2 s and about 195 MB measured on
the first check of a model. lanza never uses that list, as it names the trusted types of
every load itself, so ``_skops`` imports skops with the list left empty. skops then
reports scikit-learn's estimators as not trusted by default, and lanza's own check
(``TRUSTED_PREFIXES``) decides, as it did before.

``VerifiedCache`` keeps each model that passed the check as a pickle signed with a key
that only this machine holds: a process that loads the same model again (a batch job, a
server restart) skips both the skops import and its decoding. A registry artifact
cannot forge an entry: entries live outside the downloaded artifacts, are named by the
SHA-256 of the skops bytes, and are signed (HMAC-SHA256) over that digest and the
library versions they were written with.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import pickle
import secrets
import sys
import threading
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from lanza.errors import UntrustedModelError

TRUSTED_PREFIXES = (
    "sklearn.",
    "numpy.",
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBClassifier",
    "xgboost.sklearn.XGBRegressor",
    "builtins.",
    "collections.OrderedDict",
    "scipy.sparse.",
    "lanza.training.features.DateParts",
    "lanza.training.features.TextVectors",
)


_IMPORTING = threading.Lock()


def _skops() -> Any:
    """``skops.io``, imported without its walk over every scikit-learn module (see above)."""
    with _IMPORTING:  # also keeps other threads from a half-imported module
        if "skops.io" not in sys.modules:
            import sklearn.utils

            walk = sklearn.utils.all_estimators
            sklearn.utils.all_estimators = _no_estimators
            try:
                import skops.io  # noqa: F401 - the import is the point: it runs patched
            finally:
                sklearn.utils.all_estimators = walk
        import skops.io as sio
    return sio


def _no_estimators(type_filter: Any = None) -> list[tuple[str, type]]:
    return []


def dump_model(model: Any) -> bytes:
    """Serialise a model with skops."""
    return bytes(_skops().dumps(model))


def trusted_types(blob: bytes) -> list[str]:
    """The non-default types a skops blob needs, checked against lanza's trusted prefixes."""
    needed = [str(t) for t in _skops().get_untrusted_types(data=blob)]
    refused = [t for t in needed if not t.startswith(TRUSTED_PREFIXES)]
    if refused:
        raise UntrustedModelError(
            f"The model needs type '{refused[0]}', which lanza does not trust to load."
        )
    return needed


def load_model(blob: bytes) -> Any:
    """Load a skops blob, trusting only lanza's declared types."""
    return _skops().loads(blob, trusted=trusted_types(blob))


LIBRARIES = ("scikit-learn", "numpy", "scipy", "xgboost")
SIGNATURE_BYTES = 32


class VerifiedCache:
    """Signed pickles of models that passed the skops check, in a folder of lanza's own."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def load(self, blob: bytes) -> Any:
        """The model in ``blob``: from a valid cache entry, else checked, loaded and cached."""
        found = self.peek(blob)
        if found is not None:
            return found
        model = load_model(blob)
        digest = hashlib.sha256(blob).hexdigest()
        self._store(self.folder / f"{digest}.pkl", digest, model)
        return model

    def peek(self, blob: bytes) -> Any | None:
        """The model in ``blob`` from a valid cache entry, or ``None`` (nothing is written)."""
        digest = hashlib.sha256(blob).hexdigest()
        return read_signed(self.folder / f"{digest}.pkl", self._sign, digest)

    def add(self, blob: bytes, model: Any) -> None:
        """Cache ``model`` as the content of ``blob`` (the trainer holds both, and trusts both)."""
        digest = hashlib.sha256(blob).hexdigest()
        self._store(self.folder / f"{digest}.pkl", digest, model)

    def _store(self, entry: Path, digest: str, model: Any) -> None:
        """Write an entry atomically; a cache that cannot be written only costs speed."""
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            body = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
            staging = entry.with_name(f".{entry.name}.{os.getpid()}")
            staging.write_bytes(self._sign(digest, body) + body)
            os.replace(staging, entry)
        except Exception:
            return

    def _sign(self, digest: str, body: bytes | memoryview) -> bytes:
        message = "|".join([digest, *library_versions()]).encode() + body
        return hmac.new(self._key(), message, hashlib.sha256).digest()

    def _key(self) -> bytes:
        return machine_key(self.folder)


def read_signed(
    entry: Path, sign: Callable[[str, bytes | memoryview], bytes], name: str
) -> Any | None:
    """The pickle in ``entry`` when its signature (``sign(name, body)``) holds, else ``None``;
    an entry that fails the check or does not unpickle is removed, so it is written anew."""
    try:
        data = entry.read_bytes()
    except OSError:
        return None
    body = memoryview(data)[SIGNATURE_BYTES:]  # a view: no copy of a large entry
    if body and hmac.compare_digest(data[:SIGNATURE_BYTES], sign(name, body)):
        try:
            return pickle.loads(body)  # signed with this machine's key: written by lanza
        except Exception:
            pass
    entry.unlink(missing_ok=True)
    return None


def machine_key(folder: Path) -> bytes:
    """This machine's signing key in ``folder``, created on first use, readable by its owner
    only."""
    path = folder / "key"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        folder.mkdir(parents=True, exist_ok=True)
    # Written aside and linked into place: a concurrent process sees no key or a whole one.
    staging = folder / f".key.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_bytes(32))
    try:
        os.link(staging, path)
    except FileExistsError:
        pass
    finally:
        staging.unlink()
    return path.read_bytes()


@functools.cache
def library_versions() -> tuple[str, ...]:
    """The versions that decide whether a pickle still loads as it was written."""
    found = []
    for name in LIBRARIES:
        try:
            found.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name}=-")
    return tuple(found)
