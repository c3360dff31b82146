"""DCGAN (Radford et al. 2016): transposed-convolution G, strided-convolution D, init N(0, 0.02).

Resolutions: s0 * 2^k with s0 = 4 (powers of two, 16..256) or s0 = 7 (28, for MNIST-like data),
k >= 1 doublings. G maps z (+ label embedding) with a Linear layer to a c0 x s0 x s0 map, then
k blocks of ConvTranspose(4, stride 2) + BatchNorm + ReLU, the last to the image channels with
tanh (model.g_upsample=nearest: nearest-neighbour upsampling + Conv(3) instead of each ConvTranspose).
D mirrors it: k blocks of Conv(4, stride 2) + BatchNorm (not on the first) +
LeakyReLU(0.2) (+ optional dropout), then a Linear layer to one logit. BatchNorm follows
model.g_batchnorm / model.d_batchnorm (the image presets turn both on; WGAN-GP turns D's off,
since the per-sample gradient penalty is not defined under batch statistics).

Depth (model.g_extra_convs / d_extra_convs, default 0): that many 3x3 stride-1 conv layers with the
same norm and activation at each of G's inner resolutions (after the projection and after every
upsampling but the last) and after each of D's downsampling convs; the widths are unchanged.
Width: model.width sets both nets' base channel count; model.g_width (default 0: the same) sets G's alone.
model.d_mbstd (default 0: off) appends ProGAN's minibatch standard deviation channel to D's last feature maps.

Conditioning: G concatenates a label embedding to z. D either concatenates the embedding as
extra constant input channels ("concat", the classic cGAN) or adds the projection term
<embed(y), features> to its logit ("projection", Miyato & Koyama 2018). model.d_label_maps=implicit
computes the concat D's first conv without building the constant maps (label_channels_conv).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..registries import NETWORKS
from .layers import Flatten, LabelEmbedding, MinibatchStd

MIN_RES, MAX_RES = 16, 256


def plan(resolution: int) -> tuple[int, int]:
    """(s0, k): the smallest feature map and the number of doublings for a resolution."""
    for s0 in (4, 7):
        k = math.log2(resolution / s0) if resolution % s0 == 0 else -1
        if k >= 1 and k.is_integer() and (s0 == 7 or MIN_RES <= resolution <= MAX_RES):
            return s0, int(k)
    raise ConfigError(f"the dcgan network cannot build resolution {resolution}: use 28 (or 56, 112, 224) "
                      f"or a power of two from {MIN_RES} to {MAX_RES}")


def plan_shape(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(channels, s0, k) for a square (C, H, W) image shape."""
    channels, height, width = shape
    if height != width:
        raise ConfigError(f"dcgan needs square images, got {height}x{width}: set data.resolution for folder data")
    return (channels, *plan(height))


def dcgan_init(module: nn.Module) -> None:
    """Weights N(0, 0.02) for conv/linear layers; BatchNorm scale N(1, 0.02), bias 0 (DCGAN paper)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def extra_convs(c: int, n: int, batchnorm: bool, act) -> list[nn.Module]:
    """n x (3x3 stride-1 conv c -> c, BatchNorm when batchnorm, act()): model.g_extra_convs / d_extra_convs."""
    return [m for _ in range(n)
            for m in (nn.Conv2d(c, c, 3, 1, 1, bias=not batchnorm), *([nn.BatchNorm2d(c)] if batchnorm else []), act())]


def widths(width: int, k: int, cap: int = 512) -> list[int]:
    """Channel counts from the input resolution inwards: width, 2*width, ... (capped)."""
    return [min(width * 2 ** i, cap) for i in range(k)]


class DCGANGenerator(nn.Module):
    """z (+ label embedding) -> Linear -> c0 x s0 x s0 -> k upsampling blocks -> tanh image."""

    def __init__(self, z_dim: int, shape: tuple[int, ...], width: int = 64, num_classes: int = 0,
                 embed_dim: int = 16, out: str = "tanh", batchnorm: bool = True, extra: int = 0,
                 upsample: str = "transpose") -> None:
        super().__init__()
        channels, s0, k = plan_shape(shape)
        if upsample not in ("transpose", "nearest"):
            raise ConfigError(f"model.g_upsample must be 'transpose' or 'nearest', got '{upsample}'")
        self.z_dim, self.shape, self.num_classes, self.s0 = z_dim, tuple(shape), num_classes, s0
        ch = widths(width, k)[::-1]  # inner (widest) first
        self.label = LabelEmbedding(num_classes, embed_dim)
        norm = (lambda c: nn.BatchNorm2d(c)) if batchnorm else (lambda c: nn.Identity())
        self.project = nn.Sequential(nn.Linear(z_dim + self.label.dim, ch[0] * s0 * s0, bias=not batchnorm),
                                     nn.BatchNorm1d(ch[0] * s0 * s0) if batchnorm else nn.Identity(), nn.ReLU())
        blocks: list[nn.Module] = extra_convs(ch[0], extra, batchnorm, nn.ReLU)
        for i in range(k):
            last = i == k - 1
            c_out = channels if last else ch[i + 1]
            bias = last or not batchnorm
            blocks += ([nn.ConvTranspose2d(ch[i], c_out, 4, 2, 1, bias=bias)] if upsample == "transpose" else
                       [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(ch[i], c_out, 3, 1, 1, bias=bias)])
            blocks += [nn.Tanh()] if (last and out == "tanh") else ([] if last else [norm(c_out), nn.ReLU(),
                                                                             *extra_convs(c_out, extra, batchnorm, nn.ReLU)])
        self.blocks = nn.Sequential(*blocks)
        self.c0 = ch[0]
        dcgan_init(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        e = self.label(y, z.shape[0])
        h = self.project(z if e is None else torch.cat([z, e], 1))
        return self.blocks(h.view(-1, self.c0, self.s0, self.s0))


class DCGANDiscriminator(nn.Module):
    """Image (+ label channels) -> k strided conv blocks -> Linear -> one logit (+ projection term)."""

    def __init__(self, shape: tuple[int, ...], width: int = 64, num_classes: int = 0, embed_dim: int = 16,
                 dropout: float = 0.0, cond: str = "concat", batchnorm: bool = True, extra: int = 0,
                 label_maps: str = "built", mbstd: int = 0) -> None:
        super().__init__()
        channels, s0, k = plan_shape(shape)
        if cond not in ("concat", "projection"):
            raise ConfigError(f"model.d_cond must be 'concat' or 'projection', got '{cond}'")
        if label_maps not in ("built", "implicit"):
            raise ConfigError(f"model.d_label_maps must be 'built' or 'implicit', got '{label_maps}'")
        self.shape, self.num_classes, self.cond = tuple(shape), num_classes, cond
        self.implicit_labels = label_maps == "implicit"
        self.label = LabelEmbedding(num_classes, embed_dim)
        ch = widths(width, k)
        c_in = channels + (self.label.dim if cond == "concat" else 0)
        layers: list[nn.Module] = []
        for i in range(k):
            bn = batchnorm and i > 0
            layers.append(nn.Conv2d(c_in if i == 0 else ch[i - 1], ch[i], 4, 2, 1, bias=not bn))
            if bn:
                layers.append(nn.BatchNorm2d(ch[i]))
            layers.append(nn.LeakyReLU(0.2))
            layers += extra_convs(ch[i], extra, batchnorm, lambda: nn.LeakyReLU(0.2))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        if mbstd:
            layers.append(MinibatchStd(mbstd))
        self.features = nn.Sequential(*layers, Flatten())
        n_feat = (ch[-1] + (1 if mbstd else 0)) * s0 * s0
        self.out = nn.Linear(n_feat, 1)
        self.proj = nn.Embedding(num_classes, n_feat) if (num_classes > 0 and cond == "projection") else None
        dcgan_init(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        e = self.label(y, x.shape[0]) if self.cond == "concat" else None
        if e is None and self.proj is not None and y is None:
            raise ValueError(f"this network is conditional on {self.num_classes} classes: pass labels y")
        if e is not None and self.implicit_labels:  # the first conv sees the label channels unbuilt
            h = label_channels_conv(self.features[0], x, e)
            for layer in self.features[1:]:
                h = layer(h)
        else:
            if e is not None:
                x = torch.cat([x, e[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])], 1)
            h = self.features(x)
        logit = self.out(h).view(-1)
        if self.proj is not None:
            logit = logit + (self.proj(y.long()) * h).sum(1)
        return logit

    def features_and_logit(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The trunk's features [N, feature_dim] and the logit [N] (a Q head shares the trunk)."""
        if self.num_classes > 0:
            raise ConfigError("a Q head on a conditional dcgan discriminator is not supported: set model.num_classes=0")
        h = self.features(x)
        return h, self.out(h).view(-1)

    @property
    def feature_dim(self) -> int:
        return self.out.in_features


def label_channels_conv(conv: nn.Conv2d, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """conv(cat([x, e broadcast over x's H x W], 1)) without building the concatenated input.

    The label channels are constant over the image, so their response at an output position is e . V, where
    V[e, :, p, q] sums the label weights' taps that fall inside the image at (p, q) (zero padding drops the
    rest): V is one grouped conv of a map of ones (batch 1), then a [B, E] x [E, P*Q*O] product. The image
    part is a conv over x's own C channels. The same function up to rounding; it spares the C+E-channel
    input (17 channels for MNIST's 1) and its conv, copies and gradients, which took about a fifth of a
    width-64 conditional MNIST step on a 2-core CPU (README, Speed)."""
    n_img = conv.in_channels - e.shape[1]
    if x.shape[1] != n_img:
        raise ValueError(f"the discriminator expects {n_img}-channel images, got {x.shape[1]} channels")
    w_img, w_lab = conv.weight[:, :n_img], conv.weight[:, n_img:]
    out = F.conv2d(x, w_img, conv.bias, conv.stride, conv.padding)
    n_out, n_lab = w_lab.shape[0], w_lab.shape[1]
    ones = torch.ones(1, n_lab, x.shape[2], x.shape[3], dtype=x.dtype, device=x.device)
    v = F.conv2d(ones, w_lab.transpose(0, 1).reshape(n_lab * n_out, 1, *w_lab.shape[2:]), None, conv.stride,
                 conv.padding, groups=n_lab)  # [1, E * O, P, Q]: channel c * O + o
    p, q = v.shape[2], v.shape[3]
    v = v.view(n_lab, n_out, p, q).permute(0, 2, 3, 1).reshape(n_lab, p * q * n_out)
    lab = (e.to(v.dtype) @ v).view(-1, p, q, n_out).permute(0, 3, 1, 2)  # channels-last strides, as `out` has
    return out + lab


@NETWORKS.register("dcgan", help="DCGAN conv G and D for 28x28 or 16..256 power-of-two images; model.width channels "
                                     "(model.g_width: G's alone), model.g_extra_convs/d_extra_convs depth, model.g_upsample, "
                                     "model.d_label_maps, model.d_mbstd")
def build_dcgan(m, shape: tuple[int, ...], num_classes: int, out: str) -> tuple[nn.Module, nn.Module]:
    """Build the DCGAN pair from a ModelConfig and the data's (C, H, W) shape."""
    if len(shape) != 3:
        raise ConfigError(f"the dcgan network needs image data of shape (C, H, W), got {list(shape)}: "
                          f"use model.arch=mlp for points")
    G = DCGANGenerator(m.z_dim, shape, m.g_width or m.width, num_classes, m.embed_dim, out, m.g_batchnorm, m.g_extra_convs,
                       m.g_upsample)
    D = DCGANDiscriminator(shape, m.width, num_classes, m.embed_dim, m.d_dropout, m.d_cond, m.d_batchnorm,
                           m.d_extra_convs, m.d_label_maps, m.d_mbstd)
    return G, D


build_dcgan.kinds = ("images",)
