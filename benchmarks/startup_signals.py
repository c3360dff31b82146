#!/usr/bin/env python
"""Ctrl-C during start-up: SIGINT sent at random moments into `ganforge train` (a 300-step ring8-r1 run),
each outcome counted. What the README's reliability section quotes for start-up signals.

    python benchmarks/startup_signals.py                        # 30 trials, SIGINT 1.5-5.0 s after launch
    python benchmarks/startup_signals.py --src src OTHER/src    # A/B: each moment tried on both trees in turn

Outcomes: `before-cli` (the signal came before ganforge's handler was installed: Python's own
KeyboardInterrupt, killed by SIGINT), `outside-loop` (exit 130, "interrupted outside the training loop"),
`noted` (a library swallowed the interrupt; the loop stopped before step 1, exit 130), `in-loop` (exit 130
after a checkpoint), `after-command` (the run had trained to its end and written its last checkpoint before the
signal came; the command was finishing or the process exiting, where a late signal is ignored: exit 0),
`ran-on` (the signal was lost: the run trained to its end after it, exit 0), `other` (anything else,
printed). Where the signal lands depends on the machine's speed and load: widen --from/--to to cover the
start-up of a slower or faster machine (about 2-5 s on 2 busy CPU cores).
"""
from __future__ import annotations

import argparse
import collections
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEPS = 300
SETS = ["model.g_hidden=[32,32]", "model.d_hidden=[32,32]", "data.batch_size=64", "train.ckpt_every=10",
        "train.sample_every=1000", f"train.steps={STEPS}", "train.log_every=1", "train.progress=false"]


def trial(delay: float, src: Path, work: Path) -> tuple[str, str]:
    run = work / "r"
    shutil.rmtree(run, ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=str(src))
    args = [sys.executable, "-m", "ganforge", "train", "ring8-r1", "--run-dir", str(run)]
    args += [x for s in SETS for x in ("--set", s)]
    proc = subprocess.Popen(args, env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as from a terminal
    time.sleep(delay)
    finished = (run / "checkpoints" / f"step_{STEPS:08d}.safetensors").is_file()  # the run's last checkpoint
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate()
    last = err.strip().splitlines()[-1] if err.strip() else ""
    rc = proc.returncode
    if rc == 0:
        return ("after-command" if finished else "ran-on"), last
    if rc == -signal.SIGINT and "ganforge:" not in err:
        return "before-cli", last
    if rc == 130 and "outside the training loop" in err:
        return "outside-loop", last
    if rc == 130 and "during start-up" in err:
        return "noted", last
    if rc == 130 and "SIGINT at step" in err:
        return "in-loop", last
    return "other", f"exit {rc}: {last}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=30)
    p.add_argument("--from", dest="lo", type=float, default=1.5, help="earliest signal, seconds after launch")
    p.add_argument("--to", dest="hi", type=float, default=5.0, help="latest signal, seconds after launch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--src", type=Path, nargs="+", default=[ROOT / "src"],
                   help="the ganforge source tree(s) to run; several: each moment is tried on each in turn")
    a = p.parse_args()
    rng = random.Random(a.seed)
    counts: dict[Path, collections.Counter[str]] = {s: collections.Counter() for s in a.src}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(a.trials):
            delay = rng.uniform(a.lo, a.hi)
            for src in a.src:
                outcome, last = trial(delay, src, Path(tmp))
                counts[src][outcome] += 1
                if outcome == "other":
                    print(f"trial {i} ({delay:.2f} s, {src}): {last}")
    print(f"{a.trials} SIGINTs {a.lo}-{a.hi} s after launch, outcomes per source tree:")
    print(f"  {'outcome':13s} " + " ".join(f"{str(s):>24s}" for s in a.src))
    for k in ("before-cli", "outside-loop", "noted", "in-loop", "after-command", "ran-on", "other"):
        print(f"  {k:13s} " + " ".join(f"{counts[s][k]:>24d}" for s in a.src))


if __name__ == "__main__":
    main()
