"""Networks by role, built from a config, the data's shape and the prior: used by training and by
loading (so that `sample.py` and `evaluate.py` never import training code)."""
from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from ..config import Config
from ..errors import ConfigError
from ..registries import NETWORKS
from .heads import GaussianEncoder, QDiscriminator

ENCODING = ("vae", "vaegan")  # the algorithms whose networks include an encoder E (role E)


def generator_output(cfg: Config, kind: str) -> str:
    """model.g_out resolved: tanh for images, linear for points unless set."""
    if cfg.model.g_out != "auto":
        return cfg.model.g_out
    return "tanh" if kind == "images" else "linear"


SPECTRAL = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)


def spectral_normalise(net: nn.Module) -> nn.Module:
    """Spectral normalisation of every conv, linear and embedding weight of net (in place; returns net)."""
    from torch.nn.utils import parametrize
    from torch.nn.utils.parametrizations import spectral_norm

    for m in list(net.modules()):
        if isinstance(m, SPECTRAL) and not parametrize.is_parametrized(m, "weight"):
            spectral_norm(m)
    return net


class PackedDiscriminator(nn.Module):
    """PacGAN (Lin et al. 2018): inner judges packs of `pack` consecutive samples of a batch, concatenated along
    the channel (or feature) axis: [B, C, ...] -> [B / pack, pack * C, ...]; one logit per pack."""

    def __init__(self, inner: nn.Module, pack: int) -> None:
        super().__init__()
        self.inner, self.pack = inner, pack

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        n = x.shape[0]
        if n % self.pack:
            raise ConfigError(f"model.d_pack={self.pack}: the discriminator got a batch of {n} samples, which does "
                              f"not divide into packs of {self.pack}; make data.batch_size (per process under "
                              f"torchrun) a multiple of {self.pack}")
        return self.inner(x.reshape(n // self.pack, self.pack * x.shape[1], *x.shape[2:]), y)


def build_networks(cfg: Config, shape: tuple[int, ...], kind: str, num_classes: int, prior: Any
                   ) -> dict[str, nn.Module]:
    """{'G': ..., 'D': ...} of the registered family model.arch, with spectral normalisation where
    model.g_spectral_norm / model.d_spectral_norm ask for it (discriminators: D and CycleGAN's D_A)."""
    nets = _build_networks(cfg, shape, kind, num_classes, prior)
    for role, net in nets.items():
        if (cfg.model.g_spectral_norm and role in ("G", "F")) or (cfg.model.d_spectral_norm and role in ("D", "D_A")):
            spectral_normalise(net)
    return nets


def _build_networks(cfg: Config, shape: tuple[int, ...], kind: str, num_classes: int, prior: Any
                    ) -> dict[str, nn.Module]:
    """G takes the prior's input vector (noise, plus latent codes); with codes, D carries a Q head on its trunk
    (returns (logits, q))."""
    build = NETWORKS.get(cfg.model.arch)
    m = cfg.model
    if prior.dim != m.z_dim:
        m = copy.copy(m)
        m.z_dim = prior.dim
    if getattr(build, "paired", False):  # a translation family: G takes the prior's input images
        in_shape = getattr(prior, "shape", None)
        G, D = build(m, tuple(shape), num_classes, generator_output(cfg, kind), in_shape=in_shape)
        if cfg.model.algorithm != "cyclegan":
            return {"G": G, "D": D}
        F, D_A = build(m, tuple(in_shape), num_classes, generator_output(cfg, kind), in_shape=tuple(shape))
        return {"G": G, "D": D, "F": F, "D_A": D_A}  # CycleGAN: F maps B back to A, D_A judges A
    G, D = build(m, tuple(shape), num_classes, generator_output(cfg, kind))
    if m.d_pack > 1:  # D of the same family on the packed shape: d_pack samples along the first axis
        packed = (shape[0] * m.d_pack, *shape[1:])
        D = PackedDiscriminator(build(m, packed, num_classes, generator_output(cfg, kind))[1], m.d_pack)
    if prior.q_dim:
        D = QDiscriminator(D, prior.q_dim)
    if cfg.model.algorithm in ENCODING:  # an encoder on the trunk of a second D of the family
        return {"G": G, "D": D, "E": GaussianEncoder(build(m, tuple(shape), 0, "linear")[1], prior.dim)}
    return {"G": G, "D": D}


def build_generator(cfg: Config, data_info: dict[str, Any], num_classes: int, prior: Any) -> nn.Module:
    """Rebuild a registered generator from a config and a data description (for exports)."""
    return build_networks(cfg, tuple(data_info["shape"]), data_info["kind"], num_classes, prior)["G"]
