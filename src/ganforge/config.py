"""Typed run configuration: dataclasses with documented defaults, strict loading and --set overrides."""
from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .registry import suggest

PRESET_DIR = Path(__file__).parent / "configs"
DEFAULT_PRESET = "mnist-cgan-w64-demo"


@dataclass
class DataConfig:
    name: str = "ring8"
    """Dataset registry name (`ganforge list` shows them)."""
    batch_size: int = 256
    """Global batch size: real samples per discriminator step."""
    resolution: int = 64
    """Image size for folder:PATH data (shorter side resized with PIL bicubic, then centre-cropped)."""
    channels: int = 0
    """Channels for folder:PATH data: 0 = 1 if every image is grayscale else 3; or 1 | 3."""
    on_error: str = "auto"
    """Bad files: skip (count and names printed) | fail (an error naming them) | auto: skip undecodable files of
    folder:PATH data; stop on pairs: data whose files lack a partner or cannot be decoded."""
    flip: bool = False
    """Random horizontal flip of image batches."""
    name_b: str = ""
    """Domain B of unpaired translation (model.algorithm=cyclegan): any image dataset name; data.name is domain A."""
    pair_resize: bool = False
    """pairs: data: resize both images of a pair to data.resolution (shorter side, centre crop) instead of refusing pairs of different sizes."""


@dataclass
class ModelConfig:
    algorithm: str = "gan"
    """Algorithm registry name: gan (one G, one D, loss.name) | began | infogan (`ganforge list algorithms`)."""
    arch: str = "mlp"
    """Network family registry name."""
    z_dim: int = 64
    """Dimension of the noise vector z."""
    g_hidden: list[int] = field(default_factory=lambda: [256, 256])
    """Widths of the generator's hidden layers (depth = length)."""
    d_hidden: list[int] = field(default_factory=lambda: [256, 256])
    """Widths of the discriminator's hidden layers."""
    g_act: str = "relu"
    """Generator hidden activation: relu | leaky_relu | tanh | elu."""
    d_act: str = "leaky_relu"
    """Discriminator hidden activation (LeakyReLU slope 0.2)."""
    g_batchnorm: bool = False
    """BatchNorm after each generator hidden layer."""
    d_batchnorm: bool = False
    """BatchNorm after each discriminator hidden layer except the first."""
    d_dropout: float = 0.0
    """Dropout probability after each discriminator hidden layer."""
    g_out: str = "auto"
    """Generator output activation: auto (tanh for images, linear for points) | tanh | linear."""
    num_classes: int = -1
    """-1: take from the data; 0: unconditional; >0: conditional on that many classes."""
    embed_dim: int = 16
    """Size of the class-label embedding concatenated to the inputs of conditional nets."""
    width: int = 64
    """Base channel count of convolutional nets (dcgan): D's first layer; doubles per downsampling."""
    g_width: int = 0
    """dcgan: base channel count of G alone (its last hidden map; doubles inwards); 0 = model.width. More
    capacity in G without widening D."""
    d_cond: str = "concat"
    """How a conditional conv D sees labels: concat (extra input channels) | projection (Miyato & Koyama)."""
    d_label_maps: str = "built"
    """dcgan D with model.d_cond=concat: built (the label embedding broadcast to constant maps and concatenated
    to the image, as the classic cGAN does) | implicit (the same first conv, up to rounding, computed from the
    image channels and the embedding without building the maps: about 0.8x the step of the width-64
    conditional MNIST nets on a 2-core CPU)."""
    g_extra_convs: int = 0
    """dcgan: 3x3 stride-1 conv layers (+ norm, ReLU) added at each of G's feature-map resolutions below the
    output (after the projection and after each upsampling but the last): depth at the same widths; 0 = DCGAN's."""
    d_extra_convs: int = 0
    """dcgan: 3x3 stride-1 conv layers (+ norm, LeakyReLU) added after each of D's downsampling convs; 0 = DCGAN's."""
    g: str = ""
    """Your own generator: FILE.py:FACTORY, a function that returns a torch or Keras 3 model (called with
    those of z_dim, shape, num_classes it names); set with model.d. '' = model.arch's networks."""
    d: str = ""
    """Your own discriminator: FILE.py:FACTORY (see model.g)."""
    z_shape: list[int] = field(default_factory=list)
    """Shape of one noise input as your own G takes it; [] = [z_dim], or [z_dim, 1, 1] when G's first layer is
    a ConvTranspose2d/Conv2d (detected; written here once resolved)."""
    layout: str = "auto"
    """Image layout of your own networks: auto (from G's output shape) | nchw | nhwc (Keras) | nhw."""
    g_dropout: float = 0.0
    """Dropout in the unet generator's bottleneck and first three decoder levels (its noise; pix2pix: 0.5)."""
    unet_depth: int = 0
    """Down-sampling levels of the unet generator; 0 = as many as the image halves evenly (side >= 2, at most 8)."""
    patch: int = 34
    """Receptive field in pixels of the PatchGAN discriminator (unet and resnet families): 16 | 34 | 70 (the paper's) | 142 | 286."""
    res_blocks: int = 6
    """Residual blocks of the resnet generator (CycleGAN: 6 at 128x128, 9 at 256x256)."""
    d_spectral_norm: bool = False
    """Spectral normalisation (Miyato et al. 2018) of every weight of ganforge's own discriminators (conv, linear,
    label projection): each layer's largest singular value held at 1 by one power iteration per forward pass."""
    g_spectral_norm: bool = False
    """The same for the generator (as SAGAN and BigGAN do; its EMA copy keeps the normalised weights)."""
    d_pack: int = 1
    """PacGAN packing (Lin et al. 2018): D judges d_pack samples at once, stacked on its input's channels (images)
    or features (points), real packs against generated packs, which penalises a G that repeats itself; 1: off.
    data.batch_size (per process) must divide by it; unconditional model.algorithm=gan with model.arch's D only."""
    g_upsample: str = "transpose"
    """dcgan G: how each block doubles the resolution: transpose (DCGAN's 4x4 stride-2 transposed conv) | nearest
    (nearest-neighbour upsampling, then a 3x3 conv: the resize-convolution of Odena et al. 2016, which avoids the
    checkerboard patterns transposed convs are prone to; about 2.25x the multiply-accumulates of those layers)."""
    d_mbstd: int = 0
    """dcgan D: minibatch standard deviation (Karras et al. 2018, ProGAN): one channel appended to D's last feature
    maps holding the spread of the features over each group of this many samples of the batch D sees; 0: off.
    The batch D sees (data.batch_size, over model.d_pack) must divide by it."""


@dataclass
class LossConfig:
    name: str = "ns"
    """Objective registry name: bce | ns | lsgan | wgan | wgan-gp | hinge."""
    penalty: str = "default"
    """Penalty registry name, or 'default' for the objective's own (wgan: clip, wgan-gp: gp)."""
    gp_weight: float = 10.0
    """Weight of the gradient penalty (gp) or R1 penalty (r1)."""
    clip: float = 0.01
    """Weight-clipping bound for the clip penalty (WGAN)."""
    n_critic: int = 1
    """Discriminator steps per generator step."""
    topk: float = 1.0
    """Top-k training (Sinha et al. 2020): G's update uses only this fraction of each generated batch, the samples
    D scores as most real (1 = all); the fraction starts at 1 and falls by loss.topk_decay per 1,000 steps to it."""
    topk_decay: float = 0.9
    """Factor per 1,000 generator steps by which the kept fraction falls from 1 towards loss.topk."""
    penalty_every: int = 1
    """Lazy regularisation (Karras et al. 2020, StyleGAN2): the penalty's term only every this many generator steps
    (on the first critic step), weighted by this number so its average strength is kept; 1 = every step."""
    schedule: str = "alternating"
    """Update schedule of model.algorithm=gan: alternating (D's update, then G's through the updated D) |
    simultaneous (both players' gradients from one forward pass of G and D, then both steps)."""
    d_pass: str = "separate"
    """How model.algorithm=gan's D sees a step's real and generated batches: separate (two forward passes, each
    batch alone, as DCGAN trains: D's batch norm normalises each batch by its own statistics) | joint (one pass
    over both batches concatenated, so D's batch norm statistics mix real and generated samples and a difference
    between them in a channel's mean survives the normalisation)."""


@dataclass
class OptimConfig:
    name: str = "adam"
    """adam | rmsprop."""
    lr_g: float = 2e-4
    """Generator learning rate."""
    lr_d: float = 2e-4
    """Discriminator learning rate."""
    beta1: float = 0.5
    """Adam beta1."""
    beta2: float = 0.999
    """Adam beta2."""
    lr_schedule: str = "constant"
    """Learning rates over the run (every optimiser): constant | linear (to 0 at the schedule's end) | cosine (half
    a cosine to 0 there); the schedule lasts optim.schedule_steps (0: train.steps), its decay starts at
    optim.decay_from x its length; after its end the rates stay 0. CycleGAN has its own (cyclegan.decay_from)."""
    decay_from: float = 0.0
    """Fraction of the schedule's length after which optim.lr_schedule starts decaying (0: from the first step)."""
    schedule_steps: int = 0
    """Length of optim.lr_schedule in steps; 0 = train.steps (set it when a run will be resumed to more steps, so
    that the schedule does not change under it)."""


@dataclass
class TrainConfig:
    steps: int = 2000
    """Total generator steps of the run (also the target when resuming)."""
    seed: int = 0
    """Seed for weights, noise and data order."""
    log_every: int = 100
    """Write a line to log.jsonl every this many steps."""
    sample_every: int = 500
    """Save a sample picture from fixed noise every this many steps."""
    ckpt_every: int = 500
    """Save a full training checkpoint every this many steps."""
    keep_ckpts: int = 3
    """How many of the newest checkpoints to keep."""
    ema: float = 0.999
    """Decay of the exponential moving average of G (0 disables averaging)."""
    average_ckpts: int = 0
    """Export the mean of G_ema over the newest this many checkpoints (checkpoint averaging: an average over a
    longer stretch of the late, decayed schedule than the EMA's own); 0 or 1: export G_ema as it is. Needs
    train.keep_ckpts >= this. Only the export (what generate, evaluate and export read) changes: G_ema, the
    checkpoints and the pictures drawn during training are as without it."""
    ema_start: int = 0
    """Steps before the average starts: until then the EMA copy equals the network (the early, fast-moving
    weights are left out of the average); after, decay min(train.ema, (1 + s) / (10 + s)), s = steps since."""
    augment: str = ""
    """Differentiable augmentation of every batch D sees in training (DiffAugment, Zhao et al. 2020), comma-separated
    from `ganforge list augmentations`: translation, cutout, colour; '' = none. model.algorithm=gan; needs kornia."""
    device: str = "auto"
    """auto (cuda when present, else cpu) | cpu | cuda | cuda:N."""
    progress: bool = True
    """Show a progress bar on stderr."""
    tensorboard: bool = False
    """Also write TensorBoard scalars and sample images to RUN/tensorboard (needs the tensorboard extra)."""
    precision: str = "fp32"
    """fp32 | bf16 (autocast, CPU and GPU) | fp16 (autocast with one gradient scaler per optimiser; GPU) | auto (bf16 where the device computes it natively: a CUDA GPU that supports it, a CPU with AVX-512 BF16 or AMX; else fp32)."""
    reuse_fake: bool = True
    """With loss.n_critic=1 the generator update reuses the discriminator step's fake batch and labels (one G forward per step, as the PyTorch DCGAN tutorial does); false draws fresh noise for it."""
    compile: bool = False
    """torch.compile the forward passes of G and D (gradient penalties stay outside compiled code)."""
    channels_last: bool = True
    """ganforge's own networks and image batches in channels-last memory layout (oneDNN on CPU and tensor cores on GPU are faster with it); custom modules are left as passed."""
    sync_batchnorm: bool = False
    """Under torchrun on GPUs: batch-norm statistics over the global batch (SyncBatchNorm) instead of each shard."""
    finite_check: str = "auto"
    """How losses and gradients are checked before each update: step (one host sync per update; a NaN stops the run at its step), device (no sync: the fused optimiser skips a non-finite update on the device, and the run stops at the next log line, picture, checkpoint or evaluation, naming the first bad step; needs Adam and not fp16), auto (device on CUDA, step elsewhere)."""
    on_nonfinite: str = "stop"
    """A NaN/Inf loss or gradient (caught before the update): stop, or rollback to the newest checkpoint with lower learning rates."""
    rollback_lr_factor: float = 0.5
    """With on_nonfinite=rollback: multiply both learning rates by this at each rollback."""
    max_rollbacks: int = 3
    """With on_nonfinite=rollback: stop after this many rollbacks in one process."""
    eval_every: int = 0
    """Evaluate G_ema every this many steps (and at the end) into RUN/metrics.jsonl; 0: never."""
    eval_metrics: str = "fid"
    """Comma-separated metrics evaluated during training (`ganforge list metrics`)."""
    eval_n: int = 2000
    """Generated and reference samples per evaluation during training."""
    eval_features: str = "auto"
    """Extractor during training: auto (identity for points, mnist for 1-channel images, else inception) | inception | mnist | identity."""
    eval_best: str = ""
    """Value that picks RUN/best.safetensors (fid, kid, precision, recall, density, coverage, is, modes, kl, ...); empty: the first metric's main value."""


@dataclass
class BEGANConfig:
    gamma: float = 0.5
    """BEGAN's diversity ratio: the equilibrium E[L(G(z))] = gamma E[L(x)] the k_t controller aims at."""
    lambda_k: float = 0.001
    """Learning rate of the equilibrium term k_t (Berthelot et al. 2017: 0.001)."""
    k0: float = 0.0
    """Initial k_t (clipped to [0, 1] after each update)."""


@dataclass
class InfoGANConfig:
    categorical: int = 10
    """Values of the categorical latent code (0: none)."""
    continuous: int = 2
    """Number of continuous latent codes, each uniform on [-1, 1]."""
    lambda_info: float = 1.0
    """Weight of the mutual-information term trained into G and Q (Chen et al. 2016: 1)."""


@dataclass
class Pix2PixConfig:
    l1_weight: float = 100.0
    """Weight lambda of the L1 term beside the adversarial one (Isola et al. 2017: 100)."""


@dataclass
class VAEConfig:
    kl_weight: float = 1.0
    """Weight beta of the KL term KL(q(z|x) || N(0, I)) in the encoder's loss (the ELBO's 1); vae reads it too."""
    gamma: float = 1.0
    """VAE-GAN (Larsen et al. 2016): weight of the decoder's feature-wise reconstruction term against fooling D."""
    feature_layer: int = 0
    """VAE-GAN: D's layer whose activations measure reconstruction: the k-th LeakyReLU of D's trunk (1-based);
    0 = the trunk's output (the features under D's logit)."""
    margin: float = 0.0
    """VAE-GAN's balance of D and G (Larsen et al.'s released code): with margin m > 0, D skips its update on a
    step where its real or fake cross-entropy is below equilibrium - m (it is winning), and G drops its GAN term
    where either is above equilibrium + m (D is losing); both train when both would stop. 0 turns it off."""
    equilibrium: float = 0.68
    """VAE-GAN: the cross-entropy (nats) around which the balance holds D (ln 2 = 0.69 is D at chance)."""


@dataclass
class CycleGANConfig:
    cycle_weight: float = 10.0
    """Weight lambda of the cycle-consistency L1 terms |F(G(a)) - a| and |G(F(b)) - b| (Zhu et al. 2017: 10)."""
    identity_weight: float = 0.5
    """Weight of the identity terms |G(b) - b| and |F(a) - a|, as a fraction of cycle_weight (the paper's 0.5);
    0 when the domains' channel counts differ."""
    fidelity_weight: float = 0.0
    """Weight of the self-regularisation terms |G(a) - a| and |F(b) - b| (SimGAN, Shrivastava et al. 2017): keeps
    each translation close to its input, so content (a digit's label) survives; not in CycleGAN (0); skipped when
    the domains' channel counts differ."""
    pool_size: int = 50
    """Generated images kept per discriminator in the history pool (Shrivastava et al. 2017; the paper's 50)."""
    decay_from: float = 0.5
    """Fraction of the schedule after which both learning rates decay linearly to 0 (the paper: halfway)."""
    schedule_steps: int = 0
    """Length of the learning-rate schedule in steps; 0 = train.steps. Set it when a run will be resumed with a
    larger train.steps, so that the rates of the steps already trained stay what they were."""


@dataclass
class Config:
    name: str = "custom"
    """Name of the preset or run; the default run directory is runs/<name>."""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    began: BEGANConfig = field(default_factory=BEGANConfig)
    infogan: InfoGANConfig = field(default_factory=InfoGANConfig)
    pix2pix: Pix2PixConfig = field(default_factory=Pix2PixConfig)
    cyclegan: CycleGANConfig = field(default_factory=CycleGANConfig)
    vaegan: VAEConfig = field(default_factory=VAEConfig)

    # ---- conversions -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (JSON/YAML-safe)."""
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Config":
        """Build from a (partial) nested dict; unknown keys and wrong types raise ConfigError."""
        cfg = cls()
        merge(cfg, d)
        validate(cfg)
        return cfg


SECTIONS = {k: v for k, v in typing.get_type_hints(Config).items() if k != "name"}


def all_keys(cfg: Config | None = None) -> list[str]:
    """Every dotted key of the config, e.g. 'train.steps'."""
    cfg = cfg or Config()
    keys = ["name"]
    for sec in SECTIONS:
        keys += [f"{sec}.{f.name}" for f in dataclasses.fields(getattr(cfg, sec))]
    return keys


def _unknown(key: str) -> ConfigError:
    return ConfigError(f"unknown config key '{key}'.{suggest(key, all_keys())} "
                       f"Run `ganforge list keys` (or see the README) for all keys.")


def coerce(key: str, value: Any, hint: Any) -> Any:
    """Convert value to the annotated type or raise ConfigError naming the key."""
    def bad() -> ConfigError:
        tname = getattr(hint, "__name__", str(hint)).replace("typing.", "")
        return ConfigError(f"config key '{key}' expects {tname}, got {value!r} ({type(value).__name__})")

    origin = typing.get_origin(hint)
    if origin is list:
        (item,) = typing.get_args(hint)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise bad()
        return [coerce(f"{key}[{i}]", v, item) for i, v in enumerate(value)]
    if origin in (typing.Union, types.UnionType):
        raise bad()
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "on", "off"):
            return value.lower() in ("true", "yes", "on")
        raise bad()
    if hint is int:
        if isinstance(value, bool):
            raise bad()
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                f = float(value)
            except ValueError:
                raise bad() from None
            if f.is_integer():
                return int(f)
        raise bad()
    if hint is float:
        if isinstance(value, bool):
            raise bad()
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise bad() from None
        raise bad()
    if hint is str:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise bad()
        return value
    raise bad()


def _hint_of(key: str) -> Any:
    """The annotated type of a dotted key, or None when there is no such key."""
    parts = key.split(".")
    if parts == ["name"]:
        return str
    if len(parts) != 2 or parts[0] not in SECTIONS:
        return None
    return typing.get_type_hints(SECTIONS[parts[0]]).get(parts[1])


def set_key(cfg: Config, key: str, value: Any) -> None:
    """Set one dotted key (e.g. 'optim.lr_g') with type checking."""
    hint = _hint_of(key)
    if hint is None:
        raise _unknown(key)
    if key == "name":
        cfg.name = coerce(key, value, str)
        return
    sec, field_name = key.split(".")
    setattr(getattr(cfg, sec), field_name, coerce(key, value, hint))


def merge(cfg: Config, d: Any, where: str = "config") -> None:
    """Merge a nested dict into cfg in place."""
    if not isinstance(d, dict):
        raise ConfigError(f"{where} must be a mapping of sections ({', '.join(SECTIONS)}), "
                          f"got {type(d).__name__}")
    for k, v in d.items():
        if k == "name":
            set_key(cfg, "name", v)
        elif k in SECTIONS:
            if v is None:
                continue
            if not isinstance(v, dict):
                raise ConfigError(f"config section '{k}' must be a mapping, got {v!r}")
            for kk, vv in v.items():
                set_key(cfg, f"{k}.{kk}", vv)
        else:
            raise _unknown(str(k))


def parse_override(text: str) -> tuple[str, Any]:
    """Parse 'key=value' (value read as YAML) from --set."""
    if "=" not in text:
        raise ConfigError(f"--set expects key=value (e.g. train.steps=1000), got '{text}'")
    key, raw = text.split("=", 1)
    key = key.strip()
    try:
        value = parse_yaml(raw, f"--set {key}", strict=False) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw  # not YAML: the text itself (a name with a colon, say)
    return key, value


def apply_overrides(cfg: Config, overrides: list[str]) -> list[str]:
    """Apply --set overrides; returns the keys set."""
    keys = []
    for text in overrides:
        key, value = parse_override(text)
        if isinstance(value, (dict, list)) and _hint_of(key) is str:  # data.name=npz: reads as a mapping
            value = text.split("=", 1)[1].strip()
        set_key(cfg, key, value)
        keys.append(key)
    validate(cfg)
    return keys


# ---- validation ------------------------------------------------------------------------------
def is_custom(model: dict[str, Any]) -> bool:
    """Whether a run's config (its model section, as a dict) trained your own networks (fit, train(G=, D=),
    or model.g / model.d factories): its checkpoints hold weights whose code ganforge does not have."""
    return model.get("arch") == "custom" or bool(model.get("g"))


def _check(ok: bool, key: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"config key '{key}' = {value!r} is out of range: {allowed}")


def validate(cfg: Config) -> None:
    """Range-check values and registry names (one clear message per problem)."""
    from . import registries

    d, m, l, o, t = cfg.data, cfg.model, cfg.loss, cfg.optim, cfg.train
    _check(bool(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", cfg.name)), "name", cfg.name,
           "letters, digits, '.', '_' and '-' only (it names the run directory)")
    _check(d.batch_size >= 1, "data.batch_size", d.batch_size, "must be >= 1")
    _check(4 <= d.resolution <= 4096, "data.resolution", d.resolution, "must be in [4, 4096]")
    _check(d.channels in (0, 1, 3), "data.channels", d.channels, "0 (auto) | 1 | 3")
    _check(d.on_error in ("auto", "skip", "fail"), "data.on_error", d.on_error, "auto | skip | fail")
    if m.g_batchnorm or m.d_batchnorm or m.arch == "dcgan":
        _check(d.batch_size >= 2, "data.batch_size", d.batch_size, "must be >= 2 with batch normalisation")
    _check(m.z_dim >= 1, "model.z_dim", m.z_dim, "must be >= 1")
    for key, widths in (("model.g_hidden", m.g_hidden), ("model.d_hidden", m.d_hidden)):
        _check(all(w >= 1 for w in widths), key, widths, "every width must be >= 1")
    _check(0.0 <= m.d_dropout < 1.0, "model.d_dropout", m.d_dropout, "must be in [0, 1)")
    _check(m.num_classes >= -1, "model.num_classes", m.num_classes, "-1 (from data), 0 or a positive count")
    _check(m.embed_dim >= 1, "model.embed_dim", m.embed_dim, "must be >= 1")
    _check(m.d_pack >= 1, "model.d_pack", m.d_pack, "must be >= 1 (samples per discriminator input; 1: no packing)")
    if m.d_pack > 1:
        _check(d.batch_size % m.d_pack == 0, "data.batch_size", d.batch_size,
               f"must divide by model.d_pack={m.d_pack} (D judges packs of that many samples)")
    _check(m.d_mbstd == 0 or m.d_mbstd >= 2, "model.d_mbstd", m.d_mbstd,
           "must be 0 (off) or a group size >= 2 (ProGAN uses 4)")
    if m.d_mbstd:
        _check(m.arch == "dcgan", "model.d_mbstd", m.d_mbstd,
               f"is a layer of ganforge's dcgan discriminator; model.arch={m.arch} has none: leave it 0")
        seen = d.batch_size // m.d_pack  # a batch smaller than a group is one group
        _check(seen % min(m.d_mbstd, seen) == 0, "data.batch_size", d.batch_size,
               f"must divide into groups of model.d_mbstd={m.d_mbstd}"
               + (f" after packing by model.d_pack={m.d_pack}" if m.d_pack > 1 else "")
               + " (a batch smaller than a group is one group; under torchrun the batch of each process)")
        _check(l.d_pass == "separate", "loss.d_pass", l.d_pass,
               f"must be separate with model.d_mbstd={m.d_mbstd}: one joint pass would group real and generated "
               f"samples together, and their spread would tell D nothing")
    _check(m.width >= 1, "model.width", m.width, "must be >= 1")
    _check(m.g_width >= 0, "model.g_width", m.g_width, "must be >= 1, or 0 for model.width")
    _check(m.g_width == 0 or m.arch == "dcgan", "model.g_width", m.g_width,
           f"sets the width of the dcgan generator alone; model.arch={m.arch} has no such width: leave it 0")
    _check(m.g_width == 0 or not m.g, "model.g_width", m.g_width,
           f"sets the width of ganforge's dcgan generator; your own G ({m.g}) has its own: leave it 0")
    _check(m.g_upsample in ("transpose", "nearest"), "model.g_upsample", m.g_upsample, "transpose | nearest")
    _check(m.g_upsample == "transpose" or (m.arch == "dcgan" and not m.g), "model.g_upsample", m.g_upsample,
           f"chooses the upsampling of ganforge's dcgan generator; "
           + (f"your own G ({m.g}) has its own" if m.g else f"model.arch={m.arch} has no such choice")
           + ": leave it 'transpose'")
    _check(o.lr_schedule in ("constant", "linear", "cosine"), "optim.lr_schedule", o.lr_schedule,
           "constant | linear | cosine")
    _check(0.0 <= o.decay_from < 1.0, "optim.decay_from", o.decay_from, "must be in [0, 1)")
    _check(o.schedule_steps >= 0, "optim.schedule_steps", o.schedule_steps, "must be >= 0 (0: train.steps)")
    if o.lr_schedule != "constant" and 0 < o.schedule_steps < t.steps:
        raise ConfigError(f"config key 'optim.schedule_steps': {o.schedule_steps} is shorter than train.steps={t.steps}: "
                          f"with optim.lr_schedule={o.lr_schedule} the learning rates are 0 after step "
                          f"{o.schedule_steps}, so the last {t.steps - o.schedule_steps} steps would learn nothing; "
                          "set optim.schedule_steps=0 (the schedule follows train.steps) or to at least train.steps")
    _check(t.ema_start >= 0, "train.ema_start", t.ema_start, "must be >= 0")
    _check(t.average_ckpts >= 0, "train.average_ckpts", t.average_ckpts, "must be >= 0 (0 or 1: no averaging)")
    if t.average_ckpts > t.keep_ckpts:
        raise ConfigError(f"config key 'train.average_ckpts': {t.average_ckpts} checkpoints cannot be averaged when "
                          f"only train.keep_ckpts={t.keep_ckpts} are kept; set train.keep_ckpts to at least "
                          f"{t.average_ckpts}")
    _check(0.0 < l.topk <= 1.0, "loss.topk", l.topk, "must be in (0, 1]")
    _check(0.0 < l.topk_decay <= 1.0, "loss.topk_decay", l.topk_decay, "must be in (0, 1]")
    _check(l.penalty_every >= 1, "loss.penalty_every", l.penalty_every, "must be >= 1")
    for aug in augment_names(t.augment):
        if aug not in registries.AUGMENTS:
            raise ConfigError(f"config key 'train.augment': {registries.lookup_error(registries.AUGMENTS, aug)}")
    b, i = cfg.began, cfg.infogan
    _check(0.0 < b.gamma <= 1.0, "began.gamma", b.gamma, "must be in (0, 1] (the paper uses 0.3 to 0.7)")
    _check(0.0 <= b.lambda_k <= 1.0, "began.lambda_k", b.lambda_k, "must be in [0, 1] (the paper's 0.001)")
    _check(0.0 <= b.k0 <= 1.0, "began.k0", b.k0, "must be in [0, 1]")
    _check(i.categorical == 0 or i.categorical >= 2, "infogan.categorical", i.categorical, "0 (none) or >= 2 values")
    _check(i.continuous >= 0, "infogan.continuous", i.continuous, "must be >= 0")
    _check(i.categorical + i.continuous >= 1, "infogan.categorical", i.categorical,
           "InfoGAN needs at least one code: a categorical (>= 2 values) or a continuous one")
    _check(i.lambda_info > 0 and math.isfinite(i.lambda_info), "infogan.lambda_info", i.lambda_info, "must be > 0")
    _check(0.0 <= m.g_dropout < 1.0, "model.g_dropout", m.g_dropout, "must be in [0, 1)")
    _check(0 <= m.unet_depth <= 8, "model.unet_depth", m.unet_depth, "0 (auto) or 1..8")
    _check(m.patch in (16, 34, 70, 142, 286), "model.patch", m.patch, "16 | 34 | 70 | 142 | 286 (pixels)")
    _check(0 <= m.g_extra_convs <= 8, "model.g_extra_convs", m.g_extra_convs, "0..8 (layers per resolution)")
    _check(0 <= m.d_extra_convs <= 8, "model.d_extra_convs", m.d_extra_convs, "0..8 (layers per resolution)")
    _check(0 <= m.res_blocks <= 64, "model.res_blocks", m.res_blocks, "0..64 (the paper: 6 or 9)")
    v = cfg.vaegan
    _check(v.kl_weight > 0 and math.isfinite(v.kl_weight), "vaegan.kl_weight", v.kl_weight, "must be > 0")
    _check(v.gamma >= 0 and math.isfinite(v.gamma), "vaegan.gamma", v.gamma, "must be >= 0")
    _check(v.feature_layer >= 0, "vaegan.feature_layer", v.feature_layer, "0 (D's trunk output) or a layer 1, 2, ...")
    _check(0 <= v.margin < 10 and math.isfinite(v.margin), "vaegan.margin", v.margin, "0 (off) or a margin in nats")
    _check(0 < v.equilibrium < 10 and math.isfinite(v.equilibrium), "vaegan.equilibrium", v.equilibrium,
           "a cross-entropy in nats, e.g. 0.68")
    cg = cfg.cyclegan
    _check(cg.cycle_weight >= 0 and math.isfinite(cg.cycle_weight), "cyclegan.cycle_weight", cg.cycle_weight, "must be >= 0")
    _check(cg.identity_weight >= 0 and math.isfinite(cg.identity_weight), "cyclegan.identity_weight",
           cg.identity_weight, "must be >= 0 (a fraction of cyclegan.cycle_weight)")
    _check(cg.fidelity_weight >= 0 and math.isfinite(cg.fidelity_weight), "cyclegan.fidelity_weight",
           cg.fidelity_weight, "must be >= 0 (0: off, as in CycleGAN)")
    _check(0 <= cg.pool_size <= 10000, "cyclegan.pool_size", cg.pool_size, "0 (no pool) .. 10000")
    _check(0.0 <= cg.decay_from <= 1.0, "cyclegan.decay_from", cg.decay_from, "must be in [0, 1] (1: no decay)")
    _check(cg.schedule_steps >= 0, "cyclegan.schedule_steps", cg.schedule_steps, "must be >= 0 (0: train.steps)")
    _check(not d.name_b or m.algorithm == "cyclegan", "data.name_b", d.name_b,
           "a second domain is only for model.algorithm=cyclegan; remove it")
    _check(bool(d.name_b) or m.algorithm != "cyclegan", "data.name_b", d.name_b,
           "model.algorithm=cyclegan needs domain B: set data.name_b (data.name is domain A)")
    _check(cfg.pix2pix.l1_weight >= 0 and math.isfinite(cfg.pix2pix.l1_weight), "pix2pix.l1_weight",
           cfg.pix2pix.l1_weight, "must be >= 0 (the paper's 100)")
    _check(m.d_cond in ("concat", "projection"), "model.d_cond", m.d_cond, "concat | projection")
    _check(m.d_label_maps in ("built", "implicit"), "model.d_label_maps", m.d_label_maps, "built | implicit")
    _check(m.d_label_maps == "built" or (m.arch == "dcgan" and m.d_cond == "concat" and not m.d), "model.d_label_maps",
           m.d_label_maps, f"'implicit' is a way of computing the dcgan discriminator's concatenated label channels "
           f"(model.arch=dcgan, model.d_cond=concat, no model.d); here model.arch={m.arch}, model.d_cond={m.d_cond}"
           f"{', model.d=' + m.d if m.d else ''}: leave it 'built'")
    _check(m.g_out in ("auto", "tanh", "linear"), "model.g_out", m.g_out, "auto | tanh | linear")
    _check(cfg.loss.schedule in ("alternating", "simultaneous"), "loss.schedule", cfg.loss.schedule,
           "alternating | simultaneous")
    _check(cfg.loss.d_pass in ("separate", "joint"), "loss.d_pass", cfg.loss.d_pass, "separate | joint")
    _check(m.layout in ("auto", "nchw", "nhwc", "nhw"), "model.layout", m.layout, "auto | nchw | nhwc | nhw")
    _check(all(isinstance(s, int) and s >= 1 for s in m.z_shape), "model.z_shape", m.z_shape,
           "positive integers, e.g. [100, 1, 1]")
    _check(bool(m.g) == bool(m.d), "model.g" if m.d else "model.d", m.g or m.d,
           "set both model.g and model.d (FILE.py:FACTORY each), or neither")
    for key, spec in (("model.g", m.g), ("model.d", m.d)):
        _check(not spec or (":" in spec and all(spec.rpartition(":")[::2])), key, spec,
               "FILE.py:FACTORY, e.g. models.py:build_generator")
    for key, act in (("model.g_act", m.g_act), ("model.d_act", m.d_act)):
        _check(act in ACTIVATIONS, key, act, " | ".join(ACTIVATIONS))
    _check(l.n_critic >= 1, "loss.n_critic", l.n_critic, "must be >= 1")
    _check(l.gp_weight >= 0 and math.isfinite(l.gp_weight), "loss.gp_weight", l.gp_weight, "must be >= 0")
    _check(l.clip > 0 and math.isfinite(l.clip), "loss.clip", l.clip, "must be > 0")
    _check(o.name in ("adam", "rmsprop"), "optim.name", o.name, "adam | rmsprop")
    for key, lr in (("optim.lr_g", o.lr_g), ("optim.lr_d", o.lr_d)):
        _check(0 < lr <= 1, key, lr, "must be in (0, 1] (a positive learning rate; Adam's usual is 2e-4)")
    for key, b in (("optim.beta1", o.beta1), ("optim.beta2", o.beta2)):
        _check(0.0 <= b < 1.0, key, b, "must be in [0, 1)")
    _check(t.steps >= 1, "train.steps", t.steps, "must be >= 1")
    for key in ("log_every", "sample_every", "ckpt_every", "keep_ckpts"):
        _check(getattr(t, key) >= 1, f"train.{key}", getattr(t, key), "must be >= 1")
    _check(0.0 <= t.ema < 1.0, "train.ema", t.ema, "must be in [0, 1) (0 disables the average)")
    _check(0 <= t.seed < 2**32, "train.seed", t.seed, "must be in [0, 2^32)")
    _check(bool(re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", t.device)), "train.device", t.device,
           "auto | cpu | cuda | cuda:N | mps")
    _check(t.precision in ("fp32", "bf16", "fp16", "auto"), "train.precision", t.precision, "fp32 | bf16 | fp16 | auto")
    effective_penalty = l.penalty
    if l.penalty == "default" and l.name in registries.OBJECTIVES:
        effective_penalty = registries.OBJECTIVES.get(l.name).default_penalty
    if t.precision == "fp16" and effective_penalty in registries.PENALTIES \
            and registries.PENALTIES.get(effective_penalty).term is not None:
        raise ConfigError("config key 'train.precision': fp16 with a gradient penalty (loss.penalty=gp/r1/r1r2) is not "
                          "supported (the penalty's double backward would need its own loss scaling); use bf16")
    _check(t.on_nonfinite in ("stop", "rollback"), "train.on_nonfinite", t.on_nonfinite, "stop | rollback")
    _check(t.finite_check in ("auto", "step", "device"), "train.finite_check", t.finite_check, "auto | step | device")
    if t.finite_check == "device" and (cfg.optim.name != "adam" or t.precision == "fp16"):
        raise ConfigError("config key 'train.finite_check': device needs optim.name=adam (its fused kernel skips "
                          "the update) and not train.precision=fp16 (whose gradient scaler checks instead); "
                          "use step or auto")
    _check(0.0 < t.rollback_lr_factor < 1.0, "train.rollback_lr_factor", t.rollback_lr_factor, "must be in (0, 1)")
    _check(t.max_rollbacks >= 0, "train.max_rollbacks", t.max_rollbacks, "must be >= 0")
    _check(t.eval_every >= 0, "train.eval_every", t.eval_every, "must be >= 0 (0: no evaluation during training)")
    _check(t.eval_n >= 2, "train.eval_n", t.eval_n, "must be >= 2")
    eval_metrics = [x.strip() for x in t.eval_metrics.split(",") if x.strip()]
    _check(bool(eval_metrics), "train.eval_metrics", t.eval_metrics, "comma-separated metric names, e.g. fid,kid")
    for name in eval_metrics:
        if name not in registries.METRICS:
            raise ConfigError(f"config key 'train.eval_metrics': {registries.lookup_error(registries.METRICS, name)}")
        needs = registries.METRICS.get(name).params.get("algorithm")
        if needs and needs != cfg.model.algorithm:
            raise ConfigError(f"config key 'train.eval_metrics': metric '{name}' measures model.algorithm={needs} "
                              f"models, and this run uses model.algorithm={cfg.model.algorithm}")
    if t.eval_features != "auto" and t.eval_features not in registries.FEATURES:
        raise ConfigError(f"config key 'train.eval_features': "
                          f"{registries.lookup_error(registries.FEATURES, t.eval_features)} (or auto)")
    if t.eval_best:
        produced = [v for name in eval_metrics for v in registries.METRICS.get(name).values]
        _check(t.eval_best in produced, "train.eval_best", t.eval_best,
               f"must be a value of train.eval_metrics: {' | '.join(produced)}")
    from .data.source import canonical_name, parse_name

    d.name = canonical_name(d.name)  # mnist:test -> mnist@test (the split is honoured, and recorded as such)
    kind, arg = parse_name(d.name)
    if kind in PATH_DATASETS and not arg.partition("@")[0]:
        raise ConfigError(f"config key 'data.name': '{d.name}' needs a path: {kind}:PATH")
    d.name_b = canonical_name(d.name_b) if d.name_b else ""
    if d.name_b and parse_name(d.name_b)[0] not in registries.DATASETS:
        raise ConfigError(f"config key 'data.name_b': {registries.lookup_error(registries.DATASETS, parse_name(d.name_b)[0])}")
    for key, reg, name in (("data.name", registries.DATASETS, parse_name(d.name)[0]),
                           ("model.arch", registries.NETWORKS, m.arch),
                           ("loss.name", registries.OBJECTIVES, l.name)):
        if name not in reg and not (key == "model.arch" and name == "custom") \
                and not (key == "data.name" and name in IN_MEMORY_SOURCES):
            raise ConfigError(f"config key '{key}': {registries.lookup_error(reg, name)}")
    if l.penalty != "default" and l.penalty not in registries.PENALTIES:
        raise ConfigError(f"config key 'loss.penalty': {registries.lookup_error(registries.PENALTIES, l.penalty)}")
    validate_algorithm(cfg)


def validate_algorithm(cfg: Config) -> None:
    """model.algorithm exists; the options of other algorithms keep their defaults; the algorithm
    accepts the rest (its own check_config: e.g. BEGAN has its own objective, so no loss.name)."""
    from . import registries

    name = cfg.model.algorithm
    if name not in registries.ALGORITHMS:
        raise ConfigError(f"config key 'model.algorithm': {registries.lookup_error(registries.ALGORITHMS, name)}")
    defaults = Config()
    for sec in SECTIONS:
        if sec in registries.ALGORITHMS and sec != name and (sec, name) not in SHARED_OPTIONS:
            for f in dataclasses.fields(getattr(cfg, sec)):
                value = getattr(getattr(cfg, sec), f.name)
                if value != getattr(getattr(defaults, sec), f.name):
                    raise ConfigError(f"config key '{sec}.{f.name}' = {value!r} is an option of model.algorithm={sec}, "
                                      f"but this run uses model.algorithm={name}: remove it, or set "
                                      f"model.algorithm={sec}")
    algorithm = registries.ALGORITHMS.get(name)
    if name != "gan":
        algorithm.refuse_changed(cfg, defaults, GAN_ONLY, "it is built into model.algorithm=gan only")
    if cfg.train.average_ckpts > 1 and algorithm.export_roles:
        raise ConfigError(f"config key 'train.average_ckpts': model.algorithm={name} exports "
                          f"{', '.join(algorithm.export_roles)} beside G, and averaging G alone would pair it with the "
                          f"newest of those; set train.average_ckpts=0 (averaging is for exports of G alone)")
    algorithm.check_config(cfg, defaults)


def augment_names(spec: str) -> list[str]:
    """The augmentation names of a train.augment value ('' -> [])."""
    return [a.strip() for a in spec.split(",") if a.strip()]


GAN_ONLY = ("loss.topk", "loss.penalty_every", "train.augment", "model.d_pack", "model.d_mbstd")  # options of the gan algorithm's step alone
SHARED_OPTIONS = {("vaegan", "vae")}  # (section, algorithm): model.algorithm=vae reads vaegan.kl_weight
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "elu")
IN_MEMORY_SOURCES = ("tensor", "dataloader")
PATH_DATASETS = ("folder", "npz", "idx")  # kinds whose name must carry a path  # data handed to ganforge.fit(), not loaded by name


# ---- presets ---------------------------------------------------------------------------------
def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


class StrictLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last silently)."""


def _mapping_without_duplicates(loader: StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        try:
            if key in seen:
                raise ConfigError(f"{loader.name}: key '{key}' appears twice (lines {seen[key]} and {line}): "
                                  f"keep one")
            seen[key] = line
        except TypeError:  # an unhashable key (a list as a key): construct_mapping names it
            pass
    return loader.construct_mapping(node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def parse_yaml(text: str, where: str, strict: bool = True) -> Any:
    """YAML text -> Python values, refusing duplicate keys; errors name `where` (strict=False lets
    yaml.YAMLError through for the caller to handle)."""
    loader = StrictLoader(text)
    loader.name = where
    try:
        return loader.get_single_data()
    except yaml.YAMLError as e:
        if not strict:
            raise
        raise ConfigError(f"{where} is not valid YAML: {e}") from None
    finally:
        loader.dispose()


def load_yaml(path: Path) -> dict[str, Any]:
    from .files import read_text

    data = parse_yaml(read_text(path, "config file"), f"config file '{path}'")
    if data is None:
        raise ConfigError(f"config file '{path}' is empty: write at least one section (e.g. `data: {{name: "
                          f"ring8}}`), or train a preset (`ganforge list presets`)")
    return data


def resolve(preset_or_file: str | None = None, overrides: list[str] | None = None) -> Config:
    """Defaults <- preset (name or YAML path) <- --set overrides, validated."""
    name = preset_or_file or DEFAULT_PRESET
    cfg = Config()
    if name.endswith((".yaml", ".yml")) or "/" in name:
        path = Path(name)
        cfg.name = path.stem
        merge(cfg, load_yaml(path), where=str(path))
    else:
        path = PRESET_DIR / f"{name}.yaml"
        if not path.is_file():
            names = preset_names()
            raise ConfigError(f"unknown preset '{name}'.{suggest(name, names)} Valid presets: {', '.join(names)}")
        cfg.name = name
        merge(cfg, load_yaml(path), where=f"preset {name}")
    validate(cfg)
    if overrides:
        apply_overrides(cfg, overrides)
    return cfg


def key_docs() -> dict[str, str]:
    """Dotted key -> the documentation string written under its field in this file."""
    import ast

    tree = ast.parse(Path(__file__).read_text())
    section_of = {cls.__name__: sec for sec, cls in SECTIONS.items()} | {"Config": ""}
    docs: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name in section_of:
            body = node.body
            for a, b in zip(body, body[1:]):
                if isinstance(a, ast.AnnAssign) and isinstance(a.target, ast.Name) and \
                        isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant):
                    prefix = section_of[node.name]
                    docs[f"{prefix}.{a.target.id}" if prefix else a.target.id] = str(b.value.value)
    return docs
