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


class GaussianEncoder(nn.Module):
    """E(x) -> (mu [N, z_dim], log sigma^2 [N, z_dim]) of q(z | x): one linear layer on the trunk of a
    discriminator of the network family (its logit layer is left unused and frozen)."""

    def __init__(self, trunk: nn.Module, z_dim: int) -> None:
        super().__init__()
        if not hasattr(trunk, "features_and_logit"):
            raise ConfigError(f"an encoder needs a discriminator trunk it can share (features_and_logit); "
                              f"{type(trunk).__name__} has none: use model.arch=mlp or dcgan")
        self.trunk = trunk
        unused_by_features(trunk)
        self.head = nn.Linear(trunk.feature_dim, 2 * z_dim)
        nn.init.normal_(self.head.weight, 0.0, 0.02)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h, _ = self.trunk.features_and_logit(x)
        mu, logvar = self.head(h).chunk(2, dim=1)
        return mu, logvar


def unused_by_features(trunk: nn.Module) -> None:
    """Freeze the parameters of a discriminator that its trunk's features do not depend on (its logit layer), found
    by the gradient of the features on a probe batch in eval mode (running statistics untouched)."""
    params = [p for p in trunk.parameters() if p.requires_grad]
    was = trunk.training
    trunk.eval()
    try:
        h, _ = trunk.features_and_logit(torch.zeros(2, *trunk.shape))
        grads = torch.autograd.grad(h.sum(), params, allow_unused=True)
    finally:
        trunk.train(was)
    for p, g in zip(params, grads):
        if g is None:
            p.requires_grad_(False)


def feature_layers(D: nn.Module) -> list[nn.Module]:
    """The LeakyReLU activations of a discriminator's trunk, in order (the layers vaegan.feature_layer counts)."""
    return [m for m in D.modules() if isinstance(m, nn.LeakyReLU)]


def feature_activation(D: nn.Module, x: torch.Tensor, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(activations of D's layer `layer` on x, D's logits): layer k >= 1 is the k-th LeakyReLU of its trunk, 0 the
    trunk's output (the features under the logit)."""
    if layer == 0:
        return D.features_and_logit(x)
    acts = feature_layers(D)
    if layer > len(acts):
        raise ConfigError(f"config key 'vaegan.feature_layer' = {layer}: the discriminator has {len(acts)} LeakyReLU "
                          f"layers; use 0 (its trunk's output) or 1..{len(acts)}")
    seen: list[torch.Tensor] = []
    handle = acts[layer - 1].register_forward_hook(lambda m, i, o: seen.append(o))
    try:
        logit = D(x)
    finally:
        handle.remove()
    return seen[0], logit
