"""Fault injection: the trials behind tests/test_reliability.py and benchmarks/reliability.py.

A test harness, not part of the shipped package (it lived in src/ganforge/ until issue 12):
the tests import it as `reliability` (pytest puts tests/ on sys.path), benchmarks/reliability.py
puts tests/ on sys.path itself.

Each function runs one kind of trial N times and returns counts, so the test suite can run a few
and the benchmark many, with the same code:

  kill_resume_trials      kill -9 a training process at random steps, resume, compare bit for bit
  signal_trials           SIGTERM/SIGINT at random moments: exit code, latency, exact resume
  kill_during_save_trials kill -9 a process in the middle of checkpoint writes; is the newest still valid?
  corruption_trials       random truncations and bit flips of a checkpoint: detected by verification?
  config_fuzz             random invalid mutations of valid configs: rejected with a ConfigError?
  pickle_trials           hostile pickles where checkpoints and exports belong: refused, never run?
  nonfinite_trials        a NaN gradient injected at a known step: caught at which step?
  lock_trial              a second process on one run directory; a lock left by a killed process
  make_faulty_folder      an image folder with every kind of broken and odd file
  disk_full_trial         a run whose disk fills up (a real small tmpfs when it can be mounted)
"""
from __future__ import annotations

import errno
import io
import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganforge import checkpoint
from ganforge.config import Config, all_keys, preset_names, resolve
from ganforge.errors import CheckpointError, ConfigError, DataError, GanforgeError, TrainingError
from ganforge.train.rundir import RunDir, read_jsonl


def states_equal(a: Any, b: Any) -> bool:
    """Bitwise equality of two nested checkpoint trees."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(states_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(states_equal(x, y) for x, y in zip(a, b))
    return a == b


TRAINED_STATE = ("G", "D", "G_ema", "opt_G", "opt_D", "sampler", "rng", "step")


def same_training_state(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """G, D, EMA, both optimisers, sampler, RNG and step identical bit for bit."""
    return all(states_equal(a[k], b[k]) for k in TRAINED_STATE if k in a or k in b)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _default_sigint() -> None:
    # a shell's background jobs (`cmd &`, nohup) start with SIGINT ignored, and children inherit that;
    # the trials send SIGINT on purpose, so the training process starts with the default action
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cli(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ganforge", *args], cwd=cwd, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)


def _final_state(run_dir: Path) -> dict[str, Any]:
    return checkpoint.load(RunDir(run_dir).checkpoints()[-1])


def _finish_and_compare(workdir: Path, preset: str, sets: list[str], name: str) -> bool:
    """Resume run `name` to the end; is its final state bit-identical to the uninterrupted 'reference'?"""
    final = _cli(["train", preset, "--run-dir", name, *sets, "--resume", "auto"], workdir)
    _, err = final.communicate()
    if final.returncode != 0:
        raise RuntimeError(f"final resume of '{name}' failed: {err}")
    return same_training_state(_final_state(workdir / "reference"), _final_state(workdir / name))


def _wait_for_step(run_dir: Path, proc: subprocess.Popen, step: int, timeout: float = 120.0) -> bool:
    """Poll log.jsonl until it reaches step (log_every=1); False if the process ended first."""
    end = time.monotonic() + timeout
    log = run_dir / "log.jsonl"
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        recs = read_jsonl(log)
        if recs and recs[-1]["step"] >= step:
            return True
        time.sleep(0.02)
    raise TimeoutError(f"training did not reach step {step} within {timeout} s")


@dataclass
class KillResult:
    kills: int = 0
    identical: bool = False
    resumed_from: list[int] = field(default_factory=list)


def kill_resume_trials(workdir: Path, preset: str, overrides: list[str], kills: int, seed: int = 0) -> KillResult:
    """Train once uninterrupted; then train the same run, kill -9 it at `kills` random steps, resume
    each time with --resume auto, and compare the final states bit for bit."""
    workdir.mkdir(parents=True, exist_ok=True)
    steps = int(next(o.split("=")[1] for o in overrides if o.startswith("train.steps=")))
    sets = [x for o in overrides + ["train.log_every=1", "train.progress=false"] for x in ("--set", o)]
    ref = _cli(["train", preset, "--run-dir", "reference", *sets], workdir)
    _, err = ref.communicate()
    if ref.returncode != 0:
        raise RuntimeError(f"reference run failed: {err}")
    rng = random.Random(seed)
    targets = sorted(rng.sample(range(2, steps - 1), kills))
    out = KillResult()
    run_dir = workdir / "killed"
    for target in targets:
        args = ["train", preset, "--run-dir", "killed", *sets] + (["--resume", "auto"] if run_dir.exists() else [])
        proc = _cli(args, workdir)
        if _wait_for_step(run_dir, proc, target):
            time.sleep(rng.random() * 0.05)  # anywhere inside the step, a save or a log write
            proc.send_signal(signal.SIGKILL)
            out.kills += 1
        proc.wait()
        ckpts = RunDir(run_dir).checkpoints()
        out.resumed_from.append(int(ckpts[-1].stem.split("_")[1]) if ckpts else 0)
    out.identical = _finish_and_compare(workdir, preset, sets, "killed")
    return out


@dataclass
class SignalResult:
    trials: int = 0               # signals sent while training ran
    clean_exits: int = 0          # of those: exit code 130 (SIGINT) or 143 (SIGTERM) after a checkpoint
    worst_latency_s: float = 0.0  # signal to process exit, for signals sent while training
    startup_trials: int = 0       # signals sent during start-up (imports, data, networks)
    identical: bool = False       # the final state after all the interruptions equals an uninterrupted run
    unexpected: list[str] = field(default_factory=list)


def signal_trials(workdir: Path, preset: str, overrides: list[str], trials: int, seed: int = 0) -> SignalResult:
    """Send SIGTERM or SIGINT at random moments (one in three during start-up, the others while training
    and saving), resume each time, and compare the final state with an uninterrupted run."""
    workdir.mkdir(parents=True, exist_ok=True)
    sets = [x for o in overrides + ["train.log_every=1", "train.progress=false"] for x in ("--set", o)]
    ref = _cli(["train", preset, "--run-dir", "reference", *sets], workdir)
    ref.communicate()
    rng = random.Random(seed)
    out = SignalResult()
    run_dir = workdir / "signalled"
    for i in range(trials):
        args = ["train", preset, "--run-dir", "signalled", *sets] + (["--resume", "auto"] if run_dir.exists() else [])
        proc = _cli(args, workdir)
        during_startup = i % 3 == 0
        if during_startup:
            time.sleep(rng.uniform(0.2, 2.0))  # imports, config, data, network building
        else:
            recs = read_jsonl(run_dir / "log.jsonl")
            if not _wait_for_step(run_dir, proc, (recs[-1]["step"] if recs else 0) + rng.randint(1, 5)):
                _, err = proc.communicate()
                if proc.returncode != 0:
                    out.unexpected.append(f"trial {i}: exited {proc.returncode} before the signal: {err[-300:]}")
                break  # the run finished before the signal
        sig = rng.choice([signal.SIGTERM, signal.SIGINT])
        sent = time.monotonic()
        proc.send_signal(sig)
        _, err = proc.communicate()
        latency = time.monotonic() - sent
        expected = 143 if sig == signal.SIGTERM else 130
        if during_startup:
            out.startup_trials += 1  # any exit is fine here; what matters is that the next resume works
            if "Traceback" in err and "KeyboardInterrupt" not in err:
                out.unexpected.append(f"trial {i} (start-up): {err[-300:]}")
        else:
            out.trials += 1
            out.worst_latency_s = max(out.worst_latency_s, latency)
            if proc.returncode == expected and "checkpoint" in err:
                out.clean_exits += 1
            else:
                out.unexpected.append(f"trial {i}: {signal.Signals(sig).name} -> exit {proc.returncode}: {err[-300:]}")
    out.identical = _finish_and_compare(workdir, preset, sets, "signalled")
    return out


SAVE_LOOP = """
import sys, torch
from ganforge.train.rundir import RunDir
from ganforge import checkpoint
run = RunDir(sys.argv[1]); run.ckpt_dir.mkdir(parents=True, exist_ok=True)
g = torch.Generator().manual_seed(0)
step = len(run.checkpoints())
while True:
    step += 1
    tree = {"step": step, "w": torch.randn(1_000_000, generator=g), "config": {"k": step}}
    checkpoint.save(run.ckpt_dir / f"step_{step:08d}.safetensors", tree, "checkpoint")
    print(step, flush=True)
"""


@dataclass
class SaveKillResult:
    trials: int = 0
    newest_loadable: int = 0      # after the kill, newest_valid() returned a checkpoint
    partial_taken: int = 0        # a file that fails verification was listed as a checkpoint
    temp_left: int = 0            # temp files left by the kills (never read; a run's next start removes them)


def kill_during_save_trials(workdir: Path, trials: int, seed: int = 0) -> SaveKillResult:
    """A process writes 4 MB checkpoints back to back; kill -9 it at random moments (mostly mid-write)."""
    workdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    out = SaveKillResult()
    run = RunDir(workdir / "saves")
    for _ in range(trials):
        proc = subprocess.Popen([sys.executable, "-c", SAVE_LOOP, str(run.path)], env=_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        proc.stdout.readline()  # one save finished: the next is under way
        time.sleep(rng.uniform(0.0, 0.15))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        out.trials += 1
        tree, _ = run.newest_valid()
        out.newest_loadable += tree is not None
        for p in run.checkpoints():
            try:
                checkpoint.load(p)
            except CheckpointError:
                out.partial_taken += 1
    out.temp_left = sum(1 for p in run.ckpt_dir.iterdir() if ".tmp-" in p.name)
    return out


def corruption_trials(path: Path, workdir: Path, trials: int, seed: int = 0) -> tuple[int, int, int]:
    """Half random truncations, half single bit flips of a valid checkpoint file. Returns (detected
    with an error naming the file, trials, errors without the file name)."""
    workdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    data = path.read_bytes()
    detected = unnamed = 0
    target = workdir / "corrupt.safetensors"
    for i in range(trials):
        blob = bytearray(data)
        if i % 2 == 0:
            blob = blob[:rng.randrange(0, len(data))]
        else:
            pos = rng.randrange(len(data))
            blob[pos] ^= 1 << rng.randrange(8)
        target.write_bytes(bytes(blob))
        try:
            checkpoint.load(target)
        except CheckpointError as e:
            detected += 1
            unnamed += str(target) not in str(e)
    return detected, trials, unnamed


# ---- configuration fuzzing ----------------------------------------------------------------------------
def _typo(key: str, rng: random.Random) -> str:
    i = rng.randrange(len(key))
    ops = [key[:i] + key[i + 1:], key[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz_") + key[i:],
           key[:i] + rng.choice("xyzq") + key[i + 1:]]
    return rng.choice(ops)


UNBOUNDED_WEIGHTS = ("loss.gp_weight", "loss.clip", "infogan.lambda_info", "pix2pix.l1_weight", "cyclegan.cycle_weight",
                     "cyclegan.identity_weight", "cyclegan.fidelity_weight", "vaegan.kl_weight", "vaegan.gamma")


def invalid_mutation(rng: random.Random) -> str:
    """One KEY=VALUE override that no valid config accepts (unknown key, wrong type, out of range, unknown name)."""
    keys = all_keys()
    hints = Config().to_dict()

    def default(key: str) -> Any:
        node: Any = hints
        for part in key.split("."):
            node = node[part]
        return node

    while True:
        key = rng.choice(keys)
        value = default(key)
        kind = rng.choice(["unknown", "type", "range", "name"])
        if kind == "unknown":
            bad = _typo(key, rng)
            if bad not in keys and bad:
                # an unknown key is refused whatever its value: an empty list's default stands in as 1
                shown = value if not isinstance(value, list) else (value[0] if value else 1)
                return f"{bad}={shown}"
        elif isinstance(value, bool):
            return f"{key}={rng.choice(['maybe', '2', '[1]', '0.5'])}"
        elif isinstance(value, int):
            return f"{key}={rng.choice(['abc', '1.5', '[1]', '{}', '-5', '-1000000', 'true'])}"
        elif isinstance(value, float):
            # no upper bound on the weights of loss terms and on clip values: huge ones are valid (if odd) choices
            huge = [] if key in UNBOUNDED_WEIGHTS else ["1e300"]
            return f"{key}={rng.choice(['abc', 'nan', 'inf', '-inf', '[0.1]', '-1e9', *huge])}"
        elif isinstance(value, list):
            return f"{key}={rng.choice(['[0]', '[-3, 4]', '[a]', '{}', '1.5'])}"
        elif isinstance(value, str) and key != "name" and kind in ("name", "range", "type"):
            if key == "data.name":
                return f"{key}={rng.choice(['mnsit', 'ring9', 'folder', 'cifar10'])}"
            if key == "train.eval_best":
                return f"train.eval_metrics=fid,kid\ntrain.eval_best={rng.choice(['recall', 'fidd', 'x'])}"
            return f"{key}={rng.choice(['zzz', 'cuda:x', '[1, 2]', '{a: 1}', 'Inception'])}"
        elif key == "name":
            return f"name={rng.choice(['../x', 'a/b', '', ' '])}"


def config_fuzz(n: int, seed: int = 0) -> tuple[int, int, list[tuple[list[str], str]]]:
    """n random invalid override sets (1 to 3 mutations, at least one invalid) applied to random presets.
    Returns (rejected with a ConfigError naming one of the mutated keys, n, failures)."""
    rng = random.Random(seed)
    presets = preset_names()
    clean, failures = 0, []
    for _ in range(n):
        overrides = [o for _ in range(rng.randint(1, 3)) for o in invalid_mutation(rng).split("\n")]
        preset = rng.choice(presets)
        try:
            resolve(preset, overrides)
            failures.append((overrides, "accepted"))
        except ConfigError as e:
            keys = [o.partition("=")[0] for o in overrides]
            if any(k and k in str(e) for k in keys):
                clean += 1
            else:
                failures.append((overrides, f"message names none of the keys: {e}"))
        except Exception as e:  # anything else is a crash with a traceback
            failures.append((overrides, f"{type(e).__name__}: {e}"))
    return clean, n, failures


# ---- hostile files --------------------------------------------------------------------------------------
class Payload:
    """Unpickling this runs code: it creates the sentinel file."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = str(sentinel)

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, (f"open({self.sentinel!r}, 'w').write('pwned')",))


@dataclass
class PickleResult:
    attempts: int = 0
    refused: int = 0                     # refused with a ganforge error (CheckpointError / DataError)
    executed: bool = False               # the sentinel file appeared
    unexpected: list[str] = field(default_factory=list)


def pickle_trials(workdir: Path, toy_overrides: list[str]) -> PickleResult:
    """Put pickles with a payload where a checkpoint, an export, a torch.save file and an NPZ belong and
    go through every load path of the library (the CLI's paths call the same functions)."""
    workdir.mkdir(parents=True, exist_ok=True)
    from ganforge import evaluate, load_generator
    from ganforge.train.run import train
    sentinel = workdir / "SENTINEL"
    blob = pickle.dumps({"G": Payload(sentinel)})
    run = train("ring8-r1", ["train.steps=10", "train.progress=false", *toy_overrides], run_dir=workdir / "victim")
    rd = RunDir(run.run_dir)
    ckpt = rd.checkpoints()[-1]
    for path in (ckpt, rd.export_path):
        path.write_bytes(blob)
    torch_file = workdir / "exported.pt"
    torch.save({"G": Payload(sentinel)}, torch_file)  # torch.save's zip format carries a pickle too
    (rd.path / "best.safetensors").write_bytes(blob)
    with open(workdir / "evil.npz", "wb") as f:
        np.savez(f, x=np.array([Payload(sentinel)], dtype=object))
    steps = ["train.steps=20", "train.progress=false", *toy_overrides]
    attempts = {
        "checkpoint.load": lambda: checkpoint.load(ckpt),
        "load_generator(run dir)": lambda: load_generator(rd.path),
        "load_generator(torch.save file)": lambda: load_generator(torch_file),
        "load_generator(best.safetensors)": lambda: load_generator(rd.path / "best.safetensors"),
        "train --resume auto": lambda: train("ring8-r1", steps, run_dir=rd.path, resume="auto"),
        "train --resume PATH": lambda: train("ring8-r1", steps, run_dir=workdir / "other", resume=str(ckpt)),
        "evaluate(export)": lambda: evaluate(torch_file, ["modes"], progress=False),
        "evaluate --fake evil.npz": lambda: evaluate(real="mnist:test", fake=str(workdir / "evil.npz"),
                                                     metrics=["fid"], progress=False),
    }
    out = PickleResult()
    for name, attempt in attempts.items():
        out.attempts += 1
        try:
            attempt()
            out.unexpected.append(f"{name}: accepted")
        except (CheckpointError, DataError):
            out.refused += 1
        except Exception as e:  # noqa: BLE001 - any other failure is reported, not hidden
            out.unexpected.append(f"{name}: {type(e).__name__}: {e}")
    out.executed = sentinel.exists()
    return out


# ---- non-finite values ----------------------------------------------------------------------------------
class NanGrad(torch.autograd.Function):
    """Identity forward, NaN gradient backward: a finite loss with a non-finite gradient."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
        return g * float("nan")


class FaultyD(nn.Module):
    """A 2-D discriminator that poisons the gradient of one forward call. With n_critic=1 it is called
    once by the shape probe and then 3 times a step (real, fake, generator update): call 3(s-1)+2 is
    step s's discriminator update, call 3(s-1)+4 its generator update."""

    def __init__(self, bad_call: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
        self.calls, self.bad_call = 0, bad_call

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        out = self.net(x).view(-1)
        return NanGrad.apply(out) if self.calls == self.bad_call else out

    @staticmethod
    def call_for(step: int, which: str) -> int:
        return 3 * (step - 1) + (2 if which == "discriminator" else 4)


def user_generator() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2))


def nonfinite_trials(workdir: Path, injections: list[tuple[int, str]], overrides: list[str] | None = None
                     ) -> list[tuple[int, str, int | None, str]]:
    """Inject a NaN gradient at (step, discriminator|generator) in a 2-D run of 40 steps; returns
    (injected step, which, step named in the error or None, the error message)."""
    workdir.mkdir(parents=True, exist_ok=True)
    from ganforge.train.run import fit
    out = []
    for i, (step, which) in enumerate(injections):
        torch.manual_seed(0)
        try:
            fit(user_generator(), FaultyD(FaultyD.call_for(step, which)), data=torch.randn(256, 2), z_dim=4,
                steps=40, progress=False, run_dir=workdir / f"nan{i}", overrides=["train.ckpt_every=10",
                                                                                  *(overrides or [])])
            out.append((step, which, None, "not caught"))
        except TrainingError as e:
            named = int(str(e).split(" at step ")[1].split(";")[0]) if " at step " in str(e) else None
            out.append((step, which, named, str(e)))
    return out


# ---- concurrency ----------------------------------------------------------------------------------------
def lock_trial(workdir: Path, toy_overrides: list[str]) -> tuple[bool, bool, bool]:
    """(second process refused while the first holds the lock, nothing written by it, resume works after
    the holder is killed with SIGKILL)."""
    workdir.mkdir(parents=True, exist_ok=True)
    from ganforge.train.run import train
    run_dir = workdir / "locked"
    args = ["train.steps=10", "train.progress=false", *toy_overrides]
    code = (f"import time; from ganforge.train.rundir import RunDir; RunDir({str(run_dir)!r}).lock(); "
            f"print('locked', flush=True); time.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", code], env=_env(), stdout=subprocess.PIPE, text=True)
    try:
        if proc.stdout.readline().strip() != "locked":
            raise RuntimeError("the lock holder did not start")
        try:
            train("ring8-r1", args, run_dir=run_dir, resume="auto")
            refused = False
        except CheckpointError as e:
            refused = "in use by another ganforge process" in str(e)
        untouched = not (run_dir / "config.yaml").exists()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    try:
        resumed = train("ring8-r1", args, run_dir=run_dir, resume="auto").step == 10
    except GanforgeError:
        resumed = False
    return refused, untouched, resumed


# ---- bad data -------------------------------------------------------------------------------------------
def save_image(img: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def make_faulty_folder(root: Path) -> tuple[list[str], list[str]]:
    """Images of every odd kind plus broken files, in sub-folders a/ and b/. Returns (good names, bad names);
    bad ones cannot be decoded. Good ones: 8-bit and 16-bit grayscale, a wide RGB (another size), a
    palette, an RGBA and a CMYK image. Bad: empty, truncated JPEG and PNG, text named .png. Also a
    symlink loop, which must not hang the scan."""
    from PIL import Image
    save_image(Image.new("L", (20, 20), 200), root / "a/gray.png")
    save_image(Image.fromarray(np.full((16, 16), 32896, np.uint16)), root / "a/gray16.png")  # *255/65535 = 128
    save_image(Image.new("RGB", (40, 20), (10, 20, 30)), root / "a/wide.png")
    pal = Image.new("P", (16, 16))
    pal.putpalette([255, 0, 0] * 256)
    save_image(pal, root / "b/palette.png")
    save_image(Image.new("RGBA", (16, 16), (0, 255, 0, 255)), root / "b/rgba.png")
    save_image(Image.new("CMYK", (16, 16), (0, 0, 0, 0)), root / "b/cmyk.jpg")
    (root / "b/zero.png").write_bytes(b"")
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buf, "JPEG")
    (root / "b/trunc.jpg").write_bytes(buf.getvalue()[:200])
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "PNG")
    (root / "a/trunc.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    (root / "a/text.png").write_text("not an image")
    os.symlink(root, root / "a" / "loop")
    return (["gray.png", "gray16.png", "wide.png", "palette.png", "rgba.png", "cmyk.jpg"],
            ["zero.png", "trunc.jpg", "trunc.png", "text.png"])


# ---- full disk ------------------------------------------------------------------------------------------
def disk_full_trial(workdir: Path, toy_overrides: list[str], size_kb: int = 600) -> dict[str, Any]:
    """Train a toy run on a small tmpfs until the disk is full (needs root and mount; otherwise os.fsync
    fails with ENOSPC after a few writes). Reports the error and whether the newest checkpoint loads."""
    workdir.mkdir(parents=True, exist_ok=True)
    from ganforge.train.run import train
    mnt = Path(tempfile.mkdtemp(prefix="ganforge-full-", dir=workdir))
    real = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(mnt)],
                          capture_output=True).returncode == 0
    real_fsync, calls = os.fsync, {"n": 0}
    if not real:
        def fsync(fd: int) -> None:
            calls["n"] += 1
            if calls["n"] > 12:
                raise OSError(errno.ENOSPC, "No space left on device")
            real_fsync(fd)
        os.fsync = fsync  # type: ignore[assignment]
    try:
        run_dir = mnt / "run"
        try:
            train("ring8-r1", ["train.steps=100000", "train.progress=false", "train.keep_ckpts=1000",
                               *toy_overrides], run_dir=run_dir)
            return {"real_tmpfs": real, "error": None}
        except GanforgeError as e:
            msg = str(e)
        os.fsync = real_fsync
        rd = RunDir(run_dir)
        tree, path = rd.newest_valid()
        return {"real_tmpfs": real, "error": msg, "names_path": str(mnt) in msg,
                "names_cause": "No space left on device" in msg,
                "newest_loads": tree is not None, "newest_step": tree["step"] if tree else None,
                "checkpoints": len(rd.checkpoints())}
    finally:
        os.fsync = real_fsync
        if real:
            subprocess.run(["umount", str(mnt)], capture_output=True)
        shutil.rmtree(mnt, ignore_errors=True)
