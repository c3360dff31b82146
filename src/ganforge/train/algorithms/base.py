"""The algorithm contract: what a game of networks declares, and what the loop does for it.

An algorithm names its networks by role (built from the config, the data's shape and its prior), the
roles that get an EMA copy, its optimisers (name -> roles whose parameters it updates, learning rate),
its own state (tensors and JSON values, saved in checkpoints), and one `step(st, update)` that draws
batches with `st.next_batch()`, computes losses and hands each to the loop's `update(name, loss)`.
The loop owns backward, optimiser steps, finite checks, gradient scalers, DDP wrappers, EMA and
rollback; the step returns the scalars to log (every log line, TensorBoard and losses.png take them).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ...config import Config
from ...errors import ConfigError
from ...nets.adapt import adapt_discriminator, adapt_generator
from ...nets.build import build_networks
from ...priors import NoisePrior

# keys of the gan algorithm's update loop (D steps per G step, update order, D's passes, the reused fake
# batch): an algorithm with its own one-update-each loop refuses them when changed
GAN_LOOP_KEYS = ("loss.n_critic", "loss.schedule", "loss.d_pass", "train.reuse_fake")

Update = Any  # the loop's Updater: update(optimiser name, loss), or update.together({name: loss}) (simultaneous)
# `st` in the methods below is the run's train.state.TrainState (not imported here: it imports this module)


@dataclass(frozen=True)
class OptimizerSpec:
    """One optimiser: the roles whose parameters it updates, its learning rate, and what the messages call it."""

    roles: tuple[str, ...]
    lr: float
    label: str


class Algorithm:
    """Base class of the registered algorithms (one level below object; see DESIGN.md)."""

    ema_roles: tuple[str, ...] = ("G",)
    d_kind = "logits"  # what the network family's D must be: logits | autoencoder
    export_roles: tuple[str, ...] = ()  # roles besides G_ema an export carries (InfoGAN: D with its Q head)
    conditional = True  # whether labels (model.num_classes > 0) are allowed
    translates = False  # image-to-image: G maps input images (batch.x2) to targets (batch.x); no noise prior

    def __init__(self, cfg: Config, num_classes: int, device: torch.device) -> None:
        self.cfg, self.num_classes, self.device = cfg, num_classes, device
        if num_classes > 0 and not self.conditional:
            raise ConfigError(f"config key 'model.num_classes': model.algorithm={cfg.model.algorithm} is unconditional "
                              f"but the data has labels; set model.num_classes=0 (or train without labels)")

    # ---- declarations ----------------------------------------------------------------------------
    @classmethod
    def check_config(cls, cfg: Config, defaults: Config) -> None:
        """Refuse options this algorithm does not use or cannot combine (one message naming the key)."""

    @staticmethod
    def refuse_changed(cfg: Config, defaults: Config, keys: tuple[str, ...], why: str) -> None:
        """ConfigError for the first of keys set away from its default."""
        for key in keys:
            sec, name = key.split(".")
            value = getattr(getattr(cfg, sec), name)
            if value != getattr(getattr(defaults, sec), name):
                raise ConfigError(f"config key '{key}' = {value!r} cannot be used with model.algorithm="
                                  f"{cfg.model.algorithm}: {why}; remove it")

    def bind(self, source: Any) -> None:
        """See the training data before the prior and networks are made (translation: the input shape)."""
        if getattr(source, "paired", False):
            raise ConfigError(f"config key 'model.algorithm': dataset '{source.name}' holds (input, target) pairs for "
                              f"image-to-image translation; use model.algorithm=pix2pix or regression (or train "
                              f"{self.cfg.model.algorithm} on an image dataset such as mnist)")

    def prior(self) -> Any:
        """What G is fed; shared with Generator.sample through the checkpoint's description of it."""
        return NoisePrior(self.cfg.model.z_dim)

    def networks(self, shape: tuple[int, ...], kind: str, prior: Any) -> dict[str, nn.Module]:
        """The networks by role, from the registered family model.arch."""
        from ...registries import NETWORKS

        family = getattr(NETWORKS.get(self.cfg.model.arch), "d_kind", "logits")
        if family != self.d_kind:
            raise ConfigError(f"config key 'model.arch': the {self.cfg.model.arch} family's discriminator gives "
                              f"{family}, but model.algorithm={self.cfg.model.algorithm} needs {self.d_kind}"
                              f"{'; use model.arch=began' if self.d_kind == 'autoencoder' else ''}")
        return build_networks(self.cfg, shape, kind, self.num_classes, prior)

    def adapt(self, G: nn.Module, D: nn.Module, d_output: str) -> dict[str, nn.Module]:
        """A user's own G and D given the ganforge contract of this algorithm's roles."""
        conditional = self.num_classes > 0
        return {"G": adapt_generator(G, conditional), "D": adapt_discriminator(D, conditional, d_output)}

    def optimizers(self) -> dict[str, OptimizerSpec]:
        o = self.cfg.optim
        return {"G": OptimizerSpec(("G",), o.lr_g, "generator"), "D": OptimizerSpec(("D",), o.lr_d, "discriminator")}

    def check_output(self, out: Any, x: torch.Tensor) -> None:
        """D's output on a probe batch x (2 samples, or 2 packs of model.d_pack) must fit the algorithm (ConfigError otherwise)."""
        if not torch.is_tensor(out) or out.shape != (2,):
            shape = list(out.shape) if torch.is_tensor(out) else type(out).__name__
            raise ConfigError(f"the discriminator must return logits of shape [N]; got {shape}")

    # ---- state and the step --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The algorithm's own state (tensors and JSON values), saved in every checkpoint."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            raise ValueError(f"unexpected algorithm state {sorted(state)} for {self.cfg.model.algorithm}")

    def step(self, st: Any, update: Update) -> dict[str, torch.Tensor]:
        """One training step; returns scalar tensors to log (not read back until a log line)."""
        raise NotImplementedError

    def pictures(self, st: Any, out_dir: Any) -> list[Any]:
        """Pictures of its own written at the end of training (InfoGAN's code sweep); paths."""
        return []


def score(logits: torch.Tensor, probabilistic: bool) -> torch.Tensor:
    """Mean D output for the log: probability for BCE-type objectives, raw score otherwise."""
    return torch.sigmoid(logits).mean() if probabilistic else logits.mean()
