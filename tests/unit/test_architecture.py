"""The floors of the house hold: no import circle and no import up a floor in ``src/``.

``tools/imports.py`` draws the graph; these tests run it on lanza and on small trees
built here, so the checker itself is shown to catch what it is for.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "imports.py"


@pytest.fixture(scope="module")
def checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lanza_import_checker", TOOL)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_lanza_has_no_circle_and_no_import_up_a_floor(checker: ModuleType) -> None:
    assert checker.faults() == []


def _tree(root: Path, files: dict[str, str]) -> Path:
    package = root / "lanza"
    for name, text in {"__init__.py": "", **files}.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return package


def test_a_circle_between_packages_is_found(checker: ModuleType, tmp_path: Path) -> None:
    package = _tree(
        tmp_path,
        {
            "serving/__init__.py": "",
            "serving/a.py": "from lanza.monitoring import b\n",
            "monitoring/__init__.py": "",
            "monitoring/b.py": "def f():\n    from lanza.serving.a import x\n",
        },
    )
    assert any(line.startswith("package circle") for line in checker.faults(package))


def test_an_import_up_a_floor_is_found_even_inside_a_function(
    checker: ModuleType, tmp_path: Path
) -> None:
    package = _tree(
        tmp_path,
        {
            "runtime/__init__.py": "",
            "runtime/loader.py": "def load():\n    from lanza.training import fit\n",
            "training/__init__.py": "",
            "training/fit.py": "",
        },
    )
    found = checker.faults(package)
    assert any("runtime (kit) imports lanza.training.fit from a higher floor" in f for f in found)


def test_annotations_only_imports_and_new_packages(checker: ModuleType, tmp_path: Path) -> None:
    package = _tree(
        tmp_path,
        {
            "runtime/__init__.py": "",
            "runtime/base.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from lanza.serving.live import Live\n"
            ),
            "serving/__init__.py": "",
            "serving/live.py": "from lanza.runtime import base\n",
            "gadgets/__init__.py": "",
        },
    )
    assert checker.faults(package) == [
        "package lanza.gadgets has no floor: add it to FLOORS in tools/imports.py"
    ]


def test_a_module_circle_inside_a_package_is_found(checker: ModuleType, tmp_path: Path) -> None:
    package = _tree(
        tmp_path,
        {
            "batch/__init__.py": "",
            "batch/engines.py": "from lanza.batch import ray\n",
            "batch/ray.py": "from lanza.batch.engines import Engine\n",
        },
    )
    assert checker.faults(package) == [
        "module circle: lanza.batch.engines -> lanza.batch.ray -> lanza.batch.engines"
    ]
