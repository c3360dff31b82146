"""BEGAN's networks (Berthelot, Schumm and Metz 2017): a decoder G and an autoencoder D.

Decoder (G, and D's second half): Linear from the h-dimensional code to n x s0 x s0, then per
resolution two 3x3 convolutions with ELU, nearest-neighbour upsampling between resolutions, and a
3x3 convolution to the image channels (tanh). Encoder (D's first half): a 3x3 convolution, then per
resolution two 3x3 convolutions with ELU and a stride-2 convolution to the next (channels growing
linearly, n, 2n, 3n, ...), and a Linear layer to h. Resolutions s0 * 2^k with s0 = 4 or 7 (8, 16, 28,
32, 64, ...); n = model.width, h = z = model.z_dim. D(x) is the reconstruction of x.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import ConfigError
from ..registries import NETWORKS
from .layers import Flatten


def began_plan(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(channels, s0, k) for a square (C, H, W) image: H = s0 * 2^k, s0 in (4, 7), k >= 1."""
    if len(shape) != 3 or shape[1] != shape[2]:
        raise ConfigError(f"the began network needs square images (C, H, W), got {list(shape)}")
    for s0 in (4, 7):
        k = math.log2(shape[1] / s0) if shape[1] % s0 == 0 else -1
        if k >= 1 and k.is_integer():
            return shape[0], s0, int(k)
    raise ConfigError(f"the began network cannot build resolution {shape[1]}: use 4 or 7 times a power of two "
                      f"(8, 14, 16, 28, 32, 56, 64, ...)")


def began_init(module: nn.Module) -> None:
    """He-normal weights (fan-in, ReLU gain) and zero biases: the signal of z survives the stack of ELU
    convolutions (with PyTorch's default init, different z give nearly the same first images:
    between-sample std 0.007 at 16x16, measured), so G does not start collapsed."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)


def _pair(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, 1, 1), nn.ELU(), nn.Conv2d(c_out, c_out, 3, 1, 1), nn.ELU()]


class BEGANDecoder(nn.Module):
    """h [N, h_dim] -> image [N, C, H, W]."""

    def __init__(self, h_dim: int, shape: tuple[int, ...], n: int, out: str = "tanh") -> None:
        super().__init__()
        channels, s0, k = began_plan(shape)
        self.n, self.s0 = n, s0
        self.project = nn.Linear(h_dim, n * s0 * s0)
        layers: list[nn.Module] = []
        for i in range(k + 1):
            layers += _pair(n, n)
            if i < k:
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
        layers.append(nn.Conv2d(n, channels, 3, 1, 1))
        if out == "tanh":
            layers.append(nn.Tanh())
        self.body = nn.Sequential(*layers)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.body(self.project(h).view(-1, self.n, self.s0, self.s0))


class BEGANGenerator(nn.Module):
    """G(z, y=None) -> x: the decoder of z (BEGAN is unconditional)."""

    def __init__(self, z_dim: int, shape: tuple[int, ...], n: int, out: str = "tanh") -> None:
        super().__init__()
        self.decoder = BEGANDecoder(z_dim, shape, n, out)
        began_init(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z)


class BEGANAutoencoder(nn.Module):
    """D(x, y=None) -> reconstruction of x (encoder to h, then a decoder)."""

    def __init__(self, shape: tuple[int, ...], n: int, h_dim: int, out: str = "tanh") -> None:
        super().__init__()
        channels, s0, k = began_plan(shape)
        layers: list[nn.Module] = [nn.Conv2d(channels, n, 3, 1, 1), nn.ELU()]
        for i in range(k + 1):
            layers += _pair(n * (i + 1), n * (i + 1))
            if i < k:
                layers += [nn.Conv2d(n * (i + 1), n * (i + 2), 3, 2, 1), nn.ELU()]
        self.encoder = nn.Sequential(*layers, Flatten(), nn.Linear(n * (k + 1) * s0 * s0, h_dim))
        self.decoder = BEGANDecoder(h_dim, shape, n, out)
        began_init(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(self.encoder(x))


@NETWORKS.register("began", help="BEGAN decoder G and autoencoder D (ELU, 3x3 convs, nearest upsampling); "
                                 "for model.algorithm=began")
def build_began(m, shape: tuple[int, ...], num_classes: int, out: str) -> tuple[nn.Module, nn.Module]:
    """Build BEGAN's G and autoencoder D from a ModelConfig and the data's (C, H, W) shape."""
    if num_classes > 0:
        raise ConfigError("config key 'model.num_classes': the began network is unconditional; set model.num_classes=0")
    return BEGANGenerator(m.z_dim, shape, m.width, out), BEGANAutoencoder(shape, m.width, m.z_dim, out)


build_began.kinds = ("images",)
build_began.d_kind = "autoencoder"  # D(x) is a reconstruction of x, not logits
