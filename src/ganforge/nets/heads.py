"""Heads that share a discriminator's trunk: InfoGAN's Q head (Chen et al. 2016)."""
from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError


class QDiscriminator(nn.Module):
    """D and Q on one trunk: forward(x, y) -> (logits [N], q [N, q_dim]). Q is the paper's head for
    MNIST: FC 128, batch norm, LeakyReLU(0.2), FC to the code parameters (categorical logits, then
    the means of the continuous codes)."""

    def __init__(self, D: nn.Module, q_dim: int, hidden: int = 128) -> None:
        super().__init__()
        if not hasattr(D, "features_and_logit"):
            raise ConfigError(f"model.algorithm=infogan needs a discriminator whose trunk a Q head can share "
                              f"(features_and_logit); {type(D).__name__} has none: use model.arch=mlp or dcgan")
        self.D = D
        self.q = nn.Sequential(nn.Linear(D.feature_dim, hidden), nn.BatchNorm1d(hidden), nn.LeakyReLU(0.2),
                               nn.Linear(hidden, q_dim))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h, logit = self.D.features_and_logit(x, y)
        return logit, self.q(h)
