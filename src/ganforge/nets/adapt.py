"""Adapters that give users' own nn.Modules the ganforge contract.

Contract: G(z, y=None) -> x and D(x, y=None) -> logits of shape [N].

A user's discriminator may end in ``nn.Sigmoid()`` (probabilities, as in most tutorials).
``d_output`` says how its output is read:

* ``"logits"``: used as is.
* ``"probs"``: the logit is recovered as ``log(p) - log(1 - p)`` with p clamped to
  ``[1e-6, 1 - 1e-6]``, so losses stay finite; gradients vanish where D saturates,
  exactly as they do in the tutorial's ``BCELoss`` on probabilities.
* ``"auto"`` (default): an ``nn.Sequential`` ending in ``nn.Sigmoid`` has the sigmoid
  removed (the logits are then exact and the losses numerically stable); any other module
  whose last layer is ``nn.Sigmoid`` is read as ``"probs"``; everything else as ``"logits"``.
"""
from __future__ import annotations

import inspect
import warnings

import torch
from torch import nn

from ..errors import ConfigError

PROB_EPS = 1e-6


def accepts_label(module: nn.Module) -> bool:
    """True when module.forward takes a second positional argument (the label y)."""
    if isinstance(module, nn.Sequential):
        return False
    try:
        params = list(inspect.signature(module.forward).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


def _last_leaf(module: nn.Module) -> nn.Module | None:
    leaves = [m for m in module.modules() if not list(m.children())]
    return leaves[-1] if leaves else None


class Adapted(nn.Module):
    """Calls a user's module with or without y and, for D, returns flat logits."""

    def __init__(self, net: nn.Module, takes_label: bool, role: str, d_output: str = "logits") -> None:
        super().__init__()
        self.net, self.takes_label, self.role, self.d_output = net, takes_label, role, d_output

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        out = self.net(x, y) if self.takes_label else self.net(x)
        if self.role in ("G", "AE"):  # a sample, or an autoencoder's reconstruction (BEGAN): as is
            return out
        if self.role == "DQ":  # InfoGAN: (logits, Q's outputs)
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                raise ConfigError("model.algorithm=infogan: your discriminator must return a pair (logits [N], "
                                  "q [N, categorical + continuous]) from a Q head sharing its trunk; it returned "
                                  f"{type(out).__name__}")
            logits, q = out
            return self._logits(logits, x), q
        return self._logits(out, x)

    def _logits(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if out.numel() != x.shape[0]:
            raise ConfigError(f"the discriminator must return one value per sample (shape [N] or [N, 1]); "
                             f"for a batch of {x.shape[0]} it returned shape {list(out.shape)}")
        out = out.reshape(-1)
        if self.d_output == "probs":
            p = out.clamp(PROB_EPS, 1 - PROB_EPS)
            out = torch.log(p) - torch.log1p(-p)
        return out


def adapt_generator(G: nn.Module, conditional: bool) -> nn.Module:
    """Wrap a user generator; a conditional run needs G to accept a label argument."""
    takes = accepts_label(G)
    if conditional and not takes:
        raise ConfigError("the data has labels (conditional training) but the generator's forward takes "
                         "no label argument: define forward(self, z, y) or train without labels")
    return Adapted(G, takes and conditional, "G")


def adapt_discriminator(D: nn.Module, conditional: bool, d_output: str = "auto") -> nn.Module:
    """Wrap a user discriminator, deciding how its output is read (see module docstring)."""
    if d_output not in ("auto", "logits", "probs"):
        raise ConfigError(f"d_output must be 'auto', 'logits' or 'probs', got {d_output!r}")
    takes = accepts_label(D)
    if conditional and not takes:
        raise ConfigError("the data has labels (conditional training) but the discriminator's forward takes "
                         "no label argument: define forward(self, x, y) or train without labels")
    if d_output == "auto":
        if isinstance(D, nn.Sequential) and len(D) > 0 and isinstance(D[-1], nn.Sigmoid):
            D = D[:-1]  # shares the user's layers; logits become exact
            d_output = "logits"
        elif isinstance(_last_leaf(D), nn.Sigmoid):
            warnings.warn("the discriminator's last layer is nn.Sigmoid: reading its output as probabilities "
                          "(clamped logit). Return logits, or pass d_output='logits'/'probs', to choose explicitly.")
            d_output = "probs"
        else:
            d_output = "logits"
    return Adapted(D, takes and conditional, "D", d_output)
