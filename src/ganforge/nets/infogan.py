"""InfoGAN's MNIST networks (Chen et al. 2016, Table 1 of the appendix), for 28x28 images.

G: FC 1024, BN, ReLU; FC 7x7x128, BN, ReLU; 4x4 up-convolution to 64 channels (stride 2), BN, ReLU;
4x4 up-convolution to the image channels (stride 2), tanh.
D: 4x4 convolution to 64 channels (stride 2), LeakyReLU(0.1); 4x4 convolution to 128 (stride 2), BN,
LeakyReLU(0.1); FC 1024, BN, LeakyReLU(0.1) (the trunk a Q head shares); FC to one logit.
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from ..registries import NETWORKS
from .dcgan import dcgan_init
from .layers import Flatten


def _check(shape: tuple[int, ...], num_classes: int) -> None:
    if num_classes > 0:
        raise ConfigError("config key 'model.num_classes': the infogan network is unconditional; set it to 0")
    if tuple(shape[1:]) != (28, 28):
        raise ConfigError(f"the infogan network is the paper's MNIST architecture, for 28x28 images; the data is "
                          f"{list(shape)}: use model.arch=dcgan")


class InfoGANGenerator(nn.Module):
    def __init__(self, z_dim: int, channels: int, out: str = "tanh") -> None:
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(z_dim, 1024, bias=False), nn.BatchNorm1d(1024), nn.ReLU(),
                                nn.Linear(1024, 128 * 7 * 7, bias=False), nn.BatchNorm1d(128 * 7 * 7), nn.ReLU())
        self.conv = nn.Sequential(nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                                  nn.ConvTranspose2d(64, channels, 4, 2, 1), *([nn.Tanh()] if out == "tanh" else []))
        dcgan_init(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.conv(self.fc(z).view(-1, 128, 7, 7))


class InfoGANDiscriminator(nn.Module):
    def __init__(self, channels: int, dropout: float = 0.0) -> None:
        super().__init__()
        drop = [nn.Dropout(dropout)] if dropout > 0 else []
        self.trunk = nn.Sequential(nn.Conv2d(channels, 64, 4, 2, 1), nn.LeakyReLU(0.1), *drop,
                                   nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.1),
                                   *drop, Flatten(), nn.Linear(128 * 7 * 7, 1024, bias=False),
                                   nn.BatchNorm1d(1024), nn.LeakyReLU(0.1))
        self.out = nn.Linear(1024, 1)
        dcgan_init(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.out(self.trunk(x)).view(-1)

    def features_and_logit(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The trunk's 1024 features and the logit (InfoGAN's Q head shares the trunk)."""
        h = self.trunk(x)
        return h, self.out(h).view(-1)

    @property
    def feature_dim(self) -> int:
        return self.out.in_features


@NETWORKS.register("infogan", help="InfoGAN's MNIST G and D (Chen et al. 2016: FC 1024 layers, 64/128 convs), 28x28")
def build_infogan(m, shape: tuple[int, ...], num_classes: int, out: str) -> tuple[nn.Module, nn.Module]:
    """Build the paper's pair from a ModelConfig and the data's (C, 28, 28) shape."""
    if len(shape) != 3:
        raise ConfigError(f"the infogan network needs image data (C, 28, 28), got {list(shape)}")
    _check(shape, num_classes)
    return InfoGANGenerator(m.z_dim, shape[0], out), InfoGANDiscriminator(shape[0], m.d_dropout)


build_infogan.kinds = ("images",)
build_infogan.sizes = (28,)  # image sizes it builds
