"""CycleGAN's networks (Zhu et al. 2017, arXiv 1703.10593, after Johnson et al. 2016): a ResNet generator and
the PatchGAN discriminator of Pix2Pix, both with instance normalisation.

ResNet G(x) -> y: c7s1-w (7x7 convolution, reflection padding), d2w, d4w (3x3 stride-2 convolutions), n
residual blocks of two 3x3 convolutions at 4w channels (model.res_blocks; the paper: 6 at 128x128, 9 at
256x256), u2w, uw (3x3 stride-2 transposed convolutions), c7s1-C with tanh; every convolution but the last
followed by instance norm and ReLU. w = model.width (the paper's 64). Images whose sides are divisible by 4.

D: the PatchGAN of nets/unet.py on the image alone (unconditional), instance norm, receptive field model.patch.
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from ..registries import NETWORKS
from .unet import PatchDiscriminator, init_weights, translation_shapes


class ResBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c), nn.ReLU(),
                                  nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNetGenerator(nn.Module):
    """G(x, y=None) -> translated image (see the module docstring)."""

    def __init__(self, in_ch: int, out_ch: int, h: int, w: int, width: int = 64, blocks: int = 6,
                 out: str = "tanh") -> None:
        super().__init__()
        if h % 4 or w % 4:
            raise ConfigError(f"the resnet generator halves images twice: {h}x{w} must have sides divisible by 4")
        c = width
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_ch, c, 7), nn.InstanceNorm2d(c), nn.ReLU()]
        for k in (1, 2):
            layers += [nn.Conv2d(c * k, c * 2 * k, 3, 2, 1), nn.InstanceNorm2d(c * 2 * k), nn.ReLU()]
        layers += [ResBlock(4 * c) for _ in range(blocks)]
        for k in (4, 2):
            layers += [nn.ConvTranspose2d(c * k, c * k // 2, 3, 2, 1, output_padding=1), nn.InstanceNorm2d(c * k // 2),
                       nn.ReLU()]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, out_ch, 7)]
        if out == "tanh":
            layers.append(nn.Tanh())
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is not None:
            raise ValueError("the resnet generator is not conditional on labels: call G(x)")
        return self.body(x)


@NETWORKS.register("resnet", help="CycleGAN's ResNet G (model.res_blocks residual blocks) and an unconditional "
                                  "PatchGAN D, instance norm; for unpaired translation")
def build_resnet(m, shape: tuple[int, ...], num_classes: int, out: str,
                 in_shape: tuple[int, ...] | None = None) -> tuple[nn.Module, nn.Module]:
    """(ResNet G translating in_shape images into shape, PatchGAN D judging images of shape)."""
    in_shape = translation_shapes("resnet", shape, num_classes, in_shape)
    c, h, w = shape
    G = ResNetGenerator(in_shape[0], c, h, w, m.width, m.res_blocks, out)
    D = PatchDiscriminator(0, c, h, w, m.width, m.patch, norm="instance")
    init_weights(G), init_weights(D)
    return G, D


build_resnet.kinds = ("paired",)
build_resnet.d_kind = "patch"
build_resnet.paired = True
