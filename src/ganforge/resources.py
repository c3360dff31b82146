"""Will it fit? Memory estimates from shapes, checked against what the machine has free, so that a
size that cannot fit is refused with the number and the limit before any compute, instead of
dying in the allocator mid-run."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .errors import ConfigError


def human(n: float) -> str:
    """Bytes as text: 1.5 GiB, 320 MiB, ..."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"


def _cgroup_free() -> int | None:
    """Free memory under a cgroup v2 limit (containers), or None when unlimited / unknown."""
    base = Path("/sys/fs/cgroup")
    try:
        limit = (base / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return int(limit) - int((base / "memory.current").read_text().strip())
    except (OSError, ValueError):
        return None


def free_bytes(device: torch.device | str = "cpu") -> int | None:
    """Memory free for new tensors on device (host: MemAvailable, within a cgroup limit; CUDA: the
    driver's free memory); None when it cannot be told."""
    device = torch.device(device)
    if device.type == "cuda":
        try:
            return int(torch.cuda.mem_get_info(device)[0])
        except (RuntimeError, AssertionError):
            return None
    if device.type != "cpu":
        return None
    free = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                free = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        pass
    if free is None:
        try:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    cg = _cgroup_free()
    return min(free, cg) if cg is not None else free


def require(need: int, what: str, device: torch.device | str, hint: str) -> None:
    """Refuse (ConfigError) when need bytes exceed the free memory of device."""
    free = free_bytes(device)
    if free is not None and need > free:
        raise ConfigError(f"{what} needs at least {human(need)} of memory, and {torch.device(device)} has "
                          f"{human(free)} free: {hint}")


class OutputCounter:
    """Counts the elements of every leaf module's output while it is active (a context manager over
    some networks): the activations one forward pass keeps for its backward pass."""

    def __init__(self, *nets: nn.Module) -> None:
        self.nets, self.elements, self._handles = nets, 0, []

    def _hook(self, module: nn.Module, inputs: Any, output: Any) -> None:
        for t in (output if isinstance(output, (tuple, list)) else (output,)):
            if isinstance(t, torch.Tensor):
                self.elements += t.numel()

    def __enter__(self) -> "OutputCounter":
        self._handles = [m.register_forward_hook(self._hook) for net in self.nets for m in net.modules()
                         if next(m.children(), None) is None]
        return self

    def __exit__(self, *exc: Any) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
