#!/usr/bin/env python
"""ganforge's training loop against the textbook loop (benchmarks/textbook_dcgan.py), side by side.

    python benchmarks/throughput.py [--reps 5] [--steps N] [--set train.precision=bf16]

Same architecture (both loops build their networks with ganforge's registry from one seed), same batch,
same thread count, EMA off in ganforge so both do the same work. Rates: both loops live in one process
and alternate blocks of steps (about 2 s each), so machine noise hits both alike; the table shows the
median samples/s of each, the ratio of the medians and the range of the per-block paired ratios.
Peak resident memory: each loop alone in its own process. --set changes ganforge's loop only (the
textbook loop stays fp32, contiguous, unfused).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

STEPS = {"MLP, ring8, batch 512": 100, "DCGAN, MNIST 28x28, batch 64": 60, "DCGAN, MNIST 28x28, batch 256": 15,
         "DCGAN, 64x64, batch 64": 6}  # a block of about 2 s on 2 CPU cores
CONFIGS = {  # name: (preset, batch, extra overrides)
    "MLP, ring8, batch 512": ("ring8-gan", 512, []),
    "DCGAN, MNIST 28x28, batch 64": ("mnist-dcgan", 64, []),
    "DCGAN, MNIST 28x28, batch 256": ("mnist-dcgan", 256, []),
    "DCGAN, 64x64, batch 64": ("mnist-dcgan", 64, ["data.name=npz:{npz64}"]),
}


def mnist64(path: Path) -> None:
    """MNIST padded to 32x32 and doubled to 64x64, as an NPZ dataset."""
    import numpy as np

    from ganforge.data.images import mnist_arrays
    x = np.pad(mnist_arrays("train")[0][:20000], ((0, 0), (2, 2), (2, 2)))
    np.savez(path, x=x.repeat(2, axis=1).repeat(2, axis=2))


def build(loop: str, name: str, npz64: str, overrides: list[str]) -> Callable[[int], float]:
    """The loop `loop` for configuration `name`, warmed up: a function that trains n steps and returns
    samples/s. Both loops get networks from ganforge's registry, built from the same seed."""
    import torch

    from ganforge.config import resolve
    from ganforge.data.source import load_source
    preset, batch, extra = CONFIGS[name]
    base = [o.format(npz64=npz64) for o in extra] + [f"data.batch_size={batch}", "train.ema=0", "train.progress=false"]
    if loop == "ganforge":
        from ganforge.train.loop import train_step
        from ganforge.train.state import build_state
        st = build_state(resolve(preset, base + overrides))

        def run(n: int) -> float:
            t = time.perf_counter()
            for _ in range(n):
                train_step(st)
            return n * batch / (time.perf_counter() - t)
    else:
        from benchmarks.textbook_dcgan import ImageDataset, PointDataset, textbook_loop
        from ganforge.registries import NETWORKS
        from ganforge.train.state import generator_output
        cfg = resolve(preset, base)
        torch.manual_seed(cfg.train.seed)
        src = load_source(cfg.data.name, cfg.data)
        G, D = NETWORKS.get(cfg.model.arch)(cfg.model, src.shape, 0, generator_output(cfg, src.kind))
        data = ImageDataset(src.x.numpy()) if src.kind == "images" else PointDataset(src.sample(100_000).numpy())

        def run(n: int) -> float:
            return textbook_loop(G, D, data, batch, cfg.model.z_dim, n, cfg.optim.lr_d)
    run(3)  # warm-up (oneDNN primitive caches, allocator)
    return run


def rates(name: str, reps: int, steps: int, npz64: str, overrides: list[str]) -> dict[str, list[float]]:
    """Both loops in this process, alternating blocks of `steps` steps, `reps` times."""
    loops = {"textbook": build("textbook", name, npz64, []), "ganforge": build("ganforge", name, npz64, overrides)}
    out: dict[str, list[float]] = {k: [] for k in loops}
    for _ in range(reps):
        for k, run in loops.items():
            out[k].append(run(steps))
    return out


def memory(loop: str, name: str, npz64: str, overrides: list[str]) -> dict:
    """Peak resident memory of one loop alone (this process) over a few steps."""
    build(loop, name, npz64, overrides)(5)
    import torch
    return {"peak_rss_mib": peak_rss_mib(), "threads": torch.get_num_threads()}


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it does not carry the parent's peak
    across fork + exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--steps", type=int, default=0, help="steps per block (default: about 2 s of work)")
    p.add_argument("--only", default=None, help="one configuration name")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override for ganforge's loop only, e.g. train.precision=bf16 (repeatable)")
    p.add_argument("--memory", nargs=2, metavar=("LOOP", "CONFIG"), help=argparse.SUPPRESS)
    p.add_argument("--npz64", default="", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.memory:
        print(json.dumps(memory(a.memory[0], a.memory[1], a.npz64, a.set)))
        return
    tmp = Path(tempfile.mkdtemp(prefix="ganforge-throughput-"))
    npz64 = tmp / "mnist64.npz"
    mnist64(npz64)
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=f"{root}{os.pathsep}{root / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    sys.path[:0] = [str(root), str(root / "src")]
    rows = []
    for name in ([a.only] if a.only else CONFIGS):
        steps = a.steps or STEPS[name]
        r = rates(name, a.reps, steps, str(npz64), a.set)
        med = {k: statistics.median(v) for k, v in r.items()}
        paired = sorted(g / t for g, t in zip(r["ganforge"], r["textbook"]))
        mem = {}
        for loop in ("textbook", "ganforge"):
            out = subprocess.run([sys.executable, __file__, "--memory", loop, name, "--npz64", str(npz64),
                                  *[x for kv in a.set for x in ("--set", kv)]],
                                 env=env, capture_output=True, text=True, check=True)
            mem[loop] = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append((name, med["ganforge"], med["textbook"], med["ganforge"] / med["textbook"], paired[0], paired[-1],
                     mem["ganforge"]["peak_rss_mib"], mem["textbook"]["peak_rss_mib"], mem["ganforge"]["threads"]))
        print(f"{name}: ganforge {med['ganforge']:.0f}/s, textbook {med['textbook']:.0f}/s, paired ratios "
              f"{', '.join(f'{x:.2f}' for x in paired)}", file=sys.stderr)
    print(f"ganforge overrides: {' '.join(a.set) or 'none'}; {a.reps} alternating blocks per configuration")
    print("| configuration | ganforge samples/s | textbook samples/s | ratio (paired range) | peak MiB (ganforge / textbook) | threads |")
    print("|---|---|---|---|---|---|")
    for name, g, t, r, lo, hi, mg, mt, th in rows:
        print(f"| {name} | {g:,.0f} | {t:,.0f} | **{r:.2f}x** ({lo:.2f}-{hi:.2f}) | {mg:.0f} / {mt:.0f} | {th} |")


if __name__ == "__main__":
    main()
