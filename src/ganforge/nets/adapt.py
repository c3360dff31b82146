"""Adapters that give users' own nn.Modules the ganforge contract.

Contract: G(z, y=None) -> x and D(x, y=None) -> logits of shape [N].

A user's discriminator may end in ``nn.Sigmoid()`` (probabilities, as in most tutorials).
``d_output`` says how its output is read:

* ``"logits"``: used as is.
* ``"probs"``: the logit is recovered as ``log(p) - log(1 - p)`` with p clamped to the range where
  float32 holds a probability, ``[1.2e-38, 1 - 6e-8]`` (``PROB_RANGE``): losses stay finite, and
  gradients vanish only where p itself has rounded to 0 or 1, as in the tutorial's ``BCELoss``
  (whose log is clamped at -100). A tighter clamp (1e-6, before issue 14) cut G's gradient as soon
  as D rejected a sample with p < 1e-6, and pytorch/examples' DCGAN, whose D is that sure within a
  few hundred steps, stopped learning (grey noise, D(G(z)) = 0.002).
* ``"auto"`` (default): an ``nn.Sequential`` ending in ``nn.Sigmoid`` has the sigmoid
  removed (the logits are then exact and the losses numerically stable); any other module
  whose last layer is ``nn.Sigmoid`` is read as ``"probs"``; a Keras model whose output layer has
  ``activation='sigmoid'`` runs with that activation skipped (exact logits, see nets/keras.py);
  everything else as ``"logits"``.

Layout and noise shape (your own networks only; ganforge's internal layout is [N, C, H, W] and noise
[N, z_dim]): ``layout`` is how the user's networks hold images: ``"nchw"`` (torch), ``"nhwc"`` (Keras,
TensorFlow) or ``"nhw"`` (one channel, no channel axis); the adapters convert at the boundary. ``z_shape``
is the shape of one noise input as G takes it (``[100, 1, 1]`` for a G that starts with a
ConvTranspose2d, as in pytorch/examples' DCGAN).
"""
from __future__ import annotations

import inspect
import warnings
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from .keras import KerasNet, as_torch, ends_in_sigmoid, is_keras

PROB_RANGE = (float(torch.finfo(torch.float32).tiny), 1.0 - 2.0 ** -24)  # float32's (0, 1)
LAYOUTS = ("nchw", "nhwc", "nhw")


def accepts_label(module: nn.Module) -> bool:
    """True when module.forward takes a second positional argument (the label y), or a Keras model two inputs."""
    if isinstance(module, KerasNet):
        return module.takes_label
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


def to_model_layout(x: torch.Tensor, layout: str) -> torch.Tensor:
    """[N, C, H, W] -> the user's layout."""
    if layout == "nhwc":
        return x.permute(0, 2, 3, 1).contiguous()
    if layout == "nhw":
        return x[:, 0]
    return x


def from_model_layout(x: torch.Tensor, layout: str) -> torch.Tensor:
    """The user's layout -> [N, C, H, W]."""
    if layout == "nhwc" and x.dim() == 4:
        return x.permute(0, 3, 1, 2).contiguous()
    if layout == "nhw" and x.dim() == 3:
        return x[:, None]
    return x


STATE_PREFIX = "net."  # an Adapted module's state-dict keys: the user's own module's keys behind this prefix


class Adapted(nn.Module):
    """Calls a user's module with or without y, in its own layout (and, for G, its noise shape) and, for D,
    returns flat logits."""

    def __init__(self, net: nn.Module, takes_label: bool, role: str, d_output: str = "logits") -> None:
        super().__init__()
        self.net, self.takes_label, self.role, self.d_output = net, takes_label, role, d_output
        self.layout = "nchw"
        self.z_shape: tuple[int, ...] | None = None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.role == "G":
            if self.z_shape is not None:
                x = x.reshape(x.shape[0], *self.z_shape)
        else:
            x = to_model_layout(x, self.layout)
        out = self.net(x, y) if self.takes_label else self.net(x)
        if self.role in ("G", "AE"):  # a sample, or an autoencoder's reconstruction (BEGAN): as is
            return from_model_layout(out, self.layout)
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
            p = out.float().clamp(*PROB_RANGE)
            out = torch.log(p) - torch.log1p(-p)
        return out


def first_layer(module: nn.Module) -> nn.Module | None:
    """The first leaf module (in registration order, the order of a Sequential or an __init__)."""
    return next((m for m in module.modules() if not list(m.children())), None)


def noise_shape(G: nn.Module, z_dim: int) -> tuple[int, ...] | None:
    """The noise shape G takes when it is not [z_dim]: [z_dim, 1, 1] for a G whose first layer is a
    ConvTranspose2d or Conv2d (pytorch/examples' DCGAN draws its noise so); None otherwise."""
    if isinstance(G, KerasNet):
        shape = G.input_shape
        return tuple(int(s) for s in shape[1:]) if shape and len(shape) > 2 and None not in shape[1:] else None
    if isinstance(first_layer(G), (nn.ConvTranspose2d, nn.Conv2d)):
        return (z_dim, 1, 1)
    return None


def adapt_generator(G: Any, conditional: bool, z_shape: Any = None, layout: str = "nchw") -> nn.Module:
    """Wrap a user generator (torch or Keras); a conditional run needs G to accept a label argument.
    z_shape: the shape of one noise input (None: [z_dim]); layout: how G's samples are laid out."""
    G = as_torch(G, "the generator G")
    takes = accepts_label(G)
    if conditional and not takes:
        raise ConfigError("the data has labels (conditional training) but the generator's forward takes "
                         "no label argument: define forward(self, z, y) or train without labels")
    net = Adapted(G, takes and conditional, "G")
    net.z_shape = tuple(z_shape) if z_shape else None
    net.layout = layout
    return net


def adapt_discriminator(D: Any, conditional: bool, d_output: str = "auto", layout: str = "nchw",
                        role: str = "D") -> nn.Module:
    """Wrap a user discriminator (torch or Keras), deciding how its output is read (see module docstring)."""
    if d_output not in ("auto", "logits", "probs"):
        raise ConfigError(f"d_output must be 'auto', 'logits' or 'probs', got {d_output!r}")
    if d_output == "auto" and is_keras(D) and isinstance(D, nn.Module) and ends_in_sigmoid(D):
        D, d_output = as_torch(D, "the discriminator D", logits=True), "logits"  # Keras: the sigmoid skipped
    D = as_torch(D, "the discriminator D")
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
    net = Adapted(D, takes and conditional, role, d_output)
    net.layout = layout
    return net
