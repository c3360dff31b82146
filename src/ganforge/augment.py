"""Differentiable augmentation of what the discriminator sees (DiffAugment, Zhao et al. 2020, arXiv 2006.10738).

train.augment names entries of the AUGMENTS registry (comma-separated, applied in that order). Each entry
builds a module mapping an image batch in [-1, 1], (N, C, H, W), to a batch of the same shape, each sample
with its own random parameters, differentiably (G's update learns through it). The gan algorithm applies
the chain to real and generated batches alike, in every D forward pass of training (D's update and G's), so
D never sees an unaugmented image and G cannot learn the augmentation itself (the paper's point). The
transforms are kornia's (the `augment` extra); their randomness comes from torch's global generator, which
checkpoints save, so a resumed run draws the same augmentations. Penalties (R1, GP) see the unaugmented
batches.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .config import augment_names
from .errors import ConfigError
from .registries import AUGMENTS


def kornia_augmentation():  # type: ignore[no-untyped-def]
    try:
        import kornia.augmentation as K
    except ImportError as e:
        raise ConfigError("config key 'train.augment': the augmentations are kornia's, which is not installed: "
                          "pip install 'ganforge[augment]' (or set train.augment='')") from e
    return K


class Unit(nn.Module):
    """Runs a kornia transform that works on [0, 1] images on a [-1, 1] batch."""

    def __init__(self, transform: nn.Module) -> None:
        super().__init__()
        self.transform = transform

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.transform((x + 1) * 0.5) * 2 - 1


def translation() -> nn.Module:
    # up to 1/8 of the side in each direction, nearest-pixel resampling, zeros (mid-grey in [-1, 1]) shifted in
    K = kornia_augmentation()
    return K.RandomAffine(degrees=0.0, translate=(0.125, 0.125), p=1.0, padding_mode="zeros", resample="nearest")


def cutout() -> nn.Module:
    # one square of half the side (a quarter of the area) set to 0, at a random place
    K = kornia_augmentation()
    return K.RandomErasing(scale=(0.25, 0.25), ratio=(1.0, 1.0), value=0.0, p=1.0)


class Colour(nn.Module):
    """Brightness +-0.25 and contrast x[0.5, 1.5] on [0, 1] values, saturation x[0, 2] for RGB (DiffAugment's
    ranges: brightness +-0.5 on [-1, 1])."""

    def __init__(self) -> None:
        super().__init__()
        K = kornia_augmentation()
        self.grey = Unit(K.ColorJiggle(brightness=0.25, contrast=(0.5, 1.5), p=1.0))
        self.rgb = Unit(K.ColorJiggle(brightness=0.25, contrast=(0.5, 1.5), saturation=(0.0, 2.0), p=1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.rgb if x.shape[1] == 3 else self.grey)(x)


AUGMENTS.register("translation", translation,
                  help="shift by up to 1/8 of the side (nearest pixel, zero fill; kornia RandomAffine)")
AUGMENTS.register("cutout", cutout,
                  help="zero one random square of half the side (kornia RandomErasing)")
AUGMENTS.register("colour", Colour,
                  help="brightness +-0.25, contrast x[0.5, 1.5], saturation x[0, 2] for RGB (kornia ColorJiggle)")


def build_augment(spec: str) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The chain of train.augment's entries, or None when empty."""
    names = augment_names(spec)
    if not names:
        return None
    chain = nn.Sequential(*[AUGMENTS.get(n)() for n in names])

    def augment(x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ConfigError(f"config key 'train.augment': augmentations take image batches (N, C, H, W), got "
                              f"shape {list(x.shape)}; set train.augment='' for points")
        out = chain(x.float())
        return out.to(x.dtype).contiguous(memory_format=torch.channels_last) \
            if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous() else out.to(x.dtype)
    return augment
