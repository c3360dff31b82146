"""GAN objectives as pure functions of the discriminator's logits.

Every function takes raw logits (never probabilities) and uses softplus forms, so the losses
stay finite however confident D becomes: log(sigmoid(t)) = -softplus(-t) and
log(1 - sigmoid(t)) = -softplus(t).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from ..registries import OBJECTIVES


@dataclass(frozen=True)
class Objective:
    """A GAN objective: d_loss(real_logits, fake_logits), g_loss(fake_logits), or g_loss(fake_logits,
    real_logits) for a relativistic objective (G's loss compares each generated sample's score with a real one's)."""

    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[..., Tensor]
    probabilistic: bool
    """True when sigmoid(logit) is D's probability that x is real (logged as D(x)); else a raw score."""
    default_penalty: str = "none"
    relativistic: bool = False
    """True when g_loss takes the real batch's logits too (paired with the generated ones in order)."""


def bce_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """-E[log D(x)] - E[log(1 - D(G(z)))]."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def minimax_g_loss(fake_logits: Tensor) -> Tensor:
    """E[log(1 - D(G(z)))], the original minimax generator loss (saturates early in training)."""
    return -F.softplus(fake_logits).mean()


def nonsaturating_g_loss(fake_logits: Tensor) -> Tensor:
    """-E[log D(G(z))], the non-saturating generator loss."""
    return F.softplus(-fake_logits).mean()


def lsgan_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Least squares (Mao et al. 2017, a=0, b=1): 1/2 E[(D(x)-1)^2] + 1/2 E[D(G(z))^2]."""
    return 0.5 * ((real_logits - 1).pow(2).mean() + fake_logits.pow(2).mean())


def lsgan_g_loss(fake_logits: Tensor) -> Tensor:
    """1/2 E[(D(G(z)) - 1)^2]."""
    return 0.5 * (fake_logits - 1).pow(2).mean()


def wasserstein_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """E[D(G(z))] - E[D(x)] (the critic maximises the score gap)."""
    return fake_logits.mean() - real_logits.mean()


def wasserstein_g_loss(fake_logits: Tensor) -> Tensor:
    """-E[D(G(z))]."""
    return -fake_logits.mean()


def hinge_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]."""
    return torch.relu(1 - real_logits).mean() + torch.relu(1 + fake_logits).mean()


def rpgan_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Relativistic pairing: E[softplus(-(D(x_i) - D(G(z_i))))], the i-th real sample paired with the i-th
    generated one (Jolicoeur-Martineau 2019's RSGAN; the loss of R3GAN, Huang et al. 2024)."""
    return F.softplus(fake_logits - real_logits).mean()


def rpgan_g_loss(fake_logits: Tensor, real_logits: Tensor) -> Tensor:
    """E[softplus(-(D(G(z_i)) - D(x_i)))]: G raises each generated sample's score above its real partner's."""
    return F.softplus(real_logits - fake_logits).mean()


OBJECTIVES.register("bce", Objective(bce_d_loss, minimax_g_loss, True),
                    help="minimax BCE as in the tutorials; G minimises log(1 - D(G(z)))")
OBJECTIVES.register("ns", Objective(bce_d_loss, nonsaturating_g_loss, True),
                    help="BCE with the non-saturating G loss -log D(G(z))")
OBJECTIVES.register("lsgan", Objective(lsgan_d_loss, lsgan_g_loss, False),
                    help="least squares GAN (Mao et al. 2017)")
OBJECTIVES.register("wgan", Objective(wasserstein_d_loss, wasserstein_g_loss, False, "clip"),
                    help="Wasserstein GAN with weight clipping after each critic step (Arjovsky et al. 2017)")
OBJECTIVES.register("wgan-gp", Objective(wasserstein_d_loss, wasserstein_g_loss, False, "gp"),
                    help="Wasserstein GAN with gradient penalty (Gulrajani et al. 2017)")
OBJECTIVES.register("hinge", Objective(hinge_d_loss, wasserstein_g_loss, False),
                    help="hinge loss (Lim & Ye 2017; SNGAN, BigGAN)")
OBJECTIVES.register("rpgan", Objective(rpgan_d_loss, rpgan_g_loss, False, relativistic=True),
                    help="relativistic pairing GAN: softplus of the score gap between paired real and generated "
                         "samples (RSGAN, Jolicoeur-Martineau 2019; with loss.penalty=r1r2, R3GAN's objective, "
                         "Huang et al. 2024)")
