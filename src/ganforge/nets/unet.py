"""Image-to-image networks of Pix2Pix (Isola et al. 2017, arXiv 1611.07004): a U-Net G and a PatchGAN D.

U-Net G(x) -> y: an encoder of 4x4 stride-2 convolutions (LeakyReLU 0.2, batch norm after all but the
first; channels model.width x 1, 2, 4, 8, 8, ...) down to a bottleneck of two 3x3 convolutions, and a
decoder of 4x4 stride-2 transposed convolutions (ReLU, batch norm) whose every level takes the
encoder's output of the same resolution concatenated (the skip connections), ending in tanh. Dropout
(model.g_dropout; the paper's 0.5) in the bottleneck and the first three decoder levels is the
generator's only noise, as in the paper (there is no z). Depth (model.unet_depth): 0 = as many levels
as the image halves evenly while its side stays >= 2 (28 -> 14 -> 7: 2 levels; 256: 7), at most 8.

PatchGAN D(y, x) -> logits [N, 1, h, w]: the output y and the input x concatenated on channels, then
n 4x4 stride-2 convolutions (channels width x 1, 2, 4, 8, ...; batch norm after all but the first,
LeakyReLU 0.2), one 4x4 stride-1 convolution and a 4x4 stride-1 convolution to one channel. Each logit
judges one patch; the receptive field (model.patch) sets n: 16 (n=1), 34 (2), 70 (3, the paper's
default), 142 (4), 286 (5).
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from ..registries import NETWORKS

RECEPTIVE_FIELDS = {16: 1, 34: 2, 70: 3, 142: 4, 286: 5}  # model.patch -> stride-2 layers of the PatchGAN


def receptive_field(n: int) -> int:
    """The receptive field of a PatchGAN with n stride-2 layers (4x4 kernels throughout)."""
    r = 1
    for k, s in [(4, 1), (4, 1)] + [(4, 2)] * n:  # from the output back to the input
        r = r * s + (k - s)
    return r


def unet_depth(h: int, w: int, depth: int = 0) -> int:
    """Levels of the U-Net: depth, or 0 = the most halvings (at most 8) that keep both sides even and >= 2."""
    if depth:
        if h % 2 ** depth or w % 2 ** depth:
            raise ConfigError(f"config key 'model.unet_depth' = {depth}: images of {h}x{w} do not halve {depth} "
                              f"times evenly; use a smaller depth or 0 (auto)")
        return depth
    k = 0
    while k < 8 and h % 2 ** (k + 1) == 0 and w % 2 ** (k + 1) == 0 and min(h, w) // 2 ** (k + 1) >= 2:
        k += 1
    if k == 0:
        raise ConfigError(f"the unet network needs images whose sides halve at least once (even, >= 4), got {h}x{w}")
    return k


def _channels(width: int, i: int) -> int:
    return width * min(2 ** i, 8)


class UNetGenerator(nn.Module):
    """G(x, y=None) -> translated image (see the module docstring)."""

    def __init__(self, in_ch: int, out_ch: int, h: int, w: int, width: int = 64, depth: int = 0,
                 dropout: float = 0.5, out: str = "tanh") -> None:
        super().__init__()
        depth = unet_depth(h, w, depth)
        self.down = nn.ModuleList()
        for i in range(depth):
            c_in = in_ch if i == 0 else _channels(width, i - 1)
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2)]
            layers.append(nn.Conv2d(c_in, _channels(width, i), 4, 2, 1, bias=i == 0))
            if i > 0:
                layers.append(nn.BatchNorm2d(_channels(width, i)))
            self.down.append(nn.Sequential(*layers))
        c = _channels(width, depth - 1)
        drop = (lambda: [nn.Dropout(dropout)]) if dropout > 0 else (lambda: [])  # noqa: E731
        self.middle = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c),
                                    nn.ReLU(), nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), *drop())
        self.up = nn.ModuleList()
        for j, i in enumerate(reversed(range(depth))):  # j: decoder level from the bottleneck, i: encoder level
            c_in = 2 * _channels(width, i)
            if i == 0:
                layers = [nn.ReLU(), nn.ConvTranspose2d(c_in, out_ch, 4, 2, 1)]
                if out == "tanh":
                    layers.append(nn.Tanh())
            else:
                c_out = _channels(width, i - 1)
                layers = [nn.ReLU(), nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out)]
                if j < 3:
                    layers += drop()
            self.up.append(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is not None:
            raise ValueError("the unet generator is not conditional on labels: call G(x)")
        skips = []
        h = x
        for block in self.down:
            h = block(h)
            skips.append(h)
        h = self.middle(h)
        for block, skip in zip(self.up, reversed(skips)):
            h = block(torch.cat([h, skip], 1))
        return h


class PatchDiscriminator(nn.Module):
    """D(y, x) -> patch logits [N, 1, h', w'] for output (or target) y given the input x; with in_ch = 0 an
    unconditional PatchGAN (CycleGAN's) that judges y alone. norm: batch (Pix2Pix) | instance (CycleGAN)."""

    def __init__(self, in_ch: int, out_ch: int, h: int, w: int, width: int = 64, patch: int = 70,
                 norm: str = "batch") -> None:
        super().__init__()
        self.conditional = in_ch > 0
        make_norm = nn.BatchNorm2d if norm == "batch" else nn.InstanceNorm2d
        if patch not in RECEPTIVE_FIELDS:
            raise ConfigError(f"config key 'model.patch' = {patch}: the PatchGAN's receptive field must be one of "
                              f"{', '.join(map(str, RECEPTIVE_FIELDS))}")
        n = RECEPTIVE_FIELDS[patch]
        side = min(h, w)
        for _ in range(n):
            side //= 2
        if side - 2 < 1:
            fitting = [p for p, k in RECEPTIVE_FIELDS.items() if (min(h, w) >> k) - 2 >= 1]
            raise ConfigError(f"config key 'model.patch' = {patch}: {h}x{w} images are too small for it (the "
                              f"PatchGAN would have no output left); use {' or '.join(map(str, fitting)) or 'larger images'}")
        layers: list[nn.Module] = []
        c_in = in_ch + out_ch
        for i in range(n + 1):
            c_out = _channels(width, i)
            layers.append(nn.Conv2d(c_in, c_out, 4, 2 if i < n else 1, 1, bias=i == 0))
            if i > 0:
                layers.append(make_norm(c_out))
            layers.append(nn.LeakyReLU(0.2))
            c_in = c_out
        layers.append(nn.Conv2d(c_in, 1, 4, 1, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, y: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        if not self.conditional:  # judges y alone; an input passed along is not looked at
            return self.body(y)
        if x is None or not torch.is_tensor(x) or x.dim() != 4:
            raise ValueError("the PatchGAN discriminator judges an output given its input: call D(y, x) with x the "
                             "input image batch")
        return self.body(torch.cat([x, y], 1))


def init_weights(module: nn.Module) -> None:
    """The paper's initialisation (after DCGAN): convolutions N(0, 0.02), batch norm scales N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def translation_shapes(family: str, shape: tuple[int, ...], num_classes: int,
                       in_shape: tuple[int, ...] | None) -> tuple[int, ...]:
    """A translation family's checks: images (C, H, W), no labels; returns the input shape (default: shape)."""
    if num_classes > 0:
        raise ConfigError(f"config key 'model.num_classes': the {family} network translates images and takes no "
                          f"labels; set model.num_classes=0")
    if len(shape) != 3:
        raise ConfigError(f"the {family} network translates images (C, H, W), got samples of shape {list(shape)}")
    return tuple(in_shape or shape)


@NETWORKS.register("unet", help="Pix2Pix's U-Net G (skips, dropout as its noise) and PatchGAN D conditioned on the "
                                "input (model.patch: receptive field); for paired translation")
def build_unet(m, shape: tuple[int, ...], num_classes: int, out: str,
               in_shape: tuple[int, ...] | None = None) -> tuple[nn.Module, nn.Module]:
    """(U-Net G, PatchGAN D) translating images of in_shape (C, H, W; default: shape) into shape."""
    in_shape = translation_shapes("unet", shape, num_classes, in_shape)
    c, h, w = shape
    G = UNetGenerator(in_shape[0], c, h, w, m.width, m.unet_depth, m.g_dropout, out)
    D = PatchDiscriminator(in_shape[0], c, h, w, m.width, m.patch)
    init_weights(G), init_weights(D)
    return G, D


build_unet.kinds = ("paired",)
build_unet.d_kind = "patch"  # D(y, x): patch logits [N, 1, h, w] for an output y given its input x
build_unet.paired = True  # built with in_shape, the input images' (C, H, W)
