"""Everything a run needs, built from a config and a data source, and its checkpoint form."""
from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ..config import Config
from ..data.source import Sampler, Source, load_source
from ..errors import ConfigError, DataError
from ..losses import Objective, Penalty
from ..nets.adapt import adapt_discriminator, adapt_generator
from ..registries import NETWORKS, OBJECTIVES, PENALTIES
from . import dist as distributed
from .dist import Dist

if TYPE_CHECKING:
    from ..sample import Generator


def resolve_device(name: str) -> torch.device:
    """'auto' -> cuda when available else cpu; a requested but absent device is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"train.device='{name}' was requested but no CUDA device is available; "
                          f"use train.device=cpu or auto")
    if name.startswith("cuda:") and int(name[5:]) >= torch.cuda.device_count():
        raise ConfigError(f"train.device='{name}': this machine has {torch.cuda.device_count()} CUDA device(s) "
                          f"(cuda:0..cuda:{torch.cuda.device_count() - 1})")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("train.device='mps' was requested but MPS is not available; use cpu or auto")
    return torch.device(name)


@dataclass
class TrainState:
    """Networks, optimisers, sampler and step of one run (what a checkpoint captures)."""

    cfg: Config
    source: Source
    G: nn.Module
    D: nn.Module
    G_ema: nn.Module
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    sampler: Sampler
    objective: Objective
    penalty: Penalty
    device: torch.device
    num_classes: int
    custom: bool = False
    step: int = 0
    eval_reference: Any = None  # the reference set of train.eval_every, loaded at the first evaluation
    nonfinite: torch.Tensor | None = None  # train.finite_check=device: [first bad step, 1 = D / 2 = G] on the device
    dist: Dist = field(default_factory=Dist)  # this process's place under torchrun
    G_train: nn.Module | None = None  # G, or DDP(G) / compiled: what the generator update calls
    D_train: nn.Module | None = None  # D, or DDP(D) / compiled: what the discriminator update calls
    scaler_G: Any = None  # torch.amp.GradScaler per optimiser with train.precision=fp16
    scaler_D: Any = None

    @property
    def channels_last(self) -> bool:
        """Whether image batches go to the networks in channels-last layout."""
        return channels_last(self.cfg, self.custom)

    def autocast(self) -> Any:
        """The autocast context of train.precision (a no-op for fp32)."""
        p = self.cfg.train.precision
        if p == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16 if p == "bf16" else torch.float16)

    def state_dict(self) -> dict[str, Any]:
        """The complete training state as a nested dict of tensors and JSON values."""
        return {
            "G": self.G.state_dict(), "D": self.D.state_dict(), "G_ema": self.G_ema.state_dict(),
            "opt_G": self.opt_G.state_dict(), "opt_D": self.opt_D.state_dict(),
            "step": self.step, "sampler": self.sampler.state_dict(),
            "rng": {"torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else []},
            **({"scaler_G": self.scaler_G.state_dict(), "scaler_D": self.scaler_D.state_dict()}
               if self.scaler_G is not None else {}),
            "config": self.cfg.to_dict(), "data": self.source.info(),
        }

    def load_state_dict(self, tree: dict[str, Any]) -> None:
        """Restore from state_dict() output (as read back from a checkpoint)."""
        self.G.load_state_dict(tree["G"])
        self.D.load_state_dict(tree["D"])
        self.G_ema.load_state_dict(tree["G_ema"])
        load_optimizer(self.opt_G, tree["opt_G"])
        load_optimizer(self.opt_D, tree["opt_D"])
        self.sampler.load_state_dict(tree["sampler"])
        if self.scaler_G is not None and "scaler_G" in tree:
            self.scaler_G.load_state_dict(tree["scaler_G"])
            self.scaler_D.load_state_dict(tree["scaler_D"])
        self.step = int(tree["step"])
        torch.set_rng_state(tree["rng"]["torch"])
        if tree["rng"]["cuda"] and self.device.type == "cuda":
            torch.cuda.set_rng_state_all(list(tree["rng"]["cuda"]))

    def generator(self) -> "Generator":
        """The EMA generator of this state, ready to sample()."""
        from ..sample import Generator

        return Generator(self.G_ema, self.cfg.model.z_dim, self.num_classes, self.source.info(),
                         self.cfg.to_dict(), self.step)

    def export(self) -> dict[str, Any]:
        """What an exported generator holds: G_ema's weights, config and data description."""
        G_ema = self.G_ema.net if self.custom else self.G_ema
        return {"G": G_ema.state_dict(), "config": self.cfg.to_dict(), "data": self.source.info(),
                "z_dim": self.cfg.model.z_dim, "num_classes": self.num_classes, "step": self.step,
                "custom": self.custom}


def generator_output(cfg: Config, kind: str) -> str:
    """model.g_out resolved: tanh for images, linear for points unless set."""
    if cfg.model.g_out != "auto":
        return cfg.model.g_out
    return "tanh" if kind == "images" else "linear"


def resolve_classes(cfg: Config, source: Source) -> int:
    """model.num_classes resolved against the data (-1 = as many as the data has)."""
    n = cfg.model.num_classes
    if n == -1:
        return source.num_classes
    if n > 0 and source.num_classes == 0:
        raise ConfigError(f"model.num_classes={n} asks for a conditional model but dataset "
                          f"'{source.name}' has no labels; set model.num_classes=0")
    if n > 0 and n < source.num_classes:
        raise ConfigError(f"model.num_classes={n} but dataset '{source.name}' has {source.num_classes} "
                          f"classes; set model.num_classes=-1 to take it from the data")
    return n


def build_generator(cfg: Config, data_info: dict[str, Any], num_classes: int) -> nn.Module:
    """Rebuild a registered generator from a config and a data description (for exports)."""
    G, _ = NETWORKS.get(cfg.model.arch)(cfg.model, tuple(data_info["shape"]), num_classes,
                                        generator_output(cfg, data_info["kind"]))
    return G


def make_optimizer(cfg: Config, params: Any, lr: float) -> torch.optim.Optimizer:
    """Adam (fused kernels on CPU and CUDA: one kernel per parameter instead of ~10 ops, 5x faster on
    CPU for DCGAN's parameters) or RMSprop (multi-tensor)."""
    o = cfg.optim
    params = list(params)
    if o.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, foreach=True)
    fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
    return torch.optim.Adam(params, lr=lr, betas=(o.beta1, o.beta2), fused=fused or None)


def load_optimizer(opt: torch.optim.Optimizer, saved: dict[str, Any]) -> None:
    """opt.load_state_dict(saved), keeping the fused/foreach choice this process made (a checkpoint may
    come from a version or device that chose differently; the hyperparameters are the checkpoint's): the
    choice is written into the saved groups before loading, so PyTorch places the step counters where
    fused kernels need them. Then each per-parameter state tensor takes its parameter's memory layout,
    as in a fresh optimiser: checkpoints store them contiguous, and the CPU fused kernel pairs elements
    in memory order, so a channels-last parameter with a contiguous exp_avg would be updated wrongly."""
    mine = [{k: g[k] for k in ("fused", "foreach") if k in g} for g in opt.param_groups]
    saved = {**saved, "param_groups": [{**g, **m} for g, m in zip(saved["param_groups"], mine)]}
    opt.load_state_dict(saved)
    for group in opt.param_groups:
        for p in group["params"]:
            for k, v in opt.state.get(p, {}).items():
                if torch.is_tensor(v) and v.shape == p.shape and v.stride() != p.stride():
                    opt.state[p][k] = torch.empty_like(p, dtype=v.dtype).copy_(v)


def build_state(cfg: Config, source: Source | None = None, G: nn.Module | None = None,
                D: nn.Module | None = None, d_output: str = "auto") -> TrainState:
    """Seed, load data, build (or adapt) the networks and optimisers; check shapes on a probe batch."""
    torch.manual_seed(cfg.train.seed)
    d = distributed.from_env()
    distributed.check_batch(d, cfg.data.batch_size)
    if d.enabled and cfg.train.eval_every and cfg.train.eval_n < d.world:
        raise ConfigError(f"train.eval_n={cfg.train.eval_n} is split over {d.world} processes for evaluation; "
                          f"use at least {d.world}")
    if d.enabled and cfg.train.on_nonfinite == "rollback":
        raise ConfigError("train.on_nonfinite=rollback is not available under torchrun; use stop and --resume")
    device = distributed.setup(d, resolve_device(cfg.train.device))
    source = source if source is not None else load_source(cfg.data.name, cfg.data)
    num_classes = resolve_classes(cfg, source)
    custom = G is not None or D is not None
    if custom:
        if G is None or D is None:
            raise ConfigError("pass both G and D (or neither, to use model.arch)")
        G, D = adapt_generator(G, num_classes > 0), adapt_discriminator(D, num_classes > 0, d_output)
    else:
        G, D = NETWORKS.get(cfg.model.arch)(cfg.model, source.shape, num_classes,
                                            generator_output(cfg, source.kind))
    G, D = G.to(device), D.to(device)
    check_shapes(G, D, cfg.model.z_dim, source, num_classes, device)
    if cfg.train.sync_batchnorm and d.enabled:
        if device.type != "cuda":
            raise ConfigError("train.sync_batchnorm needs CUDA devices (NCCL); on CPU keep it false")
        G, D = (nn.SyncBatchNorm.convert_sync_batchnorm(m) for m in (G, D))
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    penalty_name = cfg.loss.penalty
    objective = OBJECTIVES.get(cfg.loss.name)
    penalty = PENALTIES.get(objective.default_penalty if penalty_name == "default" else penalty_name)
    if channels_last(cfg, custom):  # G_ema too: its lerp towards G runs fastest in the same layout
        G, D, G_ema = (m.to(memory_format=torch.channels_last) for m in (G, D, G_ema))
    G_train, D_train = distributed.wrap(G, d, device), distributed.wrap(D, d, device)
    if cfg.train.compile:
        G_train, D_train = torch.compile(G_train), torch.compile(D_train)
    scalers = [torch.amp.GradScaler(device.type) for _ in range(2)] if cfg.train.precision == "fp16" else [None, None]
    sampler = source.sampler(cfg.data.batch_size, cfg.train.seed)
    opt_G, opt_D = make_optimizer(cfg, G.parameters(), cfg.optim.lr_g), make_optimizer(cfg, D.parameters(), cfg.optim.lr_d)
    check = cfg.train.finite_check
    fused = all(opt.defaults.get("fused") for opt in (opt_G, opt_D))
    if check == "device" and not fused:
        raise ConfigError(f"train.finite_check=device needs fused Adam kernels (CPU or CUDA), not available "
                          f"for {device.type}; use train.finite_check=step")
    on_device = (check == "device" or (check == "auto" and device.type == "cuda")) and fused and \
        cfg.train.precision != "fp16"
    if device.type == "cuda":  # a dataset up to a quarter of the GPU's memory lives there
        sampler.keep_on(device, torch.cuda.get_device_properties(device).total_memory // 4)
    return TrainState(cfg, source, G, D, G_ema, opt_G, opt_D, sampler, objective, penalty,
                      device, num_classes, custom, dist=d, G_train=G_train, D_train=D_train,
                      scaler_G=scalers[0], scaler_D=scalers[1],
                      nonfinite=torch.zeros(2, dtype=torch.long, device=device) if on_device else None)


def channels_last(cfg: Config, custom: bool) -> bool:
    """train.channels_last applies to ganforge's own networks; custom modules keep the layout they have
    (a .view() in user code can fail on channels-last tensors)."""
    return cfg.train.channels_last and not custom


@torch.no_grad()
def check_shapes(G: nn.Module, D: nn.Module, z_dim: int, source: Source, num_classes: int,
                 device: torch.device) -> None:
    """Run G and D on 2 probe samples (eval mode, private RNG) so shape errors surface before training."""
    g = torch.Generator().manual_seed(0)
    z = torch.randn(2, z_dim, generator=g).to(device)
    y = torch.zeros(2, dtype=torch.long, device=device) if num_classes > 0 else None
    modes = (G.training, D.training)
    G.eval(), D.eval()
    try:
        try:
            fake = G(z, y)
        except Exception as e:
            raise ConfigError(f"the generator failed on a batch of noise of shape [2, {z_dim}] "
                              f"(model.z_dim / z_dim): {type(e).__name__}: {e}") from None
        if tuple(fake.shape[1:]) != tuple(source.shape):
            raise DataError(f"the generator makes samples of shape {list(fake.shape[1:])} but the data "
                            f"'{source.name}' has shape {list(source.shape)}")
        try:
            out = D(fake, y)
        except Exception as e:
            raise ConfigError(f"the discriminator failed on samples of shape {list(fake.shape)}: "
                              f"{type(e).__name__}: {e}") from None
        if out.shape != (2,):
            raise ConfigError(f"the discriminator must return logits of shape [N]; got {list(out.shape)}")
    finally:
        G.train(modes[0]), D.train(modes[1])
