"""Hardware detection without hard dependencies: /proc, nvidia-smi, and torch when present."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Gpu:
    """One GPU as the driver reports it."""

    index: int
    name: str
    memory_mib: int
    driver: str


@dataclass(frozen=True)
class Hardware:
    """The machine lanza runs on."""

    cores: int
    memory_mib: int
    gpus: list[Gpu] = field(default_factory=list)
    torch_cuda: bool = False

    @property
    def has_gpu(self) -> bool:
        """Whether a CUDA GPU is usable."""
        return bool(self.gpus) or self.torch_cuda


def detect() -> Hardware:
    """Cores this process may use, total memory, and GPUs."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return Hardware(cores, _memory_mib(), _nvidia_gpus(), _torch_cuda())


def resolve_device(requested: str, gpu_friendly: bool, hardware: Hardware | None = None) -> str:
    """``cpu`` or ``cuda`` for a requested device: ``auto`` picks a GPU only when it helps."""
    if requested in ("cpu", "cuda"):
        return requested
    hardware = hardware or detect()
    return "cuda" if gpu_friendly and hardware.has_gpu else "cpu"


def _memory_mib() -> int:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def _nvidia_gpus() -> list[Gpu]:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    query = "--query-gpu=index,name,memory.total,driver_version"
    try:
        out = subprocess.run(
            [smi, query, "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        index, name, memory, driver = (part.strip() for part in line.split(","))
        gpus.append(Gpu(int(index), name, int(float(memory)), driver))
    return gpus


def _torch_cuda() -> bool:
    import importlib.util
    import sys

    if "torch" not in sys.modules and importlib.util.find_spec("torch") is None:
        return False
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:
        return False
