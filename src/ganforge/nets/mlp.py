"""Fully connected G and D as in the GAN tutorials (Linear, LeakyReLU/ReLU, optional BN and dropout)."""
from __future__ import annotations

import math

import torch
from torch import nn

from ..registries import NETWORKS
from .layers import LabelEmbedding, activation


class MLPGenerator(nn.Module):
    """z (+ label embedding) -> hidden Linear layers -> Linear to prod(shape) -> tanh or linear."""

    def __init__(self, z_dim: int, shape: tuple[int, ...], hidden: list[int], act: str = "relu",
                 batchnorm: bool = False, out: str = "tanh", num_classes: int = 0, embed_dim: int = 16) -> None:
        super().__init__()
        self.z_dim, self.shape, self.num_classes = z_dim, tuple(shape), num_classes
        self.label = LabelEmbedding(num_classes, embed_dim)
        layers: list[nn.Module] = []
        width = z_dim + self.label.dim
        for h in hidden:
            layers.append(nn.Linear(width, h, bias=not batchnorm))
            if batchnorm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(activation(act))
            width = h
        layers.append(nn.Linear(width, math.prod(self.shape)))
        if out == "tanh":
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        e = self.label(y, z.shape[0])
        h = z if e is None else torch.cat([z, e], dim=1)
        return self.net(h).view(z.shape[0], *self.shape)


class MLPDiscriminator(nn.Module):
    """x flattened (+ label embedding) -> hidden Linear layers -> one logit per sample."""

    def __init__(self, shape: tuple[int, ...], hidden: list[int], act: str = "leaky_relu",
                 batchnorm: bool = False, dropout: float = 0.0, num_classes: int = 0, embed_dim: int = 16) -> None:
        super().__init__()
        self.shape, self.num_classes = tuple(shape), num_classes
        self.label = LabelEmbedding(num_classes, embed_dim)
        layers: list[nn.Module] = []
        width = math.prod(self.shape) + self.label.dim
        for i, h in enumerate(hidden):
            layers.append(nn.Linear(width, h, bias=not (batchnorm and i > 0)))
            if batchnorm and i > 0:  # no BN on the first layer, as in DCGAN
                layers.append(nn.BatchNorm1d(h))
            layers.append(activation(act))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = x.reshape(x.shape[0], -1)
        e = self.label(y, x.shape[0])
        if e is not None:
            h = torch.cat([h, e], dim=1)
        return self.net(h).view(-1)

    def features_and_logit(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The last hidden layer's features [N, feature_dim] and the logit [N] (a Q head shares the trunk)."""
        h = x.reshape(x.shape[0], -1)
        e = self.label(y, x.shape[0])
        if e is not None:
            h = torch.cat([h, e], dim=1)
        h = self.net[:-1](h)
        return h, self.net[-1](h).view(-1)

    @property
    def feature_dim(self) -> int:
        return self.net[-1].in_features


@NETWORKS.register("mlp", help="fully connected G and D (tutorial GAN); widths from model.g_hidden/d_hidden")
def build_mlp(m, shape: tuple[int, ...], num_classes: int, out: str) -> tuple[nn.Module, nn.Module]:
    """Build the MLP pair from a ModelConfig and the data's shape."""
    G = MLPGenerator(m.z_dim, shape, m.g_hidden, m.g_act, m.g_batchnorm, out, num_classes, m.embed_dim)
    D = MLPDiscriminator(shape, m.d_hidden, m.d_act, m.d_batchnorm, m.d_dropout, num_classes, m.embed_dim)
    return G, D


build_mlp.kinds = ("points", "images")  # data kinds the family can model
