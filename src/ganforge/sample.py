"""Trained generators: sampling, exports, and loading from a run, checkpoint or export file."""
from __future__ import annotations

import math
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
from .nets.adapt import STATE_PREFIX, adapt_generator, from_model_layout, to_model_layout
from .nets.build import ENCODING, build_networks
from .nets.keras import as_torch
from .priors import Draw, ImageInput, NoisePrior, from_description
from .resources import require


class Generator:
    """A trained generator with what is needed to sample and decode: its prior (noise, and latent codes
    for InfoGAN), classes, data description, and the networks an algorithm exports beside it (`nets`:
    InfoGAN's D with its Q head, which infers the codes of images)."""

    def __init__(self, G: nn.Module, z_dim: int, num_classes: int, data_info: dict[str, Any],
                 config: dict[str, Any] | None = None, step: int = 0, prior: Any = None,
                 nets: dict[str, nn.Module] | None = None, weights: str = "G_ema") -> None:
        self.G, self.z_dim, self.num_classes = G, z_dim, num_classes
        self.weights = weights  # which weights G holds, as evaluation protocols record it
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

    def draw(self, n: int, seed: int | None = None, code: Any = None, truncation: float | None = None) -> Any:
        """The prior's draw for n samples (z, and the codes): what sample() feeds G. truncation psi in (0, 1]
        scales the noise part of z by psi (the codes are left alone); 1 or None draws plainly."""
        self.check_n(n)
        check_truncation(truncation)
        if seed is not None and not 0 <= seed < 2**63:
            raise ConfigError(f"seed must be in 0..2^63-1, got {seed}")
        seed = int.from_bytes(os.urandom(4), "little") if seed is None else seed
        draw = self.prior.draw(n, generator=torch.Generator().manual_seed(seed), code=code)
        if truncation is not None and truncation != 1.0:
            draw.z[:, :self.prior.z_dim] *= truncation
        return draw

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
               code: Any = None, truncation: float | None = None, jacobian_keep: float | None = None
               ) -> torch.Tensor:
        """n samples in model space (a CPU tensor); a seed makes them reproducible. code fixes the
        categorical latent code (InfoGAN generators only); truncation psi scales the noise (see draw);
        jacobian_keep rejects the draws where G stretches its noise most (see draw_smooth)."""
        if jacobian_keep is not None:
            draw, labels = self.draw_smooth(n, jacobian_keep, seed, y, code, truncation, batch_size)
            return self.sample_z(draw.z, labels, batch_size)
        return self.sample_z(self.draw(n, seed, code, truncation).z, y, batch_size)

    @torch.no_grad()
    def draw_smooth(self, n: int, keep: float, seed: int | None = None, y: Any = None, code: Any = None,
                    truncation: float | None = None, batch_size: int = 1024) -> tuple[Draw, torch.Tensor | None]:
        """Jacobian-norm rejection (Tanielian et al. 2020, "Learning disconnected manifolds: a no GAN's land"):
        a continuous G maps connected noise onto disconnected modes only by stretching it steeply between
        them, so the samples between modes are where ||dG/dz||_F is largest. Draw ceil(n / keep) candidates,
        keep the n with the smallest norm (within each class for conditional generators: the class counts
        stay those of `y`), in draw order; keep 1 is the plain draw. Returns the kept draw and its labels
        (None: unconditional)."""
        check_jacobian_keep(keep)
        if isinstance(self.prior, ImageInput):
            raise ConfigError("jacobian_keep ranks draws of a generator's noise; a translation run takes images, "
                              "not noise: drop it")
        labels = self.labels(n, y)
        if keep == 1.0:
            return self.draw(n, seed, code, truncation), labels
        m = math.ceil(n / keep)
        self.check_n(m)
        draw = self.draw(m, seed, code, truncation)
        cand_y = None if labels is None else labels[torch.arange(m) % n]
        norms = self.jacobian_norms(draw.z, cand_y, batch_size)
        chosen = torch.empty(n, dtype=torch.long)
        for c in ([None] if labels is None else labels.unique().tolist()):
            want = torch.arange(n) if c is None else (labels == c).nonzero().reshape(-1)
            pool = torch.arange(m) if c is None else (cand_y == c).nonzero().reshape(-1)
            best = pool[norms[pool].argsort(stable=True)[:len(want)]]
            chosen[want] = best.sort().values
        pick = lambda t: None if t is None else t[chosen]  # noqa: E731
        return Draw(draw.z[chosen], pick(draw.code), pick(draw.code_cont)), labels

    @torch.no_grad()
    def jacobian_norms(self, z: torch.Tensor, labels: torch.Tensor | None = None, batch_size: int = 1024
                       ) -> torch.Tensor:
        """||dG/dz||_F per row of z, with respect to the noise part of z (codes and labels held fixed), by
        central differences (step JACOBIAN_STEP) along unit directions: all noise axes (exact up to the
        difference step) for generators of <= 16 outputs (toy points), else JACOBIAN_PROBES random unit
        directions (fixed seed), ||J||_F^2 ~ z_dim * mean ||J u||^2. Works for any network G, torch or Keras."""
        k = self.prior.z_dim
        out_size = math.prod(self.data_info["shape"])
        if out_size <= 16:
            dirs = torch.eye(k)
        else:
            dirs = torch.randn(JACOBIAN_PROBES, k, generator=torch.Generator().manual_seed(0))
            dirs /= dirs.norm(dim=1, keepdim=True)
        p = len(dirs)
        step = torch.zeros(p, z.shape[1])
        step[:, :k] = JACOBIAN_STEP * dirs
        rows = max(1, batch_size // (2 * p))  # draws per forward batch of their 2p shifted copies
        norms = []
        for i in range(0, len(z), rows):
            zb = z[i:i + rows]
            b = len(zb)
            shifted = torch.cat([zb[:, None] + step[None], zb[:, None] - step[None]], 1).reshape(b * 2 * p, -1)
            yb = None if labels is None else labels[i:i + rows].repeat_interleave(2 * p)
            out = self.sample_z(shifted, yb, batch_size).reshape(b, 2, p, -1)
            ju2 = ((out[:, 0] - out[:, 1]) / (2 * JACOBIAN_STEP)).pow(2).sum(-1)  # [b, p]
            norms.append((ju2.sum(1) if out_size <= 16 else k * ju2.mean(1)).sqrt())
        return torch.cat(norms)

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

    # ---- encoders (vae, vaegan) ----------------------------------------------------------------
    @property
    def has_encoder(self) -> bool:
        """Whether the run carries an encoder E (model.algorithm=vae or vaegan)."""
        return "E" in self.nets

    def images_in(self, images: Any, shape: tuple[int, ...], what: str, hint: str) -> np.ndarray:
        """uint8 images [N, H, W, C] (or [N, H, W]) checked against shape (C, H, W); what names them."""
        x = np.asarray(images)
        if x.ndim == 3:
            x = x[..., None]
        c, h, w = shape
        if x.dtype != np.uint8:
            raise ConfigError(f"{what}: uint8 images (0..255) are needed, got {x.dtype}")
        if x.ndim != 4 or tuple(x.shape[1:]) != (h, w, c) or len(x) == 0:
            raise ConfigError(f"the inputs have shape {list(x.shape[1:]) if x.ndim == 4 else list(x.shape)} (H, W, C) "
                              f"but the run was trained on {what} of shape {[h, w, c]}: give {w}x{h} images with {c} "
                              f"channel(s) ({hint})")
        return x

    def run_images(self, net: nn.Module, x: np.ndarray, batch_size: int) -> list[Any]:
        """net (eval mode) on uint8 images [N, H, W, C] scaled to [-1, 1], in batches; its outputs on the CPU."""
        device = next(net.parameters()).device
        was_training = net.training
        net.eval()
        out = []
        try:
            for i in range(0, len(x), batch_size):
                t = torch.from_numpy(np.ascontiguousarray(x[i:i + batch_size])).permute(0, 3, 1, 2).float()
                r = net(t.div(127.5).sub(1.0).to(device))
                out.append(tuple(o.float().cpu() for o in r) if isinstance(r, tuple) else r.float().cpu())
        finally:
            net.train(was_training)
        return out

    def _encoder(self) -> nn.Module:
        if not self.has_encoder:
            algo = self.config.get("model", {}).get("algorithm", "gan")
            raise ConfigError(f"this run (model.algorithm={algo}) has no encoder: encode and reconstruct need a run "
                              f"of model.algorithm={' or '.join(ENCODING)}")
        return self.nets["E"]

    @torch.no_grad()
    def encode(self, images: Any, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """The encoder's (mu, log sigma^2) of q(z | x), float32 [N, z_dim] each, for uint8 images [N, H, W, C]
        of the run's shape; deterministic (the posterior's parameters, not a draw)."""
        E = self._encoder()
        x = self.images_in(images, tuple(self.data_info["shape"]), "images", "`--resize` resizes and converts them")
        require(len(x) * 8 * math.prod(self.data_info["shape"]), f"{len(x)} images", "cpu", "encode fewer at a time")
        out = self.run_images(E, x, batch_size)
        return torch.cat([o[0] for o in out]).numpy(), torch.cat([o[1] for o in out]).numpy()

    @torch.no_grad()
    def reconstruct(self, images: Any, batch_size: int = 256) -> np.ndarray:
        """G(mu(x)): the decoder on the encoder's posterior means, uint8 [N, H, W, C]."""
        mu, _ = self.encode(images, batch_size)
        return self.decode(self.sample_z(torch.from_numpy(mu), batch_size=batch_size))

    @torch.no_grad()
    def interpolate(self, rows: int = 8, steps: int = 8, seed: int = 0, between: Any = None,
                    y: Any = None) -> torch.Tensor:
        """rows x steps samples in model space, row-major: each row walks from one z to another by spherical
        interpolation (slerp) of the noise part, its first and last the samples of the two z. Conditional
        generators keep one class along a row (class r mod C, or y), InfoGAN ones the row's codes. between =
        (images_a, images_b), uint8 [R, H, W, C] each: rows between the encoded posterior means (encoder runs)."""
        if steps < 2:
            raise ConfigError(f"--steps must be >= 2 (the two ends), got {steps}")
        if between is not None:
            a, b = (torch.from_numpy(self.encode(imgs)[0]) for imgs in between)
            if len(a) != len(b):
                raise ConfigError(f"--between: {len(a)} and {len(b)} images; give as many of each")
            z0, z1 = a, b
        else:
            if rows < 1:
                raise ConfigError(f"rows must be >= 1, got {rows}")
            ends = self.draw(2 * rows, seed).z
            z0, z1 = ends[:rows], ends[rows:].clone()
            z1[:, self.prior.z_dim:] = z0[:, self.prior.z_dim:]  # codes fixed along a row
        rows = len(z0)
        t = torch.linspace(0, 1, steps)
        k = self.prior.z_dim
        walk = slerp(z0[:, None, :k], z1[:, None, :k], t[None, :, None])
        z = torch.cat([walk, z0[:, None, k:].expand(-1, steps, -1)], 2).reshape(rows * steps, -1)
        labels = None
        if self.num_classes:
            per_row = torch.arange(rows) % self.num_classes if y is None else self.labels(rows, y)
            labels = per_row.repeat_interleave(steps)
        return self.sample_z(z, labels)

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
        c, h, w = self.input_shape(direction)
        what = "inputs" if len(self.directions) == 1 else f"domain {'B' if direction == 'b2a' else 'A'}'s images"
        x = self.images_in(images, (c, h, w), what, "`ganforge translate --resize` resizes and converts them")
        require(len(x) * 8 * h * w * (c + self.data_info["shape"][0]), f"{len(x)} images", "cpu",
                "translate fewer images at a time")
        return np.concatenate([decode(o, "images") for o in self.run_images(net, x, batch_size)])

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


JACOBIAN_STEP = 1e-2  # central-difference step along a unit direction of the noise
JACOBIAN_PROBES = 8  # random directions per draw for generators of images


def check_jacobian_keep(keep: float | None) -> None:
    if keep is not None and not (0.0 < keep <= 1.0):
        raise ConfigError(f"--jacobian-keep {keep}: the share of draws kept must be in (0, 1] (e.g. 0.95 keeps "
                          f"the 95% with the smallest ||dG/dz||; 1 = keep all)")


def check_truncation(psi: float | None) -> None:
    if psi is not None and not (0.0 < psi <= 1.0):
        raise ConfigError(f"--truncation {psi}: psi must be in (0, 1] (z is scaled by psi; 1 = no truncation)")


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between vectors a and b (last dimension) at fractions t; linear where they are
    (nearly) parallel. slerp(a, b, 0) = a and slerp(a, b, 1) = b."""
    cos = (a * b).sum(-1, keepdim=True) / (a.norm(dim=-1, keepdim=True) * b.norm(dim=-1, keepdim=True)).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    so = torch.sin(omega)
    safe = so.abs() > 1e-6
    sw = torch.where(safe, so, torch.ones_like(so))
    wa = torch.where(safe, torch.sin((1 - t) * omega) / sw, 1 - t)
    wb = torch.where(safe, torch.sin(t * omega) / sw, t)
    out = wa * a + wb * b
    return torch.where(t == 0, a.expand_as(out), torch.where(t == 1, b.expand_as(out), out))


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
    unprefix = lambda sd: {k[len(STATE_PREFIX):]: v for k, v in sd.items()}  # noqa: E731  (the adapter's prefix)
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
    averaged = tree.get("averaged_steps")  # train.average_ckpts / `ganforge average`
    weights = f"mean of G_ema at steps {', '.join(map(str, averaged))}" if averaged else "G_ema"
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
        if tree["__kind__"] == "checkpoint":  # CycleGAN's F maps B back to A; vae/vaegan's E encodes images
            extra.update({role: tree[f"{role}_ema"] for role in ("F", "E") if f"{role}_ema" in tree})
        for role, sd in extra.items():
            built[role].load_state_dict(sd)
            nets[role] = built[role].to(device).eval().requires_grad_(False)
    net = net.to(device).eval().requires_grad_(False)
    return Generator(net, cfg.model.z_dim, num_classes, data, cfg.to_dict(), int(step), prior=prior, nets=nets,
                     weights=weights)


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
