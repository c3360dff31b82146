"""Small layer factories shared by the network families."""
from __future__ import annotations

import torch
from torch import nn


def activation(name: str) -> nn.Module:
    """Activation module by name (leaky_relu uses the tutorials' slope 0.2)."""
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(0.2)
    if name == "tanh":
        return nn.Tanh()
    if name == "elu":
        return nn.ELU()
    raise ValueError(f"unknown activation '{name}' (relu | leaky_relu | tanh | elu)")


class LabelEmbedding(nn.Module):
    """Embeds integer class labels; with num_classes=0 it is absent and returns None."""

    def __init__(self, num_classes: int, dim: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.dim = dim if num_classes > 0 else 0
        self.embed = nn.Embedding(num_classes, dim) if num_classes > 0 else None

    def forward(self, y: torch.Tensor | None, n: int) -> torch.Tensor | None:
        if self.embed is None:
            return None
        if y is None:
            raise ValueError(f"this network is conditional on {self.num_classes} classes: pass labels y")
        if y.shape != (n,):
            raise ValueError(f"labels y must have shape [{n}], got {list(y.shape)}")
        return self.embed(y.long())
