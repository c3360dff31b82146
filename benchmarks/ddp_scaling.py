#!/usr/bin/env python
"""DDP scaling on this machine: the same training job (same global batch) in 1 process and in N processes
under torchrun, side by side.

    python benchmarks/ddp_scaling.py [--nproc 2] [--reps 3] [--steps 60]

Each launch is `torchrun --standalone --nproc_per_node=P -m ganforge train PRESET` with the machine's
cores divided among the processes (OMP_NUM_THREADS = cores / P), so every launch uses the same cores.
The rate is the global samples/s that ganforge logs (log.jsonl), after the first log interval
(start-up, process-group set-up and the first steps are left out). Launches alternate within each
repetition; the table shows medians, the speed-up and the parallel efficiency (speed-up / P).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CONFIGS = {  # name: (preset, global batch)
    "DCGAN, MNIST 28x28, batch 256": ("mnist-dcgan", 256),
    "MLP, ring8, batch 512": ("ring8-gan", 512),
}


def launch(preset: str, batch: int, nproc: int, steps: int, log_every: int, run_dir: Path, cores: int) -> float:
    """One torchrun launch; returns the median logged global samples/s after the first interval."""
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, OMP_NUM_THREADS=str(max(1, cores // nproc)),
               PYTHONPATH=f"{root / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "ganforge", "train", preset, "--run-dir", str(run_dir), "--no-progress",
           "--set", f"data.batch_size={batch}", "--set", f"train.steps={steps}", "--set", f"train.log_every={log_every}",
           "--set", "train.sample_every=100000", "--set", "train.ckpt_every=100000", "--set", "train.device=cpu"]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"torchrun failed ({r.returncode}):\n{r.stderr[-3000:]}")
    rates = [json.loads(line)["samples_per_s"] for line in (run_dir / "log.jsonl").read_text().splitlines()]
    return statistics.median(rates[1:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nproc", type=int, default=2, help="processes of the parallel launch")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--only", default=None, help="one configuration name")
    a = p.parse_args()
    cores = len(os.sched_getaffinity(0))
    tmp = Path(tempfile.mkdtemp(prefix="ganforge-ddp-"))
    rows = []
    for name in ([a.only] if a.only else CONFIGS):
        preset, batch = CONFIGS[name]
        rates: dict[int, list[float]] = {1: [], a.nproc: []}
        for rep in range(a.reps):
            for nproc in rates:
                rates[nproc].append(launch(preset, batch, nproc, a.steps, max(1, a.steps // 6),
                                           tmp / f"{preset}-{nproc}-{rep}", cores))
        one, many = (statistics.median(rates[k]) for k in (1, a.nproc))
        rows.append((name, one, many, many / one, many / one / a.nproc))
        print(f"{name}: 1 process {one:.0f}/s, {a.nproc} processes {many:.0f}/s", file=sys.stderr)
    print(f"| configuration | 1 process ({cores} threads) | {a.nproc} processes ({max(1, cores // a.nproc)} "
          f"thread(s) each) | speed-up | efficiency |")
    print("|---|---|---|---|---|")
    for name, one, many, up, eff in rows:
        print(f"| {name} | {one:,.0f} samples/s | {many:,.0f} samples/s | **{up:.2f}x** | {eff:.0%} |")


if __name__ == "__main__":
    main()
