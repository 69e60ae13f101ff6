"""The faces of the data plane: each one decodes its protocol to one request type and
encodes the answer back, with its own error shape; the data plane does the rest.

A face is one module here with an ``install(app)`` that declares its routes, its error
shape (``face_errors``) and the routes it answers on the lean path (``lean``); the serving
component installs every such module it finds, so a new face is one new file. The gRPC
face listens on its own port and is a component of its own (``grpc/face.py``).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

from fastapi import FastAPI


def installers() -> list[Callable[[FastAPI], None]]:
    """The ``install`` of every HTTP face in this package, in name order."""
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.ispkg or info.name == "deps":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        install = getattr(module, "install", None)
        if callable(install):
            found.append(install)
    return found
