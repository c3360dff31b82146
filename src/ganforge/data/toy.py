"""Toy distributions: the tutorials' 1-D Gaussian and the 2-D mode-coverage benchmarks.

ring8 and grid25 follow the protocol in BENCHMARKS.md section 1 (PacGAN / GDPP / VEEGAN):
ring8 has 8 distinct modes at (cos 2*pi*i/8, sin 2*pi*i/8), std 0.01; grid25 has modes at
{-4,-2,0,2,4}^2, std 0.05. gauss1d is N(4, 1.25^2), the target of the well-known
"GANs in 50 lines of code" tutorial (D. Nag, 2017).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError
from ..registries import DATASETS
from .source import Sampler, Source


class MixtureSource(Source):
    """An isotropic Gaussian mixture with equal weights, sampled fresh for every batch."""

    kind = "points"
    num_classes = 0

    def __init__(self, name: str, centers: Tensor, std: float) -> None:
        self.name, self.centers, self.std = name, centers.double(), float(std)
        self.shape = (centers.shape[1],)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n samples (float32) drawn with the given generator."""
        idx = torch.randint(len(self.centers), (n,), generator=generator)
        noise = torch.randn((n, self.centers.shape[1]), generator=generator, dtype=torch.float64)
        return (self.centers[idx] + self.std * noise).float()

    def sampler(self, batch_size: int, seed: int) -> Sampler:
        return MixtureSampler(self, batch_size, seed)

    def reference(self, n: int) -> np.ndarray:
        return self.sample(n, torch.Generator().manual_seed(12345)).numpy()


class MixtureSampler(Sampler):
    """Draws from its own seeded generator; the generator state is the sampler state."""

    def __init__(self, source: MixtureSource, batch_size: int, seed: int) -> None:
        self.source, self.batch_size = source, batch_size
        self.gen = torch.Generator().manual_seed(seed)

    def next(self) -> tuple[Tensor, None]:
        return self.source.sample(self.batch_size, self.gen), None

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.gen.set_state(state["rng"])


def ring_centers(k: int = 8, radius: float = 1.0) -> Tensor:
    """k distinct points on a circle: angles 2*pi*i/k, i = 0..k-1."""
    a = torch.arange(k, dtype=torch.float64) * (2 * math.pi / k)
    return torch.stack([radius * torch.cos(a), radius * torch.sin(a)], dim=1)


def grid_centers(side: int = 5, spacing: float = 2.0) -> Tensor:
    """side x side grid centred on the origin ({-4,-2,0,2,4}^2 for 5 and 2)."""
    c = (torch.arange(side, dtype=torch.float64) - (side - 1) / 2) * spacing
    return torch.cartesian_prod(c, c)


def _no_arg(name: str, arg: str) -> None:
    if arg:
        raise DataError(f"dataset '{name}' takes no argument, got '{name}:{arg}'")


@DATASETS.register("gauss1d", help="1-D Gaussian N(4, 1.25^2), the tutorials' first GAN")
def gauss1d(arg: str = "", cfg: object = None) -> MixtureSource:
    _no_arg("gauss1d", arg)
    return MixtureSource("gauss1d", torch.tensor([[4.0]]), 1.25)


@DATASETS.register("ring8", help="8 Gaussians on the unit circle, std 0.01 (mode-coverage benchmark)")
def ring8(arg: str = "", cfg: object = None) -> MixtureSource:
    _no_arg("ring8", arg)
    return MixtureSource("ring8", ring_centers(8, 1.0), 0.01)


@DATASETS.register("grid25", help="25 Gaussians on {-4,-2,0,2,4}^2, std 0.05 (mode-coverage benchmark)")
def grid25(arg: str = "", cfg: object = None) -> MixtureSource:
    _no_arg("grid25", arg)
    return MixtureSource("grid25", grid_centers(5, 2.0), 0.05)
