"""Trained generators: sampling, exports, and loading from a run, checkpoint or export file."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import checkpoint
from .config import Config
from .data.source import decode
from .errors import CheckpointError, ConfigError


class Generator:
    """A trained generator with what is needed to sample and decode: z_dim, classes, data description."""

    def __init__(self, G: nn.Module, z_dim: int, num_classes: int, data_info: dict[str, Any],
                 config: dict[str, Any] | None = None, step: int = 0) -> None:
        self.G, self.z_dim, self.num_classes = G, z_dim, num_classes
        self.data_info, self.config, self.step = data_info, config or {}, step

    def labels(self, n: int, y: Any = None) -> torch.Tensor | None:
        """Labels for n samples: None (unconditional), an int class, or a sequence; by default classes
        in blocks (0,0,..,1,1,..), so a grid with n / num_classes images per row shows one class a row."""
        if self.num_classes == 0:
            if y is not None:
                raise ConfigError("this generator is unconditional: it takes no class")
            return None
        if y is None:
            return torch.arange(n) * self.num_classes // n
        y = torch.full((n,), int(y)) if isinstance(y, (int, np.integer)) else torch.as_tensor(y).long().reshape(-1)
        if len(y) != n or int(y.min()) < 0 or int(y.max()) >= self.num_classes:
            raise ConfigError(f"class must be in 0..{self.num_classes - 1} (one per sample when a sequence)")
        return y

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None, y: Any = None, batch_size: int = 1024) -> torch.Tensor:
        """n samples in model space (a CPU tensor); a seed makes them reproducible."""
        if n < 1:
            raise ConfigError(f"number of samples must be >= 1, got {n}")
        seed = int.from_bytes(os.urandom(4), "little") if seed is None else seed
        z = torch.randn(n, self.z_dim, generator=torch.Generator().manual_seed(seed))
        labels = self.labels(n, y)
        device = next(self.G.parameters()).device
        was_training = self.G.training
        self.G.eval()
        out = [self.G(z[i:i + batch_size].to(device),
                      None if labels is None else labels[i:i + batch_size].to(device)).float().cpu()
               for i in range(0, n, batch_size)]
        self.G.train(was_training)
        return torch.cat(out)

    def decode(self, x: torch.Tensor) -> np.ndarray:
        """Model space -> data units: coordinates for points, uint8 HWC for images."""
        return decode(x, self.data_info["kind"])

    def save(self, path: str | os.PathLike) -> None:
        """Write an export file (weights + config + data description; no code)."""
        G = self.G.net if hasattr(self.G, "net") and self.config.get("model", {}).get("arch") == "custom" else self.G
        checkpoint.save(path, {"G": G.state_dict(), "config": self.config, "data": self.data_info,
                               "z_dim": self.z_dim, "num_classes": self.num_classes, "step": self.step,
                               "custom": self.config.get("model", {}).get("arch") == "custom"}, "generator")


def find_source_file(source: str | os.PathLike) -> Path:
    """A run directory -> its export (or newest checkpoint); a file -> itself."""
    p = Path(source)
    if p.is_dir():
        if (p / "generator.safetensors").is_file():
            return p / "generator.safetensors"
        ckpts = sorted((p / "checkpoints").glob("step_*.safetensors")) if (p / "checkpoints").is_dir() else []
        if ckpts:
            return ckpts[-1]
        raise CheckpointError(f"'{p}' is a directory but not a ganforge run (no generator.safetensors and no "
                              f"checkpoints/): pass a run directory, a checkpoint or an exported generator")
    if not p.exists():
        raise CheckpointError(f"'{p}' does not exist: pass a run directory, a checkpoint or an exported generator")
    return p


def load_generator(source: str | os.PathLike, G: nn.Module | None = None, device: str = "cpu") -> Generator:
    """Load the generator of a run directory, training checkpoint (its EMA weights) or export file.

    For runs that trained your own networks (ganforge.fit), pass an instance of your generator
    class as G: the file holds weights, never code.
    """
    tree = checkpoint.load(find_source_file(source))
    if tree["__kind__"] == "checkpoint":
        state, cfg_d, data, step = tree["G_ema"], tree["config"], tree["data"], tree["step"]
        custom = cfg_d["model"]["arch"] == "custom"
        if custom:  # checkpoint keys carry the adapter's 'net.' prefix
            state = {k[len("net."):]: v for k, v in state.items()}
        num_classes = _classes(cfg_d, data)
    else:
        state, cfg_d, data, step = tree["G"], tree["config"], tree["data"], tree["step"]
        custom, num_classes = tree["custom"], tree["num_classes"]
    cfg = Config.from_dict(cfg_d)
    if custom:
        if G is None:
            raise ConfigError(f"'{source}' holds weights of your own generator class: pass an instance, "
                              f"e.g. ganforge.load_generator(path, G=MyGenerator())")
        from .nets.adapt import adapt_generator
        G.load_state_dict(state)
        net = adapt_generator(G, num_classes > 0)
    else:
        from .train.state import build_generator
        net = build_generator(cfg, data, num_classes)
        net.load_state_dict(state)
    net = net.to(device).eval().requires_grad_(False)
    return Generator(net, cfg.model.z_dim, num_classes, data, cfg.to_dict(), int(step))


def _classes(cfg_d: dict[str, Any], data: dict[str, Any]) -> int:
    n = cfg_d["model"]["num_classes"]
    return data["num_classes"] if n == -1 else n
