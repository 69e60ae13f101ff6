"""The batch command's allocator settings, checked in fresh interpreters."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

PROBE = (
    "from lanza.cli.allocators import bound_for_batch, _cap_arenas\n"
    "bound_for_batch()\n"
    "import pyarrow as pa\n"
    "print(pa.default_memory_pool().backend_name, _cap_arenas())\n"
)


def _probe(env: dict[str, str]) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        check=False,
        env={**clean, **env},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_arrow_allocates_through_the_c_library_in_a_batch_process() -> None:
    pool, capped = _probe({})
    assert pool == "system"
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert capped == "True"


def test_a_pool_the_user_chose_is_kept() -> None:
    assert _probe({"ARROW_DEFAULT_MEMORY_POOL": "mimalloc"})[0] == "mimalloc"
