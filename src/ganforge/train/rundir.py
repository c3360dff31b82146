"""The run directory: config.yaml, log.jsonl, samples/, checkpoints/ and the exported generator."""
from __future__ import annotations

import json
import math
import os
import re
import sys
from pathlib import Path
from typing import Any

import torch

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

from .. import checkpoint
from ..errors import CheckpointError, ConfigError, TrainingError
from ..files import writable_file
from ..registries import METRICS
from ..report import gif_of, loss_plot_png, picture, side_by_side_png
from .averaging import average_export
from .state import TrainState

LOCK_NAME = ".lock"
TMP_RE = re.compile(r"^\..+\.tmp-\d+$")  # checkpoint.atomic_write's temporary names
CKPT_RE = re.compile(r"^step_(\d+)\.safetensors$")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Records of a JSON-lines file with a 'step'; lines cut by a kill are skipped."""
    out = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
                if isinstance(rec, dict) and isinstance(rec.get("step"), int):
                    out.append(rec)
            except ValueError:
                continue
    return out


def append_line(path: Path, line: str) -> None:
    """Append one line; a failed write (e.g. a full disk) names the file and the cause."""
    try:
        with open(path, "a") as f:
            f.write(line + "\n")
            f.flush()
    except OSError as e:
        raise CheckpointError(f"could not append to '{path}': {e.strerror or e}; the checkpoints written so far "
                              f"are intact (continue with --resume auto once there is room)") from None


def say(msg: str) -> None:
    """Status line for the user (stderr, so stdout stays clean for data)."""
    print(f"ganforge: {msg}", file=sys.stderr, flush=True)


class RunDir:
    """Paths and writers of one run directory. Only the writing process (rank 0) creates one."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.ckpt_dir = self.path / "checkpoints"
        self.samples_dir = self.path / "samples"
        self.log_path = self.path / "log.jsonl"
        self.export_path = self.path / "generator.safetensors"
        self.metrics_path = self.path / "metrics.jsonl"
        self.best_path = self.path / "best.safetensors"
        self.tb: Any = None  # a TensorBoard SummaryWriter when train.tensorboard is on
        self.best: dict[str, Any] | None = None  # {"step", "name", "value"} of RUN/best.safetensors
        self._lock_fd: int | None = None

    def is_used(self) -> bool:
        return self.path.exists() and (not self.path.is_dir() or any(p.name != LOCK_NAME for p in self.path.iterdir()))

    def checkpoints(self) -> list[Path]:
        """Checkpoint files, oldest first (by step)."""
        if not self.ckpt_dir.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.ckpt_dir.iterdir() if (m := CKPT_RE.match(p.name))]
        return [p for _, p in sorted(found)]

    def newest_valid(self) -> tuple[dict[str, Any] | None, Path | None]:
        """The newest checkpoint that loads and verifies; invalid newer ones are reported and skipped."""
        for path in reversed(self.checkpoints()):
            try:
                return checkpoint.load(path, kind="checkpoint"), path
            except CheckpointError as e:
                say(f"skipping invalid checkpoint: {e}")
        return None, None

    def set_aside_after(self, step: int) -> list[Path]:
        """Move checkpoints newer than step (an abandoned future, or ones that failed verification) into
        checkpoints/set-aside-<step>/ so they are kept but never resumed from or pruned in place of new ones."""
        newer = [p for p in self.checkpoints() if int(CKPT_RE.match(p.name).group(1)) > step]
        if not newer:
            return []
        dest = self.ckpt_dir / f"set-aside-{step:08d}"
        dest.mkdir(exist_ok=True)
        moved = []
        for p in newer:
            target = dest / p.name
            p.replace(target)
            moved.append(target)
        return moved

    def open_tensorboard(self) -> None:
        """Start writing TensorBoard event files to RUN/tensorboard (scalars at each log line, sample pictures)."""
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ConfigError("train.tensorboard=true needs the tensorboard package: "
                              "pip install 'ganforge[tensorboard]' (or pip install tensorboard)") from None
        self.tb = SummaryWriter(str(self.path / "tensorboard"))

    def lock(self) -> None:
        """Hold RUN/.lock for this process: a second ganforge process on the same run directory is refused.
        It is an flock, released by the kernel when the process ends in any way (kill -9 included), so a
        lock left by a dead process never blocks --resume."""
        if fcntl is None or self._lock_fd is not None:
            return  # no flock on this platform (Windows): unlocked
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise CheckpointError(f"run directory '{self.path}' is in use by another ganforge process"
                                  f"{f' (pid {holder})' if holder else ''}: wait for it to finish or stop it "
                                  f"(Ctrl-C saves a checkpoint), or train into another --run-dir; nothing was "
                                  f"changed") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    def close(self) -> None:
        """Close TensorBoard and release the run lock."""
        if self.tb is not None:
            self.tb.close()
            self.tb = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def start(self, config_yaml: str, resumed_step: int) -> None:
        """Create the layout, write the resolved config, and cut the log back to the resumed step."""
        for d in (self.path, self.ckpt_dir, self.samples_dir):
            d.mkdir(parents=True, exist_ok=True)
        stale = [p for d in (self.path, self.ckpt_dir, self.samples_dir) for p in d.iterdir() if TMP_RE.match(p.name)]
        for p in stale:  # temp files of writes cut short by a kill (we hold the lock: nobody else is writing)
            p.unlink(missing_ok=True)
        if stale:
            say(f"removed {len(stale)} temporary file(s) left by an interrupted write")
        checkpoint.atomic_write(self.path / "config.yaml", config_yaml.encode())
        self.cut_back(resumed_step)

    def cut_back(self, step: int) -> None:
        """Drop log and metrics lines after step (a resume or a rollback replays those steps) and
        recover the best evaluation so far."""
        for path in (self.log_path, self.metrics_path):
            kept = [json.dumps(r) for r in read_jsonl(path) if r["step"] <= step] if step > 0 else []
            if kept or path.is_file():
                checkpoint.atomic_write(path, "".join(k + "\n" for k in kept).encode())
        self.best = None
        if step > 0 and self.best_path.is_file():  # best value so far, from the metrics kept
            self.best = checkpoint.load(self.best_path).get("best")
            if self.best is not None and self.best["step"] > step:
                self.best = None  # the best was reached after that step: it will be replaced

    def evaluate(self, st: TrainState) -> dict[str, Any]:
        """train.eval_metrics on G_ema now: a line in metrics.jsonl, and RUN/best.safetensors (a full
        checkpoint) when train.eval_best improved. Uses no global RNG, so resumes stay exact."""
        from ..evaluate import better
        from .evaluation import evaluate_state
        t = st.cfg.train
        results = evaluate_state(st)
        record: dict[str, Any] = {"step": st.step}
        for r in results:
            record.update({k: v for k, v in r.items() if k not in ("metric", "protocol", "per_mode")})
        proto = results[0]["protocol"]
        record["protocol"] = {k: proto.get(k) for k in ("n_generated", "reference", "n_reference", "extractor",
                                                        "extractor_sha256", "resize", "seed")}
        key = t.eval_best or METRICS.get(results[0]["metric"]).values[0]
        value = record.get(key)
        if isinstance(value, (int, float)) and math.isfinite(value) and (
                self.best is None or better(key)(value, self.best["value"])):
            self.best = {"step": st.step, "name": key, "value": float(value)}
            checkpoint.save(self.best_path, {**st.state_dict(), "best": self.best}, "checkpoint")
        record["best"] = self.best
        append_line(self.metrics_path, json.dumps(record))
        if self.tb is not None:
            for k, v in record.items():
                if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool):
                    self.tb.add_scalar(f"eval/{k}", v, st.step)
        return record

    def append_log(self, record: dict[str, Any]) -> None:
        append_line(self.log_path, json.dumps(record))
        if self.tb is not None:
            for key, value in record.items():
                if key != "step":
                    self.tb.add_scalar(key.replace("(", "_").replace(")", ""), value, record["step"])

    def save_checkpoint(self, st: TrainState) -> Path:
        """Write a full checkpoint and the generator export atomically; keep the newest train.keep_ckpts.
        Refuses to save non-finite weights, so the newest checkpoint is always a good one."""
        for name, net in st.nets.items():
            if not all(bool(torch.isfinite(p).all()) for p in net.parameters()):
                raise TrainingError(f"{name}'s weights are not finite at step {st.step} (a non-finite gradient); "
                                    f"no checkpoint was written, the previous ones are intact. Try lower "
                                    f"learning rates (optim.lr_g / optim.lr_d)")
        path = self.ckpt_dir / f"step_{st.step:08d}.safetensors"
        tree = st.state_dict()
        checkpoint.save(path, tree, "checkpoint")
        export, k = st.export(), st.cfg.train.average_ckpts
        if k > 1:  # this state (in memory) and the k - 1 checkpoints before it
            older = [p for p in self.checkpoints() if p != path][-(k - 1):]
            export = average_export(export, [checkpoint.load(p, kind="checkpoint") for p in older] + [tree])
        checkpoint.save(self.export_path, export, "generator")
        for old in self.checkpoints()[:-st.cfg.train.keep_ckpts]:
            old.unlink(missing_ok=True)
        return path

    def write_report(self, st: TrainState | None = None) -> list[Path]:
        """Loss plot from log.jsonl, GIF of the sample pictures and, given the state, real vs generated."""
        out = []
        records = []
        if self.log_path.is_file():
            for line in self.log_path.read_text().splitlines():
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
        if records:
            out.append(loss_plot_png(records, self.path / "losses.png", f"{self.path.name}: training curves"))
        gif = gif_of(sorted(self.samples_dir.glob("step_*.png")), self.path / "samples.gif")
        if gif is not None:
            out.append(gif)
        if st is not None and st.algorithm.translates:  # rows of input | output | target
            out += st.algorithm.pictures(st, self.path)
        elif st is not None:
            gen = st.generator()
            if st.source.kind == "images":
                n = 100 if st.num_classes == 10 else 64
                fake = gen.decode(gen.sample(n, seed=st.cfg.train.seed + 2))
                nrow = n // st.num_classes if st.num_classes > 0 else None  # one row per class
                out.append(side_by_side_png(st.source.reference(n), fake, self.path / "real_vs_fake.png", nrow))
            else:
                fake = gen.decode(gen.sample(2000, seed=st.cfg.train.seed + 2))
                out.append(picture(fake, st.source.info(), self.path / "real_vs_fake.png",
                                   real=st.source.reference(2000), title="real vs generated"))
            out += st.algorithm.pictures(st, self.path)
        return out

    def save_samples(self, st: TrainState, n: int) -> Path:
        """A picture of G_ema's samples from fixed noise (seeded by train.seed) beside real data;
        conditional models get one row per class. Translation runs: rows of input | output | target."""
        if st.algorithm.translates:
            path = st.algorithm.samples_picture(st, self.samples_dir / f"step_{st.step:08d}.png",
                                                f"{st.cfg.name} step {st.step}: input | output | target")
            self._tb_image(path, st.step)
            return path
        if st.num_classes > 0 and st.source.kind == "images":
            n = st.num_classes * max(n // st.num_classes, 1)
        gen = st.generator()
        fake = gen.decode(gen.sample(n, seed=st.cfg.train.seed + 1))
        nrow = n // st.num_classes if st.num_classes > 0 else None  # one row per class
        path = picture(fake, st.source.info(), self.samples_dir / f"step_{st.step:08d}.png",
                       real=st.source.reference(n), title=f"{st.cfg.name} step {st.step}", nrow=nrow)
        self._tb_image(path, st.step)
        return path

    def _tb_image(self, path: Path, step: int) -> None:
        if self.tb is not None:
            import numpy as np
            from PIL import Image

            self.tb.add_image("samples", np.asarray(Image.open(path).convert("RGB")), step, dataformats="HWC")


def average_run(run_dir: str | os.PathLike, out: str | os.PathLike, last: int = 3) -> Path:
    """Write to out a generator export of run_dir whose G is the mean of G_ema over its newest `last`
    checkpoints (checkpoint averaging after training; train.average_ckpts does it during). run_dir is only read."""
    run = RunDir(run_dir)
    if last < 2:
        raise ConfigError(f"--last {last}: averaging needs at least 2 checkpoints")
    if not run.export_path.is_file():
        raise ConfigError(f"'{run.path}' is not a run directory with a generator export (generator.safetensors): pass "
                          f"the directory `ganforge train` wrote")
    target = writable_file(out, "--out")
    if target.exists() and target.resolve() == run.export_path.resolve():
        raise ConfigError(f"--out '{target}' is the run's own export; write the average to another file")
    ckpts = run.checkpoints()[-last:]
    if len(ckpts) < 2:
        raise ConfigError(f"'{run.path}' has {len(ckpts)} checkpoint(s): averaging needs at least 2 (train with "
                          f"train.keep_ckpts >= {last})")
    export = checkpoint.load(run.export_path, kind="generator")
    export.pop("__kind__")
    trees = [checkpoint.load(p, kind="checkpoint") for p in ckpts]
    checkpoint.save(target, average_export(export, trees), "generator")
    return target
