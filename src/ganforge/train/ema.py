"""Exponential moving average of the generator's weights."""
from __future__ import annotations

import torch
from torch import nn


def ema_decay(target: float, step: int) -> float:
    """Warm-up schedule min(target, (1 + step) / (10 + step)), so early averages are not stuck at init."""
    return min(target, (1.0 + step) / (10.0 + step))


@torch.no_grad()
def update_ema(G_ema: nn.Module, G: nn.Module, decay: float) -> None:
    """G_ema <- decay * G_ema + (1 - decay) * G for parameters; buffers (BN statistics) are copied."""
    params = list(G_ema.parameters())
    if params:
        torch._foreach_lerp_(params, list(G.parameters()), 1.0 - decay)
    for b_ema, b in zip(G_ema.buffers(), G.buffers()):
        b_ema.copy_(b)
