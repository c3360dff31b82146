"""Everything a run needs, built from a config and a data source, and its checkpoint form."""
from __future__ import annotations

import contextlib
import copy
import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ..config import Config
from ..data.source import Sampler, Source, load_source
from ..errors import ConfigError, DataError
from ..registries import ALGORITHMS
from ..resources import OutputCounter, require
from . import dist as distributed
from .dist import Dist

if TYPE_CHECKING:
    from ..sample import Generator
    from .algorithms.base import Algorithm


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


@dataclass(frozen=True)
class Batch:
    """This rank's share of one global batch, on the training device: x, labels y (None when
    unconditional), room for a second input x2 (paired images, a second domain), and the global size
    and this rank's slice of it (noise is drawn for the global batch and sliced the same way)."""

    x: torch.Tensor
    y: torch.Tensor | None
    size: int
    shard: slice
    x2: torch.Tensor | None = None


@dataclass
class TrainState:
    """Networks by role, their EMA copies, optimisers, the algorithm and its prior, sampler and step of
    one run (what a checkpoint captures)."""

    cfg: Config
    source: Source
    algorithm: Algorithm
    prior: Any
    nets: dict[str, nn.Module]  # by role: G, D, ... (unwrapped; what checkpoints hold)
    ema: dict[str, nn.Module]  # role -> its EMA copy (G -> G_ema)
    opts: dict[str, torch.optim.Optimizer]  # optimiser name -> optimiser (the algorithm's optimizers())
    opt_roles: dict[str, tuple[str, ...]]  # optimiser name -> roles whose parameters it updates
    opt_labels: dict[str, str]  # optimiser name -> what messages call it (discriminator, generator)
    sampler: Sampler
    device: torch.device
    num_classes: int
    custom: bool = False
    step: int = 0
    eval_reference: Any = None  # the reference set of train.eval_every, loaded at the first evaluation
    nonfinite: torch.Tensor | None = None  # train.finite_check=device: [first bad step, optimiser code] on the device
    dist: Dist = field(default_factory=Dist)  # this process's place under torchrun
    train_nets: dict[str, nn.Module] = field(default_factory=dict)  # role -> DDP / compiled module the updates call
    scalers: dict[str, Any] = field(default_factory=dict)  # optimiser name -> GradScaler with train.precision=fp16
    last_batch: int = 0  # global size of the last batch drawn (samples/s counts it)

    # ---- the classic pair's names (G, D, G_ema, opt_G, opt_D), for code written against them ------------
    @property
    def G(self) -> nn.Module:
        return self.nets["G"]

    @property
    def D(self) -> nn.Module:
        return self.nets["D"]

    @property
    def G_ema(self) -> nn.Module:
        return self.ema["G"]

    @property
    def opt_G(self) -> torch.optim.Optimizer:
        return self.opts["G"]

    @property
    def opt_D(self) -> torch.optim.Optimizer:
        return self.opts["D"]

    @property
    def G_train(self) -> nn.Module:
        return self.train_nets["G"]

    @property
    def D_train(self) -> nn.Module:
        return self.train_nets["D"]

    @property
    def objective(self) -> Any:
        """The objective of D's logits (algorithms with one; None for BEGAN's own)."""
        return getattr(self.algorithm, "objective", None)

    @property
    def penalty(self) -> Any:
        return getattr(self.algorithm, "penalty", None)

    @property
    def channels_last(self) -> bool:
        """Whether image batches go to the networks in channels-last layout."""
        return channels_last(self.cfg, self.custom)

    @functools.cached_property
    def precision(self) -> str:
        """train.precision as this run computes: auto resolved once for its device (resolve_precision)."""
        return resolve_precision(self.cfg.train.precision, self.device)

    def autocast(self) -> Any:
        """The autocast context of the run's precision (a no-op for fp32, and for auto where bf16 is not native)."""
        p = self.precision
        if p == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16 if p == "bf16" else torch.float16)

    def next_batch(self) -> Batch:
        """The next global batch from the sampler; this rank's shard of it, on the device."""
        drawn = self.sampler.next()  # (x, y), or (target, y, input) for paired data
        real, y = drawn[0], drawn[1]
        size = real.shape[0]
        shard = self.dist.shard(size)
        real = real[shard].to(self.device, non_blocking=True)
        x2 = drawn[2][shard].to(self.device, non_blocking=True) if len(drawn) > 2 else None
        y = y[shard].to(self.device, non_blocking=True) if (y is not None and self.num_classes > 0) else None
        if self.channels_last and real.dim() == 4:
            real = real.contiguous(memory_format=torch.channels_last)
            x2 = x2.contiguous(memory_format=torch.channels_last) if x2 is not None else None
        self.last_batch = size
        return Batch(real, y, size, shard, x2)

    def params_of(self, name: str) -> list[nn.Parameter]:
        """The parameters optimiser `name` updates."""
        return [p for role in self.opt_roles[name] for p in self.nets[role].parameters()]

    def state_dict(self) -> dict[str, Any]:
        """The complete training state as a nested dict of tensors and JSON values. Layout: each role's
        weights under its name, EMA copies under ROLE_ema, optimisers under opt_NAME, scalers under
        scaler_NAME (the classic pair: G, D, G_ema, opt_G, opt_D, as in format version 1)."""
        tree: dict[str, Any] = {role: net.state_dict() for role, net in self.nets.items()}
        tree.update({f"{role}_ema": net.state_dict() for role, net in self.ema.items()})
        tree.update({f"opt_{name}": opt.state_dict() for name, opt in self.opts.items()})
        tree.update({f"scaler_{name}": sc.state_dict() for name, sc in self.scalers.items()})
        return {
            **tree, "step": self.step, "sampler": self.sampler.state_dict(),
            "rng": {"torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else []},
            "algorithm": {"name": self.cfg.model.algorithm, "state": self.algorithm.state_dict()},
            "prior": self.prior.describe(),
            "config": self.cfg.to_dict(), "data": self.source.info(),
        }

    def load_state_dict(self, tree: dict[str, Any]) -> None:
        """Restore from state_dict() output (as read back from a checkpoint; format version 1 files are
        gan checkpoints without an algorithm entry)."""
        algo = tree.get("algorithm", {"name": "gan", "state": {}})
        if algo["name"] != self.cfg.model.algorithm:
            raise ValueError(f"the checkpoint was trained with model.algorithm={algo['name']}, this run uses "
                             f"model.algorithm={self.cfg.model.algorithm}")
        for role, net in self.nets.items():
            net.load_state_dict(tree[role])
        for role, net in self.ema.items():
            net.load_state_dict(tree[f"{role}_ema"])
        for name, opt in self.opts.items():
            load_optimizer(opt, tree[f"opt_{name}"])
        self.algorithm.load_state_dict(algo["state"])
        self.sampler.load_state_dict(tree["sampler"])
        if self.scalers and all(f"scaler_{name}" in tree for name in self.scalers):
            for name, sc in self.scalers.items():
                sc.load_state_dict(tree[f"scaler_{name}"])
        self.step = int(tree["step"])
        torch.set_rng_state(tree["rng"]["torch"])
        if tree["rng"]["cuda"] and self.device.type == "cuda":
            torch.cuda.set_rng_state_all(list(tree["rng"]["cuda"]))

    def extra_nets(self) -> dict[str, nn.Module]:
        """The roles an export carries besides G_ema (their EMA copy where they have one, as CycleGAN's F; unwrapped
        from the custom-network adapter)."""
        nets = {role: self.ema.get(role, self.nets[role]) for role in self.algorithm.export_roles}  # EMA copies first
        return {role: net.net if self.custom else net for role, net in nets.items()}

    def generator(self) -> "Generator":
        """The EMA generator of this state, ready to sample()."""
        from ..sample import Generator

        return Generator(self.G_ema, self.cfg.model.z_dim, self.num_classes, self.source.info(),
                         self.cfg.to_dict(), self.step, prior=self.prior, nets=self.extra_nets())

    def export(self) -> dict[str, Any]:
        """What an exported generator holds: G_ema's weights, the prior, config and data description
        (and the algorithm's export_roles, e.g. InfoGAN's D with its Q head)."""
        G_ema = self.G_ema.net if self.custom else self.G_ema
        return {"G": G_ema.state_dict(), "config": self.cfg.to_dict(), "data": self.source.info(),
                "z_dim": self.cfg.model.z_dim, "num_classes": self.num_classes, "step": self.step,
                "custom": self.custom, "algorithm": self.cfg.model.algorithm, "prior": self.prior.describe(),
                "nets": {role: net.state_dict() for role, net in self.extra_nets().items()}}


def resolve_classes(cfg: Config, source: Source) -> int:
    """model.num_classes resolved against the data (-1 = as many as the data has)."""
    n = cfg.model.num_classes
    if n == -1:  # paired data's labels are for evaluation only (translation is unconditional)
        return 0 if getattr(source, "paired", False) else source.num_classes
    if n > 0 and source.num_classes == 0:
        raise ConfigError(f"model.num_classes={n} asks for a conditional model but dataset "
                          f"'{source.name}' has no labels; set model.num_classes=0")
    if n > 0 and n < source.num_classes:
        raise ConfigError(f"model.num_classes={n} but dataset '{source.name}' has {source.num_classes} "
                          f"classes; set model.num_classes=-1 to take it from the data")
    return n


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
    """Seed, load data, build (or adapt) the algorithm's networks and optimisers; check shapes on a probe batch."""
    torch.manual_seed(cfg.train.seed)
    d = distributed.from_env()
    distributed.check_batch(d, cfg.data.batch_size)
    m = cfg.model
    if d.enabled and (m.d_pack > 1 or m.d_mbstd):  # D sees each process's share of the batch
        seen = cfg.data.batch_size // d.world
        if seen % m.d_pack or (m.d_mbstd and (seen // m.d_pack) % min(m.d_mbstd, seen // m.d_pack)):
            raise ConfigError(f"data.batch_size={cfg.data.batch_size} over {d.world} processes gives each process's D "
                              f"{seen} samples, which do not divide into packs of model.d_pack={m.d_pack} and then "
                              f"groups of model.d_mbstd={m.d_mbstd}; use a batch of {d.world} x a multiple of both")
    if d.enabled and cfg.train.eval_every and cfg.train.eval_n < d.world:
        raise ConfigError(f"train.eval_n={cfg.train.eval_n} is split over {d.world} processes for evaluation; "
                          f"use at least {d.world}")
    if d.enabled and cfg.train.on_nonfinite == "rollback":
        raise ConfigError("train.on_nonfinite=rollback is not available under torchrun; use stop and --resume")
    device = distributed.setup(d, resolve_device(cfg.train.device))
    if source is None and cfg.data.name_b:  # two unpaired domains (cyclegan)
        from ..data.unpaired import load_domains
        source = load_domains(cfg.data)
    source = source if source is not None else load_source(cfg.data.name, cfg.data)
    num_classes = resolve_classes(cfg, source)
    algorithm = ALGORITHMS.get(cfg.model.algorithm)(cfg, num_classes, device)
    algorithm.bind(source)
    prior = algorithm.prior()
    if cfg.model.g:
        if G is not None or D is not None:
            raise ConfigError("pass G and D, or set model.g and model.d, not both")
        G, D = user_networks(cfg, source, num_classes)
    custom = G is not None or D is not None
    if custom:
        if G is None or D is None:
            raise ConfigError("pass both G and D (or neither, to use model.arch)")
        for key in ("g_spectral_norm", "d_spectral_norm"):
            if getattr(cfg.model, key):
                raise ConfigError(f"config key 'model.{key}': your own networks are used as passed; apply "
                                  f"torch.nn.utils.parametrizations.spectral_norm to their layers yourself (or "
                                  f"train model.arch's networks)")
        if cfg.model.d_pack > 1:
            raise ConfigError(f"config key 'model.d_pack' = {cfg.model.d_pack}: your own D is used as passed; make it "
                              f"take packs itself (ganforge.nets.build.PackedDiscriminator wraps a D built for "
                              f"d_pack x the channels), or train model.arch's networks")
        if cfg.model.d_mbstd:
            raise ConfigError(f"config key 'model.d_mbstd' = {cfg.model.d_mbstd}: your own D is used as passed; add "
                              f"ganforge.nets.layers.MinibatchStd({cfg.model.d_mbstd}) before its last layer yourself "
                              f"(it appends one channel), or train model.arch's networks")
        nets = algorithm.adapt(G, D, d_output)
        fit_interface(cfg, nets, prior, source)
    else:
        check_parameter_memory(algorithm, source, prior, device)
        nets = algorithm.networks(tuple(source.shape), source.kind, prior)
    nets = {role: net.to(device) for role, net in nets.items()}
    check_memory(cfg, source, check_shapes(nets, algorithm, prior, source, num_classes, device), d.world, device)
    if cfg.train.sync_batchnorm and d.enabled:
        if device.type != "cuda":
            raise ConfigError("train.sync_batchnorm needs CUDA devices (NCCL); on CPU keep it false")
        nets = {role: nn.SyncBatchNorm.convert_sync_batchnorm(m) for role, m in nets.items()}
    ema = {role: copy.deepcopy(nets[role]).eval().requires_grad_(False) for role in algorithm.ema_roles}
    if channels_last(cfg, custom):  # the EMA copies too: their lerp runs fastest in the same layout
        nets = {role: m.to(memory_format=torch.channels_last) for role, m in nets.items()}
        ema = {role: m.to(memory_format=torch.channels_last) for role, m in ema.items()}
    train_nets = {role: distributed.wrap(m, d, device) for role, m in nets.items()}
    if cfg.train.compile:
        train_nets = {role: torch.compile(m) for role, m in train_nets.items()}
    specs = algorithm.optimizers()
    scalers = {name: torch.amp.GradScaler(device.type) for name in specs} if cfg.train.precision == "fp16" else {}
    sampler = source.sampler(cfg.data.batch_size, cfg.train.seed)
    opts = {name: make_optimizer(cfg, [p for role in spec.roles for p in nets[role].parameters()], spec.lr)
            for name, spec in specs.items()}
    check = cfg.train.finite_check
    fused = all(opt.defaults.get("fused") for opt in opts.values())
    if check == "device" and not fused:
        raise ConfigError(f"train.finite_check=device needs fused Adam kernels (CPU or CUDA), not available "
                          f"for {device.type}; use train.finite_check=step")
    on_device = (check == "device" or (check == "auto" and device.type == "cuda")) and fused and \
        cfg.train.precision != "fp16"
    if device.type == "cuda":  # a dataset up to a quarter of the GPU's memory lives there
        sampler.keep_on(device, torch.cuda.get_device_properties(device).total_memory // 4)
    st = TrainState(cfg, source, algorithm, prior, nets, ema, opts,
                    {name: spec.roles for name, spec in specs.items()},
                    {name: spec.label for name, spec in specs.items()}, sampler, device, num_classes, custom,
                    dist=d, train_nets=train_nets, scalers=scalers,
                    nonfinite=torch.zeros(2, dtype=torch.long, device=device) if on_device else None)
    if cfg.train.eval_every:
        from .evaluation import check_evaluation
        check_evaluation(st)
    return st



def user_networks(cfg: Config, source: Source, num_classes: int) -> tuple[Any, Any]:
    """G and D from the factories of model.g and model.d (each seeded: train.seed, train.seed + 1)."""
    from ..nets.user import call_factory

    context = {"z_dim": cfg.model.z_dim, "shape": tuple(source.shape), "num_classes": num_classes}
    return (call_factory(cfg.model.g, "model.g", cfg.train.seed, **context),
            call_factory(cfg.model.d, "model.d", cfg.train.seed + 1, **context))


@torch.no_grad()
def fit_interface(cfg: Config, nets: dict[str, nn.Module], prior: Any, source: Source) -> None:
    """Your own networks: the noise shape G takes (model.z_shape, or detected) and the image layout it
    works in (model.layout, or detected from G's output on a probe: [H, W, C] is NHWC, [H, W] is NHW),
    set on every adapter and written into cfg.model, so checkpoints and exports record them."""
    import math

    from ..nets.adapt import noise_shape

    m, G = cfg.model, nets["G"]
    z_shape = tuple(m.z_shape) or noise_shape(G.net, prior.dim)
    if z_shape and math.prod(z_shape) != prior.dim:
        raise ConfigError(f"config key 'model.z_shape' = {list(z_shape)} holds {math.prod(z_shape)} values but the "
                          f"noise has {prior.dim} (model.z_dim{' plus the latent codes' if prior.q_dim else ''}); "
                          f"give a shape whose product is {prior.dim}")
    G.z_shape = z_shape
    layout = m.layout
    if layout == "auto":
        layout = "nchw"
        if source.kind == "images" and len(source.shape) == 3:
            c, h, w = source.shape
            was = G.training
            G.eval()
            device = next(iter(G.parameters()), torch.zeros(0)).device
            z = prior.draw(2, generator=torch.Generator().manual_seed(0)).z.to(device)
            y = torch.zeros(2, dtype=torch.long, device=device) if G.takes_label else None
            try:
                shape = tuple(G(z, y).shape[1:])
            except Exception:  # noqa: BLE001  (check_shapes reports a generator that fails, with its shapes)
                shape = ()
            finally:
                G.train(was)
            if shape == (h, w, c) and (h, w, c) != (c, h, w):
                layout = "nhwc"
            elif shape == (h, w) and c == 1:
                layout = "nhw"
    for net in nets.values():
        net.layout = layout
    m.z_shape, m.layout = list(z_shape or ()), layout


def channels_last(cfg: Config, custom: bool) -> bool:
    """train.channels_last applies to ganforge's own networks; custom modules keep the layout they have
    (a .view() in user code can fail on channels-last tensors)."""
    return cfg.train.channels_last and not custom


@torch.no_grad()
def check_shapes(nets: dict[str, nn.Module], algorithm: Algorithm, prior: Any, source: Source, num_classes: int,
                 device: torch.device) -> tuple[int, int]:
    """Run G and D on 2 probe samples (eval mode, private RNG) so shape errors surface before training.
    Returns the activation elements per sample of G's and of D's forward pass (for the memory check)."""
    if algorithm.translates:
        return algorithm.check_shapes(nets, source, device)
    G = nets["G"]  # no discriminator (vae): its other network is run on G's output (the encoder)
    D = nets["D"] if "D" in nets else nets[next(role for role in nets if role != "G")]
    n = 2 * algorithm.cfg.model.d_pack  # whole packs for a PacGAN D (model.d_pack)
    g = torch.Generator().manual_seed(0)
    z = prior.draw(n, generator=g).z.to(device)
    y = torch.zeros(n, dtype=torch.long, device=device) if num_classes > 0 else None
    modes = (G.training, D.training)
    G.eval(), D.eval()
    try:
        try:
            with OutputCounter(G) as g_count:
                fake = G(z, y)
        except Exception as e:
            raise ConfigError(f"the generator failed on a batch of noise of shape [{n}, {prior.dim}] "
                              f"(model.z_dim / z_dim): {type(e).__name__}: {e}") from None
        if tuple(fake.shape[1:]) != tuple(source.shape):
            raise DataError(f"the generator makes samples of shape {list(fake.shape[1:])} but the data "
                            f"'{source.name}' has shape {list(source.shape)}")
        try:
            with OutputCounter(D) as d_count:
                out = D(fake, y)
        except Exception as e:
            raise ConfigError(f"the discriminator failed on samples of shape {list(fake.shape)}: "
                              f"{type(e).__name__}: {e}") from None
        if "D" in nets:
            algorithm.check_output(out, fake)
    finally:
        G.train(modes[0]), D.train(modes[1])
    check_extra = getattr(algorithm, "check_extra", None)
    if check_extra is not None:
        check_extra(nets, source, device)
    return g_count.elements // n, d_count.elements // n


def check_parameter_memory(algorithm: Algorithm, source: Source, prior: Any, device: torch.device) -> None:
    """The networks' sizes (model.width, model.g_hidden, ...) against the free memory, before they are
    built: the algorithm builds them once on the meta device (shapes only, no memory, no RNG), and
    each parameter needs at least its value, its gradient and one optimiser moment (12 bytes)."""
    try:
        with torch.device("meta"):
            meta = algorithm.networks(tuple(source.shape), source.kind, prior)
    except Exception:  # noqa: BLE001  (a network that cannot be built on meta: the real build reports)
        return
    count = sum(p.numel() for net in meta.values() for p in net.parameters())
    require(12 * count, f"a model of {count:,} parameters (model.width / model.g_hidden / model.d_hidden)",
            device, "make the networks smaller")


def native_bf16(device: torch.device) -> bool:
    """Whether the device computes bfloat16 natively: a CUDA GPU that supports it, a CPU with AVX-512 BF16 or
    AMX tiles (elsewhere autocast emulates bf16 and is slower than fp32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        cpu = torch.cpu
        return any(getattr(cpu, probe, lambda: False)() for probe in ("_is_avx512_bf16_supported",
                                                                       "_is_amx_tile_supported"))
    return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """train.precision as it runs on device: auto -> bf16 where native_bf16, else fp32; others unchanged."""
    if precision != "auto":
        return precision
    return "bf16" if native_bf16(device) else "fp32"


def check_memory(cfg: Config, source: Source, per_sample: tuple[int, int], world: int, device: torch.device) -> None:
    """data.batch_size against the device's free memory: a lower bound of one step's need (the
    activations G's forward and D's forward on the real and the fake batch keep for backward, and the
    batch itself), from the probe pass's shapes."""
    import math

    batch = max(cfg.data.batch_size // max(world, 1), 1)
    element = 2 if resolve_precision(cfg.train.precision, device) in ("bf16", "fp16") else 4
    g_act, d_act = per_sample
    need = batch * (element * (g_act + 2 * d_act) + 4 * math.prod(source.shape))
    require(need, f"data.batch_size={cfg.data.batch_size}" + (f" ({batch} per process)" if world > 1 else ""),
            device, "lower data.batch_size")
