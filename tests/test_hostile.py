"""The hostile-input battery (issue 13): bad or odd inputs on every command, generated over input slots
and kinds of badness rather than listed by hand. Each case runs the CLI in this process and asserts
exit code 2, no traceback (no exception escapes ganforge.cli.main), the offending name or value in the
message, and that no file anywhere in the workspace changed (nor a runs/ directory appeared).

The figure of the README's bad-input paragraph is `len(CASES)` (printed by test_battery_size)."""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import ganforge
from ganforge import cli

@dataclass
class Case:
    id: str
    argv: list[str]
    expect: list[str] = field(default_factory=list)  # substrings of stderr ({name} placeholders allowed)
    code: int = 2


def _hash_tree(root: Path) -> dict[str, tuple[int, str]]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            out[str(p.relative_to(root))] = (p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest())
        elif p.is_dir():
            out[str(p.relative_to(root)) + "/"] = (0, "")
    return out


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    """A workspace of good and bad inputs, shared by the cases (none may change it)."""
    root = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(0)
    ganforge.train("ring8-gan", ["train.steps=4", "train.progress=false", "train.log_every=2",
                                 "model.g_hidden=[16]", "model.d_hidden=[16]", "data.batch_size=32"],
                   run_dir=root / "run")
    images = rng.integers(0, 256, (12, 8, 8), dtype=np.uint8)
    np.savez(root / "imgs.npz", x=images, y=np.arange(12) % 3)
    np.savez(root / "two.npz", x=images[:2])
    np.savez(root / "noxs.npz", images=images)
    np.savez(root / "floats.npz", x=images.astype(np.float32) / 255)
    np.savez(root / "neg_labels.npz", x=images, y=np.r_[-1, np.arange(11) % 3])
    np.savez(root / "huge_labels.npz", x=images, y=np.r_[10**12, np.arange(11) % 3])
    np.savez(root / "frac_labels.npz", x=images, y=np.full(12, 0.5))
    np.save(root / "plain.npy", images)
    good = (root / "imgs.npz").read_bytes()
    (root / "truncated.npz").write_bytes(good[: len(good) // 2])
    (root / "random.npz").write_bytes(rng.bytes(400))
    (root / "random.bin").write_bytes(rng.bytes(400))
    (root / "empty.npz").write_bytes(b"")
    (root / "adir.npz").mkdir()
    (root / "empty.yaml").write_text("")
    (root / "comments.yaml").write_text("# nothing here\n")
    (root / "dup.yaml").write_text("train:\n  steps: 5\n  steps: 7\n")
    (root / "dupsec.yaml").write_text("train: {steps: 5}\ntrain: {steps: 6}\n")
    (root / "list.yaml").write_text("- 1\n- 2\n")
    (root / "binary.yaml").write_bytes(b"\xff\xfe\x00garbage\x80")
    (root / "adir.yaml").mkdir()
    (root / "notyaml.yaml").write_text("train: [steps: 5\n")
    idx = bytes([0, 0, 8, 3]) + (12).to_bytes(4, "big") + (8).to_bytes(4, "big") * 2 + images.tobytes()
    (root / "imgs.idx").write_bytes(idx)
    (root / "truncated.idx").write_bytes(idx[:-40])
    (root / "truncated.idx.gz").write_bytes(gzip.compress(idx)[:-30])
    (root / "notgzip.idx.gz").write_bytes(idx)
    ck = sorted((root / "run" / "checkpoints").glob("*.safetensors"))[-1].read_bytes()
    (root / "truncated.safetensors").write_bytes(ck[: len(ck) // 3])
    (root / "random.safetensors").write_bytes(rng.bytes(600))
    (root / "afile").write_text("a regular file\n")
    (root / "notarun").mkdir()
    (root / "notarun" / "readme.txt").write_text("not a run\n")
    (root / "imgdir").mkdir()
    (root / "imgdir" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + rng.bytes(50))
    return root


RUN = "{ws}/run"
FAST = ["--set", "train.steps=2", "--set", "train.progress=false"]
IMG = ["--set", "model.g_hidden=[16]", "--set", "model.d_hidden=[16]", "--set", "data.batch_size=4"]

# ---- generated families --------------------------------------------------------------------------------
# every slot that takes a file, with every kind of bad file: the message must name the file
BAD_FILES = {"missing": "{ws}/nope{ext}", "directory": "{ws}/adir{ext}", "empty": "{ws}/empty{ext}",
             "random bytes": "{ws}/random{ext}", "truncated": "{ws}/truncated{ext}"}
FILE_SLOTS = {  # slot: (argv with {f}, extension of its files, kinds that apply)
    "train config": (["train", "{f}"], ".yaml", ["missing", "directory", "empty"]),
    "train --resume": (["train", "ring8-gan", "--run-dir", "{ws}/new", "--resume", "{f}"], ".safetensors",
                       ["missing", "random bytes", "truncated"]),
    "generate source": (["generate", "{f}", "-n", "4", "--out", "{ws}/new.npz"], ".safetensors",
                        ["missing", "random bytes", "truncated"]),
    "evaluate source": (["evaluate", "{f}", "--metrics", "fid", "--n", "10"], ".safetensors",
                        ["missing", "random bytes", "truncated"]),
    "evaluate --fake": (["evaluate", "--real", "{ws}/imgs.npz", "--fake", "{f}", "--features", "mnist"], ".npz",
                        ["missing", "directory", "empty", "random bytes", "truncated"]),
    "evaluate --real": (["evaluate", "--real", "{f}", "--fake", "{ws}/imgs.npz", "--features", "mnist"], ".npz",
                        ["missing", "directory", "empty", "random bytes", "truncated"]),
    "data npz:": (["train", "ring8-gan", "--set", "data.name=npz:{f}", "--run-dir", "{ws}/new", *FAST], ".npz",
                  ["missing", "directory", "empty", "random bytes", "truncated"]),
    "data idx:": (["train", "ring8-gan", "--set", "data.name=idx:{f}", "--run-dir", "{ws}/new", *FAST], ".idx",
                  ["missing", "truncated"]),
}
CASES: list[Case] = []
for slot, (argv, ext, kinds) in FILE_SLOTS.items():
    for kind in kinds:
        f = BAD_FILES[kind].replace("{ext}", ext)
        CASES.append(Case(f"{slot}: {kind}", [a.replace("{f}", f) for a in argv], [Path(f).name]))

# numbers on every command: (argv with {v}, bad values, the name the message must carry)
NUMBERS = [
    (["generate", RUN, "-n", "{v}", "--out", "{ws}/new.npz"], ["0", "-5"], "-n"),
    (["generate", RUN, "-n", "{v}", "--out", "{ws}/new.npz"], ["1000000000000"], "1000000000000 samples"),
    (["generate", RUN, "-n", "4", "--seed", "{v}", "--out", "{ws}/new.npz"], ["-1", str(2**64)], "--seed"),
    (["generate", RUN, "-n", "4", "--class", "{v}", "--out", "{ws}/new.npz"], ["0", "-1"], "class"),
    (["generate", RUN, "-n", "4", "--code", "{v}", "--out", "{ws}/new.npz"], ["0"], "code"),
    (["generate", RUN, "-n", "4", "--truncation", "{v}", "--out", "{ws}/new.npz"], ["0", "1.5", "nan"],
     "--truncation"),
    (["generate", RUN, "-n", "4", "--jacobian-keep", "{v}", "--out", "{ws}/new.npz"], ["0", "1.5", "nan"],
     "--jacobian-keep"),
    (["generate", RUN, "-n", "4", "--jacobian-keep", "{v}", "--out", "{ws}/new.npz"], ["1e-12"], "samples"),
    (["interpolate", RUN, "--steps", "{v}", "--out", "{ws}/new.npz"], ["1", "-3"], "--steps"),
    (["interpolate", RUN, "--rows", "{v}", "--out", "{ws}/new.npz"], ["0"], "--rows"),
    (["interpolate", RUN, "--seed", "{v}", "--out", "{ws}/new.npz"], ["-1"], "--seed"),
    (["evaluate", RUN, "--metrics", "modes", "--n", "{v}"], ["-3", "0", "1"], "--n"),
    (["evaluate", RUN, "--metrics", "modes", "--n", "10", "--n-ref", "{v}"], ["0", "-1"], "--n-ref"),
    (["evaluate", RUN, "--metrics", "modes", "--n", "10", "--seed", "{v}"], ["-1"], "--seed"),
    (["evaluate", RUN, "--metrics", "modes", "--n", "10", "--jacobian-keep", "{v}"], ["0", "2"], "--jacobian-keep"),
    (["evaluate", RUN, "--metrics", "modes", "--n", "{v}"], ["1000000000000"], "1000000000000 samples"),
    (["train", "ring8-gan", "--set", "data.batch_size={v}", "--dry-run"], ["10000000000"], "data.batch_size"),
    (["train", "ring8-gan", "--set", "data.batch_size={v}", "--run-dir", "{ws}/new"], ["10000000000"],
     "data.batch_size=10000000000"),
    (["train", "ring8-gan", "--set", "train.seed={v}"], ["-1", str(2**40)], "train.seed"),
    (["train", "ring8-gan", "--set", "train.steps={v}"], ["0", "-2", "1.5", "many"], "train.steps"),
    (["train", "ring8-gan", "--set", "model.z_dim={v}"], ["0", "nan"], "model.z_dim"),
    (["train", "ring8-gan", "--set", "optim.lr_g={v}"], ["nan", "inf", "0"], "optim.lr_g"),
    (["train", "ring8-gan", "--set", "train.eval_n={v}", "--set", "train.eval_every=5"], ["1"], "train.eval_n"),
    (["train", "ring8-gan", "--set", "train.eval_every=5", "--set", "train.eval_n={v}", "--set",
      "train.eval_metrics=modes", "--set", "data.batch_size=8", "--dry-run"], ["100000000000000"], "samples"),
]
for argv, values, name in NUMBERS:
    for v in values:
        CASES.append(Case(f"{argv[0]} {name}={v}", [a.replace("{v}", v) for a in argv], [name]))

# ---- each class of the issue, by hand where a family does not reach ---------------------------------------
CASES += [
    # files that are not what they say
    Case("config of random bytes", ["train", "{ws}/binary.yaml"], ["binary.yaml", "not UTF-8"]),
    Case("config with a duplicate key", ["train", "{ws}/dup.yaml"], ["dup.yaml", "'steps' appears twice"]),
    Case("config with a duplicate section", ["train", "{ws}/dupsec.yaml"], ["'train' appears twice"]),
    Case("config of comments only", ["train", "{ws}/comments.yaml"], ["comments.yaml", "is empty"]),
    Case("config that is a list", ["train", "{ws}/list.yaml"], ["list.yaml", "mapping"]),
    Case("config with broken YAML", ["train", "{ws}/notyaml.yaml"], ["notyaml.yaml", "not valid YAML"]),
    Case("npz without x", ["train", "ring8-gan", "--set", "data.name=npz:{ws}/noxs.npz", "--run-dir", "{ws}/new"],
         ["noxs.npz", "no array 'x'"]),
    Case("npz of floats", ["train", "ring8-gan", "--set", "data.name=npz:{ws}/floats.npz", "--run-dir", "{ws}/new"],
         ["floats.npz", "uint8"]),
    Case("npy, batch too large", ["train", "ring8-gan", "--set", "data.name=npz:{ws}/plain.npy", "--run-dir",
                                  "{ws}/new"], ["plain.npy", "data.batch_size=256", "12 samples"]),
    Case("idx.gz truncated", ["train", "ring8-gan", "--set", "data.name=idx:{ws}/truncated.idx.gz"],
         ["truncated.idx.gz", "gzip"]),
    Case("idx.gz not gzip", ["train", "ring8-gan", "--set", "data.name=idx:{ws}/notgzip.idx.gz"],
         ["notgzip.idx.gz", "gzip"]),
    Case("folder of broken images, fail", ["train", "ring8-gan", "--set", "data.name=folder:{ws}/imgdir", "--set",
                                           "data.on_error=fail"], ["broken.png"]),
    Case("folder of broken images, skip", ["train", "ring8-gan", "--set", "data.name=folder:{ws}/imgdir"],
         ["none of the 1 image files"]),
    Case("folder that is a file", ["train", "ring8-gan", "--set", "data.name=folder:{ws}/afile"], ["afile"]),
    # labels
    Case("labels -1", ["train", "ring8-gan", "--set", "data.name=npz:{ws}/neg_labels.npz", "--run-dir", "{ws}/new",
                       *IMG], ["neg_labels.npz", "-1"]),
    Case("labels 10**12", ["train", "ring8-gan", "--set", "data.name=npz:{ws}/huge_labels.npz", "--run-dir",
                           "{ws}/new", *IMG], ["huge_labels.npz", "1000000000000"]),
    Case("labels 0.5", ["train", "ring8-gan", "--set", "data.name=npz:{ws}/frac_labels.npz", "--run-dir",
                        "{ws}/new", *IMG], ["frac_labels.npz", "non-integer"]),
    # names half understood
    Case("evaluate mnist:validation", ["evaluate", "--real", "mnist:validation", "--fake", "{ws}/imgs.npz"],
         ["mnist:validation", "mnist@test"]),
    Case("evaluate mnist@validation", ["evaluate", "--real", "mnist@validation", "--fake", "{ws}/imgs.npz"],
         ["validation"]),
    Case("train mnist:validation", ["train", "mnist-dcgan", "--set", "data.name=mnist:validation", "--dry-run"],
         ["mnist:validation"]),
    Case("train digits:3", ["train", "ring8-gan", "--set", "data.name=digits:3", "--dry-run"], ["digits:3"]),
    Case("train stacked-mnist:lots", ["train", "ring8-gan", "--set", "data.name=stacked-mnist:lots", "--dry-run"],
         ["lots"]),
    Case("train ring8:x", ["train", "ring8-gan", "--set", "data.name=ring8:x", "--dry-run"], ["ring8:x"]),
    # numbers and sizes that are valid alone but not for the data
    Case("evaluate 2 images with dc", ["evaluate", "--real", "{ws}/imgs.npz", "--fake", "{ws}/two.npz",
                                       "--features", "mnist", "--metrics", "dc"], ["'dc'", "at least 6"]),
    Case("evaluate 2 images with is", ["evaluate", "--real", "{ws}/imgs.npz", "--fake", "{ws}/two.npz",
                                       "--metrics", "is"], ["'is'", "at least 10"]),
    Case("evaluate --n-ref 3 with pr", ["evaluate", "--real", "{ws}/imgs.npz", "--fake", "{ws}/imgs.npz",
                                        "--features", "mnist", "--metrics", "pr", "--n-ref", "3"], ["at least 4"]),
    Case("eval features mnist on points", ["train", "ring8-gan", "--set", "train.eval_every=5", "--set",
                                           "train.eval_features=mnist", "--dry-run"], ["mnist", "points"]),
    Case("eval metric is on points", ["train", "ring8-gan", "--set", "train.eval_every=5", "--set",
                                      "train.eval_metrics=is", "--dry-run"], ["'is'"]),
    Case("eval modes on MNIST", ["train", "mnist-dcgan", "--set", "train.eval_every=5", "--set",
                                 "train.eval_metrics=modes", "--dry-run"], ["modes"]),
    Case("batch larger than the data", ["train", "ring8-gan", "--set", "data.name=npz:{ws}/imgs.npz", "--set",
                                        "data.batch_size=13", "--dry-run"], ["data.batch_size=13", "12"]),
    # the file system
    Case("run dir is a file", ["train", "ring8-gan", "--run-dir", "{ws}/afile"], ["afile", "is a file"]),
    Case("run dir is a file, resume", ["train", "ring8-gan", "--run-dir", "{ws}/afile", "--resume", "auto"],
         ["afile", "is a file"]),
    Case("run dir below a file", ["train", "ring8-gan", "--run-dir", "{ws}/afile/run"], ["afile"]),
    Case("run dir used", ["train", "ring8-gan", "--run-dir", RUN], ["already exists"]),
    Case("generate --out a directory", ["generate", RUN, "-n", "4", "--out", "{ws}/adir.npz"], ["adir.npz",
                                                                                                  "directory"]),
    Case("generate --out below a file", ["generate", RUN, "-n", "4", "--out", "{ws}/afile/x.npz"], ["afile"]),
    Case("generate --out .jpg", ["generate", RUN, "-n", "4", "--out", "{ws}/x.jpg"], [".png or .npz"]),
    Case("generate from a non-run", ["generate", "{ws}/notarun", "-n", "4", "--out", "{ws}/new.npz"],
         ["notarun"]),
    Case("evaluate --out a directory", ["evaluate", RUN, "--metrics", "modes", "--n", "10", "--out", "{ws}/adir.npz"],
         ["adir.npz"]),
    Case("report a file", ["report", "{ws}/afile"], ["afile"]),
    Case("report a missing dir", ["report", "{ws}/nope"], ["nope", "does not exist"]),
    Case("report a non-run", ["report", "{ws}/notarun"], ["not a ganforge run"]),
    # algorithms
    Case("--code without codes", ["generate", RUN, "-n", "4", "--code", "3", "--out", "{ws}/new.npz"], ["code"]),
    Case("codes metric on gan", ["evaluate", RUN, "--metrics", "codes"], ["codes", "infogan"]),
    # argparse's own refusals (exit 2, usage, no traceback)
    Case("list of nothing", ["list", "nothing"], ["invalid choice"]),
    Case("generate -n abc", ["generate", RUN, "-n", "abc", "--out", "{ws}/new.npz"], ["invalid int value"]),
    Case("evaluate --ref validation", ["evaluate", RUN, "--ref", "validation"], ["invalid choice"]),
]


def _fill(s: str, ws: Path) -> str:
    return s.replace("{ws}", str(ws))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(case: Case, ws: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    before = _hash_tree(ws)
    argv = [_fill(a, ws) for a in case.argv]
    try:
        code = cli.main(argv)
    except SystemExit as e:  # argparse
        code = e.code
    err = capsys.readouterr().err
    assert code == case.code, f"exit {code}, stderr: {err}"
    assert "Traceback" not in err
    for text in case.expect:
        assert _fill(text, ws) in err, f"{text!r} not in: {err}"
    assert _hash_tree(ws) == before, "a file in the workspace changed"
    assert not (tmp_path / "runs").exists()


# ---- permissions: a read-only run directory, parent and output place --------------------------------------
@pytest.fixture(scope="module")
def readonly(ws, tmp_path_factory):
    """A directory that cannot be written, holding a copy of the run: a read-only tmpfs (as root, who
    ignores file modes), or chmod 555 (as another user)."""
    root = tmp_path_factory.mktemp("ro")
    mnt = root / "ro"
    mnt.mkdir()
    if os.geteuid() == 0:
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)],
                          capture_output=True).returncode != 0:
            pytest.skip("root without mount: cannot make a read-only directory")
        shutil.copytree(ws / "run", mnt / "run")
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        yield mnt
        subprocess.run(["umount", str(mnt)], capture_output=True)
    else:
        shutil.copytree(ws / "run", mnt / "run")
        for p in [mnt, *mnt.rglob("*")]:
            p.chmod(0o555 if p.is_dir() else 0o444)
        yield mnt
        for p in [mnt, *mnt.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)


READ_ONLY = [
    Case("train into a read-only parent", ["train", "ring8-gan", "--run-dir", "{ro}/new", *FAST], ["{ro}"]),
    Case("train a fresh run in a read-only dir", ["train", "ring8-gan", "--run-dir", "{ro}", *FAST], ["{ro}"]),
    Case("resume a read-only run", ["train", "--run-dir", "{ro}/run", "--resume", "auto", "--set", "train.steps=8"],
         ["{ro}/run"]),
    Case("generate into a read-only dir", ["generate", "{ro}/run", "-n", "4", "--out", "{ro}/x.npz"], ["{ro}/x.npz"]),
    Case("evaluate --out into a read-only dir", ["evaluate", "{ro}/run", "--metrics", "modes", "--n", "10", "--out",
                                                 "{ro}/m.json"], ["{ro}/m.json"]),
    Case("report a read-only run", ["report", "{ro}/run"], ["{ro}/run"]),
]


@pytest.mark.parametrize("case", READ_ONLY, ids=[c.id for c in READ_ONLY])
def test_read_only_places(case: Case, readonly: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    before = _hash_tree(readonly)
    try:
        code = cli.main([a.replace("{ro}", str(readonly)) for a in case.argv])
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert "cannot be written" in err or "read-only" in err or "permission denied" in err, err
    for text in case.expect:
        assert text.replace("{ro}", str(readonly)) in err, err
    assert _hash_tree(readonly) == before


def test_battery_size() -> None:
    """The README's figure: inputs in the battery (each with its own expectations above)."""
    print(f"hostile-input battery: {len(CASES) + len(READ_ONLY)} cases")
    assert len(CASES) >= 100
    assert len({c.id for c in CASES}) == len(CASES)


# ---- a test per class that needs more than a refusal ----------------------------------------------------------
def test_any_channel_count_trains_and_draws(tmp_path: Path) -> None:
    """A 5-channel NPZ trains and every picture is drawn: one grayscale tile per channel, side by side."""
    from PIL import Image

    rng = np.random.default_rng(1)
    np.savez(tmp_path / "five.npz", x=rng.integers(0, 256, (16, 8, 8, 5), dtype=np.uint8))
    run = ganforge.train("ring8-gan", [f"data.name=npz:{tmp_path / 'five.npz'}", "train.steps=2",
                                       "train.progress=false", "train.sample_every=1", "data.batch_size=4",
                                       "model.g_hidden=[16]", "model.d_hidden=[16]"], run_dir=tmp_path / "run")
    assert run.step == 2
    grid = Image.open(tmp_path / "run" / "samples" / "step_00000002.png")
    assert grid.mode == "L"
    n_side = 8  # 64 samples in an 8 x 8 grid, pad 2: each tile 5 channels x 8 px wide
    assert grid.size == (n_side * (5 * 8 + 2) + 2, n_side * (8 + 2) + 2)
    assert (tmp_path / "run" / "real_vs_fake.png").is_file()
    assert Image.open(tmp_path / "run" / "samples.gif").n_frames == 2


def _long_run_logging(launch: list[str], tmp_path: Path, cli_env, lines: int, **popen) -> subprocess.Popen:
    """`ganforge train ring8-gan` for 100,000 steps into tmp_path/cut (launched as `python LAUNCH ...`), returned
    once its log holds `lines` records (one per 5 steps), i.e. mid-training with no checkpoint written yet."""
    import sys
    import time

    proc = subprocess.Popen([sys.executable, *launch, "train", "ring8-gan", "--run-dir", "cut", "--set",
                             "train.steps=100000", "--set", "train.ckpt_every=100000", "--set", "train.log_every=5",
                             "--no-progress"], env=cli_env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)
    log = tmp_path / "cut" / "log.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (log.is_file() and log.read_text().count("\n") >= lines):
        time.sleep(0.02)
    return proc


def test_quick_sigints_wait_for_the_checkpoint(tmp_path: Path, cli_env) -> None:
    """SIGINTs 10 ms apart mid-training (the issue's double Ctrl-C, and more): exit 130, the later ones
    wait, and the checkpoint the message names was written at the step where training stopped (the steps
    since the last ckpt_every are kept)."""
    import re
    import signal
    import time

    from ganforge import checkpoint
    from ganforge.train.rundir import RunDir

    proc = _long_run_logging(["-m", "ganforge"], tmp_path, cli_env, lines=4)
    for _ in range(5):  # signals are not queued: spaced out, so that some arrive after the first was handled
        proc.send_signal(signal.SIGINT)
        time.sleep(0.01)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "already stopping" in err
    m = re.search(r"SIGINT at step (\d+); checkpoint '([^']+)' written", err)
    assert m, err
    step = int(m.group(1))
    assert step >= 20  # past the 4 log lines: no periodic checkpoint exists, this one is the signal's
    ckpts = RunDir(tmp_path / "cut").checkpoints()
    assert [p.name for p in ckpts] == [f"step_{step:08d}.safetensors"]
    assert checkpoint.load(ckpts[0], kind="checkpoint")["step"] == step


@pytest.mark.parametrize("late", ["SIGINT", "SIGTERM"])
def test_a_signal_while_the_stopped_process_exits_changes_nothing(tmp_path: Path, cli_env, late: str) -> None:
    """A run stopped by SIGINT, then hit by one more signal while the interpreter exits (here from an atexit
    callback, the last Python code that runs): the exit stays 130 with a clean message. Before the fix the
    CLI put Python's own handlers back when its command ended, so the late SIGINT raised KeyboardInterrupt
    in the atexit callback (and, in CI, killed the process by SIGINT: exit -2, after the checkpoint was
    written)."""
    import signal

    script = ("import atexit, os, signal, sys, time\n"
              f"atexit.register(lambda: (os.kill(os.getpid(), signal.{late}), time.sleep(0.3)))\n"
              "sys.argv = ['ganforge'] + sys.argv[1:]\n"
              "from ganforge.cli import main\n"
              "sys.exit(main())\n")
    # SIGINT as from a terminal, also when this suite runs as a background job (SIGINT ignored)
    proc = _long_run_logging(["-c", script], tmp_path, cli_env, lines=2,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted: SIGINT at step" in err
    assert "KeyboardInterrupt" not in err and "Exception ignored" not in err and "Traceback" not in err, err
