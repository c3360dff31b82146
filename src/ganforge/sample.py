"""Trained generators: sampling, exports, and loading from a run, checkpoint or export file."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import checkpoint
from .config import Config, is_custom
from .data.source import decode
from .errors import CheckpointError, ConfigError
from .nets.adapt import adapt_generator, from_model_layout, to_model_layout
from .nets.build import build_networks
from .nets.keras import as_torch
from .priors import ImageInput, NoisePrior, from_description
from .resources import require


class Generator:
    """A trained generator with what is needed to sample and decode: its prior (noise, and latent codes
    for InfoGAN), classes, data description, and the networks an algorithm exports beside it (`nets`:
    InfoGAN's D with its Q head, which infers the codes of images)."""

    def __init__(self, G: nn.Module, z_dim: int, num_classes: int, data_info: dict[str, Any],
                 config: dict[str, Any] | None = None, step: int = 0, prior: Any = None,
                 nets: dict[str, nn.Module] | None = None) -> None:
        self.G, self.z_dim, self.num_classes = G, z_dim, num_classes
        self.data_info, self.config, self.step = data_info, config or {}, step
        self.prior = prior if prior is not None else NoisePrior(z_dim)
        self.nets = nets or {}
        layout = self.config.get("model", {}).get("layout", "nchw")
        self.layout = "nchw" if layout == "auto" or data_info.get("kind") != "images" else layout

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

    @property
    def has_codes(self) -> bool:
        """Whether the prior has latent codes (InfoGAN)."""
        return self.prior.q_dim > 0

    def draw(self, n: int, seed: int | None = None, code: Any = None) -> Any:
        """The prior's draw for n samples (z, and the codes): what sample() feeds G."""
        self.check_n(n)
        if seed is not None and not 0 <= seed < 2**63:
            raise ConfigError(f"seed must be in 0..2^63-1, got {seed}")
        seed = int.from_bytes(os.urandom(4), "little") if seed is None else seed
        return self.prior.draw(n, generator=torch.Generator().manual_seed(seed), code=code)

    def check_n(self, n: int) -> None:
        """n samples must be >= 1 and fit in memory at once (the noise, the samples in model space and
        decoded), checked before anything is drawn."""
        import math

        if n < 1:
            raise ConfigError(f"number of samples must be >= 1, got {n}")
        per_sample = 4 * self.prior.dim + 5 * math.prod(self.data_info["shape"])
        require(n * per_sample, f"{n} samples", "cpu", "ask for fewer samples, or sample in parts (seeds differ "
                                                      "per part)")

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None, y: Any = None, batch_size: int = 1024,
               code: Any = None) -> torch.Tensor:
        """n samples in model space (a CPU tensor); a seed makes them reproducible. code fixes the
        categorical latent code (InfoGAN generators only)."""
        return self.sample_z(self.draw(n, seed, code).z, y, batch_size)

    @torch.no_grad()
    def sample_z(self, z: torch.Tensor, y: Any = None, batch_size: int = 1024) -> torch.Tensor:
        """Samples of given generator inputs z (rows of the prior's draws), in model space, laid out as the
        generator lays them out (self.layout: [N, C, H, W] for torch networks, [N, H, W, C] for Keras ones)."""
        n = len(z)
        labels = self.labels(n, y)
        device = next(self.G.parameters()).device
        was_training = self.G.training
        self.G.eval()
        out = [self.G(z[i:i + batch_size].to(device),
                      None if labels is None else labels[i:i + batch_size].to(device)).float().cpu()
               for i in range(0, n, batch_size)]
        self.G.train(was_training)
        return to_model_layout(torch.cat(out), self.layout)

    @torch.no_grad()
    def infer_codes(self, x: torch.Tensor, batch_size: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
        """InfoGAN: Q's categorical code (argmax, [N]) and continuous code means ([N, k]) of samples x in
        model space (in self.layout)."""
        x = from_model_layout(torch.as_tensor(x), self.layout)
        if not self.has_codes or "D" not in self.nets:
            raise ConfigError("this generator has no Q head (it was not trained with model.algorithm=infogan)")
        D = self.nets["D"]
        device = next(D.parameters()).device
        was_training = D.training
        D.eval()
        qs = [D(x[i:i + batch_size].to(device))[1].float().cpu() for i in range(0, len(x), batch_size)]
        D.train(was_training)
        q = torch.cat(qs)
        k = self.prior.categorical
        return q[:, :k].argmax(1), q[:, k:]

    @property
    def translates(self) -> bool:
        """Whether this generator translates input images (pix2pix, regression) rather than drawing from noise."""
        return isinstance(self.prior, ImageInput)

    @property
    def directions(self) -> tuple[str, ...]:
        """The directions translate() takes: a2b, and b2a for CycleGAN runs (which carry F: B -> A)."""
        return ("a2b", "b2a") if "F" in self.nets else ("a2b",)

    def input_shape(self, direction: str = "a2b") -> tuple[int, int, int]:
        """(C, H, W) of the images translate() takes in that direction."""
        return tuple(self.data_info["shape"]) if direction == "b2a" else tuple(self.prior.shape)

    @torch.no_grad()
    def translate(self, images: Any, batch_size: int = 256, direction: str = "a2b") -> np.ndarray:
        """Translate uint8 input images [N, H, W, C] (or [N, H, W] for one channel) of the size and channels the
        run was trained on; returns uint8 [N, H, W, C]. G runs in eval mode (dropout off). direction: a2b
        (G), or b2a (F: B -> A, CycleGAN runs only)."""
        if not self.translates:
            raise ConfigError("this generator draws images from noise (it is not a translation run): use "
                              "`ganforge generate RUN` to sample it")
        if direction not in self.directions:
            fits = "this paired run translates one way: drop --direction (or give a2b)" if direction == "b2a" else \
                f"give one of {' | '.join(self.directions)}"
            raise ConfigError(f"--direction {direction!r}: {fits}")
        net = self.nets["F"] if direction == "b2a" else self.G
        x = np.asarray(images)
        if x.ndim == 3:
            x = x[..., None]
        c, h, w = self.input_shape(direction)
        if x.dtype != np.uint8:
            raise ConfigError(f"translate takes uint8 images (0..255), got {x.dtype}")
        if x.ndim != 4 or tuple(x.shape[1:]) != (h, w, c) or len(x) == 0:
            what = "inputs" if len(self.directions) == 1 else f"domain {'B' if direction == 'b2a' else 'A'}'s images"
            raise ConfigError(f"the inputs have shape {list(x.shape[1:]) if x.ndim == 4 else list(x.shape)} (H, W, C) "
                              f"but the run was trained on {what} of shape {[h, w, c]}: give {w}x{h} images with {c} "
                              f"channel(s) (`ganforge translate --resize` resizes and converts them)")
        require(len(x) * 8 * h * w * (c + self.data_info["shape"][0]), f"{len(x)} images", "cpu",
                "translate fewer images at a time")
        device = next(net.parameters()).device
        was_training = net.training
        net.eval()
        out = []
        for i in range(0, len(x), batch_size):
            t = torch.from_numpy(np.ascontiguousarray(x[i:i + batch_size])).permute(0, 3, 1, 2).float()
            out.append(decode(net(t.div(127.5).sub(1.0).to(device)).float().cpu(), "images"))
        net.train(was_training)
        return np.concatenate(out)

    def decode(self, x: torch.Tensor) -> np.ndarray:
        """Model space (in self.layout) -> data units: coordinates for points, uint8 HWC for images."""
        return decode(from_model_layout(torch.as_tensor(x), self.layout), self.data_info["kind"])

    def save(self, path: str | os.PathLike) -> None:
        """Write an export file (weights + config + data description; no code)."""
        custom = is_custom(self.config.get("model", {}))
        G = self.G.net if hasattr(self.G, "net") and custom else self.G
        checkpoint.save(path, {"G": G.state_dict(), "config": self.config, "data": self.data_info,
                               "z_dim": self.z_dim, "num_classes": self.num_classes, "step": self.step,
                               "custom": custom,
                               "algorithm": self.config.get("model", {}).get("algorithm", "gan"),
                               "prior": self.prior.describe(),
                               "nets": {role: net.state_dict() for role, net in self.nets.items()}}, "generator")


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


def load_generator(source: str | os.PathLike, G: Any = None, device: str = "cpu") -> Generator:
    """Load the generator of a run directory, training checkpoint (its EMA weights) or export file.

    For runs that trained your own networks (ganforge.fit, or model.g factories), pass an instance of
    your generator as G (torch or Keras, built as in the run), or its factory as 'FILE.py:FACTORY':
    the file holds weights, never code.
    """
    tree = checkpoint.load(find_source_file(source))
    unprefix = lambda sd: {k[len("net."):]: v for k, v in sd.items()}  # noqa: E731  (the adapter's 'net.')
    if tree["__kind__"] == "checkpoint":
        state, cfg_d, data, step = tree["G_ema"], tree["config"], tree["data"], tree["step"]
        custom = is_custom(cfg_d["model"])
        num_classes = _classes(cfg_d, data)
        extra: dict[str, Any] = {}
        if custom:  # checkpoint keys carry the adapter's 'net.' prefix
            state = unprefix(state)
    else:
        state, cfg_d, data, step = tree["G"], tree["config"], tree["data"], tree["step"]
        custom, num_classes = tree["custom"], tree["num_classes"]
        extra = tree.get("nets", {})
    cfg = Config.from_dict(cfg_d)
    prior = from_description(tree.get("prior"), cfg.model.z_dim)
    nets: dict[str, nn.Module] = {}
    if custom:
        if G is None and cfg.model.g:
            raise ConfigError(f"'{source}' holds weights of the generator of model.g={cfg.model.g!r} (a file is never "
                              f"run from a checkpoint): pass the factory, `--g {cfg.model.g}` on the command line, "
                              f"or ganforge.load_generator(path, G=factory()) in Python")
        if G is None:
            raise ConfigError(f"'{source}' holds weights of your own generator class: pass an instance, "
                              f"e.g. ganforge.load_generator(path, G=MyGenerator())")
        if isinstance(G, str):  # FILE.py:FACTORY (`--g` on the command line)
            from .nets.user import call_factory
            G = call_factory(G, "--g", cfg.train.seed, z_dim=cfg.model.z_dim, shape=tuple(data["shape"]),
                             num_classes=num_classes)
        G = as_torch(G, "G")
        load_weights(G, state, source)
        net = adapt_generator(G, num_classes > 0, cfg.model.z_shape,
                              "nchw" if cfg.model.layout == "auto" else cfg.model.layout)
    else:
        built = build_networks(cfg, tuple(data["shape"]), data["kind"], num_classes, prior)
        net = built["G"]
        net.load_state_dict(state)
        if tree["__kind__"] == "checkpoint" and prior.q_dim:
            extra = {"D": tree["D"]}  # InfoGAN: Q shares D's trunk
        if tree["__kind__"] == "checkpoint" and "F_ema" in tree:
            extra = {"F": tree["F_ema"]}  # CycleGAN: F maps B back to A
        for role, sd in extra.items():
            built[role].load_state_dict(sd)
            nets[role] = built[role].to(device).eval().requires_grad_(False)
    net = net.to(device).eval().requires_grad_(False)
    return Generator(net, cfg.model.z_dim, num_classes, data, cfg.to_dict(), int(step), prior=prior, nets=nets)


def load_weights(net: nn.Module, state: dict[str, torch.Tensor], source: Any) -> None:
    """net.load_state_dict(state), or a CheckpointError naming the first tensor that does not fit."""
    own = net.state_dict()
    def mismatch(k: str, v: torch.Tensor) -> str | None:
        if k not in state:
            return f"tensor '{k}' is missing from the file"
        if tuple(state[k].shape) != tuple(v.shape):
            return f"tensor '{k}' has shape {list(state[k].shape)} in the file but {list(v.shape)} in the model"
        return None

    problem = next((m for m in (mismatch(k, v) for k, v in own.items()) if m), None) or \
        next((f"the file has tensor '{k}', which the model lacks" for k in state if k not in own), None)
    if problem is not None:
        raise CheckpointError(f"the weights in '{source}' do not fit the generator you passed "
                              f"({type(net).__name__}): {problem}; pass a generator built as in the run")
    net.load_state_dict(state)


def _classes(cfg_d: dict[str, Any], data: dict[str, Any]) -> int:
    n = cfg_d["model"]["num_classes"]
    if data.get("paired") and n == -1:
        return 0  # a translation run: the pairs' labels are for evaluation only
    return data["num_classes"] if n == -1 else n
