"""Data-parallel training through torchrun: one process per device, gloo on CPU, NCCL on GPU.

    torchrun --nproc_per_node=2 -m ganforge train mnist-dcgan
    torchrun --nnodes=2 --node_rank=R --nproc_per_node=8 --rdzv_backend=c10d --rdzv_endpoint=HOST:29500 \
        -m ganforge train mnist-dcgan

How it stays exact: every rank draws the same *global* batch (data, noise, labels) from identical
random streams and keeps its own shard of it, so the union over ranks is exactly the batch a single
process with data.batch_size would use, and the random streams stay in lockstep (the checkpoint
written by rank 0 holds the state of every rank). DDP averages the gradients, so a 2-process run
matches a 1-process run up to floating-point summation order (tested, for networks without batch
norm, whose statistics are per shard unless train.sync_batchnorm). Only rank 0 writes files.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as td
from torch import nn

from ..errors import ConfigError


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shard(self, global_batch: int) -> slice:
        """This rank's part of a global batch (the whole batch without torchrun)."""
        if not self.enabled:
            return slice(None)
        per = global_batch // self.world
        return slice(self.rank * per, (self.rank + 1) * per)


def from_env() -> Dist:
    """The torchrun environment (RANK, WORLD_SIZE, LOCAL_RANK), or a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    return Dist(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def setup(d: Dist, device: torch.device) -> torch.device:
    """Join the process group (gloo on CPU, NCCL on CUDA); each rank takes cuda:LOCAL_RANK on GPUs."""
    if not d.enabled:
        return device
    if device.type == "cuda":
        if d.local_rank >= torch.cuda.device_count():
            raise ConfigError(f"LOCAL_RANK {d.local_rank} but this machine has {torch.cuda.device_count()} CUDA "
                              f"device(s): lower --nproc_per_node")
        device = torch.device("cuda", d.local_rank)
        torch.cuda.set_device(device)
    global _CONTROL
    if not td.is_initialized():
        td.init_process_group("nccl" if device.type == "cuda" else "gloo")
    _CONTROL = td.new_group(backend="gloo")  # small CPU messages (stop flags) without touching the GPU stream
    return device


_CONTROL: Any = None


def check_batch(d: Dist, batch_size: int) -> None:
    if d.enabled and batch_size % d.world:
        raise ConfigError(f"data.batch_size={batch_size} is the global batch and must divide evenly over "
                          f"{d.world} processes; use a multiple of {d.world}")


def wrap(net: nn.Module, d: Dist, device: torch.device) -> nn.Module:
    """DDP around a network (the module itself without torchrun). No find_unused_parameters: each
    network is only called through its wrapper in the phase that updates it."""
    if not d.enabled:
        return net
    from torch.nn.parallel import DistributedDataParallel as DDP
    return DDP(net, device_ids=[device.index] if device.type == "cuda" else None)


def any_true(flag: bool, d: Dist) -> bool:
    """True on every rank when it is true on any rank (e.g. a stop signal seen by one process)."""
    if not d.enabled:
        return flag
    t = torch.tensor([1 if flag else 0])  # on the CPU, through the gloo control group: no GPU sync
    td.all_reduce(t, op=td.ReduceOp.MAX, group=_CONTROL)
    return bool(t.item())


def min_across(t: torch.Tensor, d: Dist) -> torch.Tensor:
    """Elementwise minimum of t over the ranks (t itself without torchrun)."""
    if d.enabled:
        td.all_reduce(t, op=td.ReduceOp.MIN)
    return t


def mean_across(t: torch.Tensor, d: Dist) -> torch.Tensor:
    """The mean of t over the ranks (t itself without torchrun), on t's device: no host sync."""
    if d.enabled:
        t = t.clone()
        td.all_reduce(t, op=td.ReduceOp.SUM)
        t /= d.world
    return t


def broadcast_module(net: nn.Module, d: Dist) -> None:
    """Copy rank 0's parameters and buffers of net into every rank's net."""
    if d.enabled:
        for t in list(net.parameters()) + list(net.buffers()):
            td.broadcast(t.data, 0)


def barrier(d: Dist) -> None:
    if d.enabled:
        td.barrier()


def shutdown(d: Dist) -> None:
    global _CONTROL
    if d.enabled and td.is_initialized():
        td.destroy_process_group()  # every group, the control group included
        _CONTROL = None
