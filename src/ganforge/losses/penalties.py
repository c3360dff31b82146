"""Discriminator penalties: a term added to D's loss, or an action after D's optimiser step."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

from ..registries import PENALTIES


def gradient_penalty(D: Callable[..., Tensor], real: Tensor, fake: Tensor, y: Tensor | None = None) -> Tensor:
    """WGAN-GP: E[(||grad D(x_hat)||_2 - 1)^2], x_hat = eps*real + (1-eps)*fake, one eps per sample."""
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    out = D(x_hat, y)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    return (grad.reshape(grad.shape[0], -1).norm(2, dim=1) - 1).pow(2).mean()


def r1_penalty(D: Callable[..., Tensor], real: Tensor, y: Tensor | None = None) -> Tensor:
    """R1 (Mescheder et al. 2018): 1/2 E[||grad D(x)||^2] on real data."""
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x, y).sum(), x, create_graph=True)
    return 0.5 * grad.reshape(grad.shape[0], -1).pow(2).sum(1).mean()


@torch.no_grad()
def clip_weights(D: nn.Module, bound: float) -> None:
    """Clamp every parameter of D to [-bound, bound] (WGAN; run after the critic's step)."""
    for p in D.parameters():
        p.clamp_(-bound, bound)


@dataclass(frozen=True)
class Penalty:
    """term(D, real, fake, y, loss_cfg) is added to D's loss; after_step(D, loss_cfg) runs after opt_D.step()."""

    term: Callable[..., Tensor] | None = None
    after_step: Callable[[nn.Module, object], None] | None = None


PENALTIES.register("none", Penalty(), help="no penalty")
PENALTIES.register("gp", Penalty(term=lambda D, real, fake, y, c: c.gp_weight * gradient_penalty(D, real, fake, y)),
                   help="gradient penalty, weight loss.gp_weight (WGAN-GP)")
PENALTIES.register("r1", Penalty(term=lambda D, real, fake, y, c: c.gp_weight * r1_penalty(D, real, y)),
                   help="R1 penalty on real data, weight loss.gp_weight")
PENALTIES.register("r1r2", Penalty(term=lambda D, real, fake, y, c: c.gp_weight * (r1_penalty(D, real, y)
                                                                                   + r1_penalty(D, fake, y))),
                   help="R1 on real data plus R2, the same zero-centred penalty on generated data, weight "
                        "loss.gp_weight each (R3GAN, Huang et al. 2024)")
PENALTIES.register("clip", Penalty(after_step=lambda D, c: clip_weights(D, c.clip)),
                   help="weight clipping to [-loss.clip, loss.clip] after each critic step (WGAN)")
