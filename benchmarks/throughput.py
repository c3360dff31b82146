#!/usr/bin/env python
"""ganforge's training loop against the textbook loop (benchmarks/textbook_dcgan.py), side by side.

    python benchmarks/throughput.py [--reps 3] [--steps 30]

Same networks (built by ganforge's registry from one seed), same batch, same thread count, EMA off in
ganforge so both do the same work; each measurement runs in its own process (so peak memory is its
own), and the two loops alternate within each repetition. Prints samples/s (median over
repetitions), the ratio ganforge / textbook, and peak resident memory.
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


def one(loop: str, name: str, steps: int, warmup: int, npz64: str) -> dict:
    """One measurement in this process."""
    import torch

    from ganforge.config import resolve
    from ganforge.data.source import load_source
    preset, batch, extra = CONFIGS[name]
    overrides = [o.format(npz64=npz64) for o in extra] + [f"data.batch_size={batch}", "train.ema=0",
                                                          "train.progress=false", f"train.log_every={steps}"]
    cfg = resolve(preset, overrides)
    if loop == "ganforge":
        from ganforge.train.loop import train_loop
        from ganforge.train.state import build_state
        cfg.train.steps = warmup
        st = build_state(cfg)
        train_loop(st, None, [])
        cfg.train.steps = warmup + steps
        t = time.perf_counter()
        train_loop(st, None, [])
        rate = steps * batch / (time.perf_counter() - t)
    else:
        from benchmarks.textbook_dcgan import ImageDataset, PointDataset, textbook_loop
        from ganforge.registries import NETWORKS
        from ganforge.train.state import generator_output
        torch.manual_seed(cfg.train.seed)
        src = load_source(cfg.data.name, cfg.data)
        G, D = NETWORKS.get(cfg.model.arch)(cfg.model, src.shape, 0, generator_output(cfg, src.kind))
        data = ImageDataset(src.x.numpy()) if src.kind == "images" else PointDataset(src.sample(100_000).numpy())
        textbook_loop(G, D, data, batch, cfg.model.z_dim, warmup, cfg.optim.lr_d)
        rate = textbook_loop(G, D, data, batch, cfg.model.z_dim, steps, cfg.optim.lr_d)
    return {"samples_per_s": rate, "peak_rss_mib": peak_rss_mib(), "threads": torch.get_num_threads()}


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it does not carry the parent's peak
    across fork + exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--only", default=None, help="one configuration name")
    p.add_argument("--one", nargs=2, metavar=("LOOP", "CONFIG"), help=argparse.SUPPRESS)
    p.add_argument("--npz64", default="", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.one:
        print(json.dumps(one(a.one[0], a.one[1], a.steps, a.warmup, a.npz64)))
        return
    tmp = Path(tempfile.mkdtemp(prefix="ganforge-throughput-"))
    npz64 = tmp / "mnist64.npz"
    mnist64(npz64)
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=f"{root}{os.pathsep}{root / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    rows = []
    for name in ([a.only] if a.only else CONFIGS):
        runs: dict[str, list[dict]] = {"ganforge": [], "textbook": []}
        for _ in range(a.reps):
            for loop in ("textbook", "ganforge"):
                out = subprocess.run([sys.executable, __file__, "--one", loop, name, "--steps", str(a.steps),
                                      "--warmup", str(a.warmup), "--npz64", str(npz64)], env=env,
                                     capture_output=True, text=True, check=True)
                runs[loop].append(json.loads(out.stdout.strip().splitlines()[-1]))
        med = {k: statistics.median(r["samples_per_s"] for r in v) for k, v in runs.items()}
        mem = {k: max(r["peak_rss_mib"] for r in v) for k, v in runs.items()}
        rows.append((name, med["ganforge"], med["textbook"], med["ganforge"] / med["textbook"], mem["ganforge"],
                     mem["textbook"], runs["ganforge"][0]["threads"]))
        print(f"{name}: ganforge {med['ganforge']:.0f}/s, textbook {med['textbook']:.0f}/s", file=sys.stderr)
    print("| configuration | ganforge samples/s | textbook samples/s | ratio | peak MiB (ganforge / textbook) | threads |")
    print("|---|---|---|---|---|---|")
    for name, g, t, r, mg, mt, th in rows:
        print(f"| {name} | {g:,.0f} | {t:,.0f} | **{r:.2f}x** | {mg:.0f} / {mt:.0f} | {th} |")


if __name__ == "__main__":
    main()
