"""Starting and resuming runs: the library's train() and fit() entry points."""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import checkpoint
from ..config import SECTIONS, Config, apply_overrides, resolve
from . import dist as distributed
from ..data.source import LoaderSource, Source, TensorSource
from ..errors import CheckpointError, ConfigError
from ..files import writable_dir
from ..sample import Generator
from .loop import train_loop
from .rundir import RunDir, say
from .state import TrainState, build_state


@dataclass
class Run:
    """The result of a training run."""

    config: Config
    state: TrainState
    run_dir: Path | None
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def generator(self) -> Generator:
        """The EMA generator, ready to sample()."""
        return self.state.generator()

    @property
    def step(self) -> int:
        return self.state.step


def _check_resume_config(given: Config, saved: Config) -> None:
    """A resumed run may change train.* settings (not the seed) only; anything else would not be the same run."""
    if given.model.algorithm != saved.model.algorithm:  # named first: it changes everything else
        raise ConfigError(f"cannot resume with model.algorithm={given.model.algorithm!r}: the checkpoint is of "
                          f"model.algorithm={saved.model.algorithm!r}; start a new run (another --run-dir), or "
                          f"resume with model.algorithm={saved.model.algorithm!r}")
    for sec in SECTIONS:
        a, b = dataclasses.asdict(getattr(given, sec)), dataclasses.asdict(getattr(saved, sec))
        for key in a:
            if a[key] != b[key] and (sec != "train" or key == "seed"):
                raise ConfigError(f"cannot resume with {sec}.{key}={a[key]!r}: the checkpoint was trained with "
                                  f"{sec}.{key}={b[key]!r}. Only train.* settings other than train.seed may change "
                                  f"on resume; start a new run (another --run-dir) to change it.")


def resume_config(config: Config | str | None, overrides: list[str], saved: Config) -> Config:
    """The config of a resumed run: the checkpoint's own, plus the train.* overrides given now.

    config None: the checkpoint's config + overrides. A preset or YAML: its non-train sections must
    match the checkpoint; train.* comes from the checkpoint + overrides (so earlier --set train.*
    values survive). A Config object (library use): its train section is used as given.
    """
    if isinstance(config, Config):
        candidate = copy.deepcopy(config)
        apply_overrides(candidate, overrides)
    else:
        candidate = resolve(config, overrides) if config is not None else copy.deepcopy(saved)
        candidate.name = saved.name if config is None else candidate.name
        candidate.train = copy.deepcopy(saved.train)
        apply_overrides(candidate, overrides)
    for key, detected in (("layout", "auto"), ("z_shape", [])):  # resolved when the run started
        if getattr(candidate.model, key) == detected:
            setattr(candidate.model, key, copy.deepcopy(getattr(saved.model, key)))
    _check_resume_config(candidate, saved)
    return candidate


def _resume_tree(run: RunDir, resume: str | None) -> tuple[dict[str, Any] | None, Path | None]:
    if resume is None:
        if run.is_used():
            raise CheckpointError(f"run directory '{run.path}' already exists and is not empty: continue it with "
                                  f"--resume auto (resume='auto'), or choose another --run-dir; nothing was "
                                  f"overwritten")
        return None, None
    if resume == "auto":
        tree, path = run.newest_valid()
        if tree is None:
            if run.checkpoints():
                raise CheckpointError(f"no checkpoint in '{run.ckpt_dir}' passes verification (see above); "
                                      f"nothing was changed. Resume from a copy of a good checkpoint with "
                                      f"--resume PATH, or train into another --run-dir")
            if run.is_used() and run.export_path.exists():
                raise CheckpointError(f"run directory '{run.path}' holds a finished export but no checkpoints; "
                                      f"nothing was changed. Train into another --run-dir")
            say(f"no checkpoint in '{run.ckpt_dir}' yet: starting a new run")
        return tree, path
    return checkpoint.load(resume, kind="checkpoint"), Path(resume)


def train(config: Config | str | None = None, overrides: list[str] | None = None,
          run_dir: str | Path | None = None, resume: str | None = None,
          source: Source | None = None, G: nn.Module | None = None, D: nn.Module | None = None,
          d_output: str = "auto", dry_run: bool = False) -> Run:
    """Train (or resume) a run. config: a Config, a preset name or YAML path (None: the default preset,
    or on resume the checkpoint's own config). resume: None (new run), 'auto' or a checkpoint path.
    dry_run: every check a run makes before its first step (config, run directory, checkpoint, data,
    networks, memory), then return without writing anything."""
    overrides = list(overrides or [])
    if isinstance(config, Config):
        cfg = copy.deepcopy(config)
        apply_overrides(cfg, overrides)
    else:
        cfg = resolve(config, overrides)
    run = RunDir(run_dir if run_dir is not None else Path("runs") / cfg.name)
    writable_dir(run.path, "run directory", CheckpointError)  # before the lock or any file
    tree, ckpt_path = _resume_tree(run, resume)
    if tree is not None:
        cfg = resume_config(config, overrides, Config.from_dict(tree["config"]))
    st = build_state(cfg, source, G, D, d_output)
    if tree is not None:
        try:
            st.load_state_dict(tree)
        except (KeyError, RuntimeError, ValueError) as e:
            raise CheckpointError(f"checkpoint '{ckpt_path}' does not fit this run's networks: {e}") from None
    if dry_run:
        distributed.shutdown(st.dist)
        return Run(cfg, st, run.path)
    distributed.barrier(st.dist)  # every rank has read the run directory before rank 0 changes it
    if not st.dist.main:  # torchrun ranks > 0 train without writing anything
        result = Run(cfg, st, run.path)
        try:
            train_loop(st, None, result.history)
        finally:
            distributed.shutdown(st.dist)
        return result
    run.lock()  # from here on this process writes into the run directory; a second one is refused
    try:
        if tree is not None:
            say(f"resumed from '{ckpt_path}' at step {st.step} of {cfg.train.steps}")
            moved = run.set_aside_after(st.step)
            if moved:
                say(f"moved {len(moved)} checkpoint(s) newer than step {st.step} to '{moved[0].parent}'")
        run.start(cfg.to_yaml(), st.step)
        result = Run(cfg, st, run.path)
        if st.step >= cfg.train.steps:
            say(f"already at step {st.step} of {cfg.train.steps}: nothing to train (raise train.steps to continue)")
            return result
        if cfg.train.tensorboard:
            run.open_tensorboard()
        train_loop(st, run, result.history)
    finally:
        run.close()
        distributed.shutdown(st.dist)
    return result


def fit(G: nn.Module, D: nn.Module, data: Any, *, z_dim: int, loss: str = "ns", steps: int = 2000,
        batch_size: int = 64, labels: Any = None, lr_g: float = 2e-4, lr_d: float = 2e-4,
        betas: tuple[float, float] = (0.5, 0.999), optimizer: str = "adam", n_critic: int = 1,
        penalty: str = "default", ema: float = 0.999, seed: int = 0, log_every: int = 100,
        d_output: str = "auto", num_classes: int | None = None, run_dir: str | Path | None = None,
        resume: str | None = None, progress: bool = True, device: str = "auto",
        z_shape: tuple[int, ...] | None = None, schedule: str = "alternating",
        overrides: list[str] | None = None) -> Run:
    """Train your own G and D (torch nn.Modules, or Keras 3 models) on a tensor, numpy array or DataLoader.

    G(z) or G(z, y) must return samples shaped like the data; D(x) or D(x, y) one value per
    sample, logits or probabilities (see d_output in ganforge.nets.adapt). Keras 3 models
    (KERAS_BACKEND=torch) work as written: see ganforge.nets.keras. Image-shaped data ([N, H, W],
    [N, C, H, W] or [N, H, W, C], in [-1, 1]) is images (grids, image metrics); the networks' layout
    is read from G's output, and samples come back in it. z_shape: one noise input as G takes it
    (default [z_dim], or [z_dim, 1, 1] for a G that starts with a ConvTranspose2d). schedule:
    alternating (D, then G through the updated D; the default) or simultaneous (both players'
    gradients from one forward pass, applied together). With labels (or a DataLoader yielding (x, y)
    and num_classes) the GAN is conditional. run_dir is optional: with it, logs, pictures,
    checkpoints and an export are written there and resume works as in train().
    overrides: further KEY=VALUE config settings (e.g. "train.on_nonfinite=rollback", "train.ckpt_every=100").
    """
    if isinstance(data, torch.utils.data.DataLoader):
        source: Source = LoaderSource(data, num_classes or 0)
    elif isinstance(data, (torch.Tensor, np.ndarray, list)):
        source = TensorSource(data, labels, kind="auto")
    else:
        raise ConfigError(f"data must be a tensor, numpy array or DataLoader, got {type(data).__name__}")
    cfg = Config.from_dict({
        "name": "custom",
        "data": {"name": source.name, "batch_size": batch_size},
        "model": {"arch": "custom", "z_dim": z_dim, "num_classes": -1 if num_classes is None else num_classes,
                  "z_shape": list(z_shape or [])},
        "loss": {"name": loss, "penalty": penalty, "n_critic": n_critic, "schedule": schedule},
        "optim": {"name": optimizer, "lr_g": lr_g, "lr_d": lr_d, "beta1": betas[0], "beta2": betas[1]},
        "train": {"steps": steps, "seed": seed, "log_every": log_every, "ema": ema, "progress": progress,
                  "device": device, "sample_every": max(steps // 4, 1), "ckpt_every": max(steps // 4, 1)},
    })
    apply_overrides(cfg, list(overrides or []))
    if run_dir is not None:
        return train(cfg, run_dir=run_dir, resume=resume, source=source, G=G, D=D, d_output=d_output)
    st = build_state(cfg, source, G, D, d_output)
    result = Run(cfg, st, None)
    train_loop(st, None, result.history)
    return result
