#!/usr/bin/env python
"""ganforge's training loop against the textbook loop (benchmarks/textbook_dcgan.py), side by side.

    python benchmarks/throughput.py [--reps 6] [--steps N] [--set train.precision=bf16] [--device cuda]

Same architecture (both loops build their networks with ganforge's registry from one seed), same batch,
same thread count, EMA off in ganforge (train.ema=0: its lerp still runs, with weight 1). ganforge is
timed through train_step (its per-step work: data, noise, both updates, the finite checks, the EMA),
without train_loop's bookkeeping (a device-side loss sum, the progress bar, the stop-flag check); the
textbook loop is timed whole, its DataLoader and `.item()` calls included, as a tutorial runs it. A third
loop, the floor (floor_step), does only the arithmetic of ganforge's step, with no data pipeline, checks
or EMA: floor / textbook is about the most a loop doing the same arithmetic (these networks, this
algorithm, this precision, ganforge's choice of layout and kernels) could gain over the textbook one,
and ganforge / floor is what ganforge's per-step work costs. Rates: the loops live in one process and take turns in blocks of steps (about 2 s each), so
machine noise hits them alike; the table shows the median samples/s of each, the ratios of the medians
and the ranges of the per-round paired ganforge / textbook and floor / textbook ratios.
Peak resident memory (peak GPU memory with --device cuda): each loop alone in its own process. --set
changes ganforge's loop and the floor (the textbook loop stays fp32, contiguous, unfused). A second table gives
the FLOPs of one step (matmuls and convolutions, counted by torch.utils.flop_counter), ganforge's
achieved model TFLOP/s and, on a GPU whose bf16 peak is known (or --peak-tflops), the model FLOP
utilisation.
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
from typing import Any, Callable

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


# dense bf16 peaks from NVIDIA's data sheets, by a pattern of torch.cuda.get_device_name (first match wins)
PEAK_BF16_TFLOPS = [(r"H100.*PCIe", 756.0), (r"H100", 989.4), (r"H200", 989.4), (r"A100", 312.0)]


def floor_batch(st: Any) -> Any:
    """The floor's fixed real batch: the next batch of st's sampler, on st's device, in st's layout."""
    import torch
    real = st.sampler.next()[0].to(st.device)
    return real.contiguous(memory_format=torch.channels_last) if st.channels_last and real.dim() == 4 else real


def floor_step(st: Any, real: Any) -> None:
    """The arithmetic of one ganforge step and nothing else: the same networks, objective, fused
    optimisers, layout and precision, one fixed real batch (no data pipeline), no finite checks, no EMA,
    no gradient scaler. No loop with these networks and this algorithm can be much faster."""
    import torch
    G = st.G_train if st.G_train is not None else st.G
    D = st.D_train if st.D_train is not None else st.D
    D.requires_grad_(True)
    z = torch.randn(real.shape[0], st.cfg.model.z_dim, device=st.device)
    with st.autocast():
        fake = G(z, None)
        d_loss = st.objective.d_loss(D(real, None).float(), D(fake.detach(), None).float())
    st.opt_D.zero_grad(set_to_none=True)
    d_loss.backward()
    st.opt_D.step()
    st.D.requires_grad_(False)
    with st.autocast():
        g_loss = st.objective.g_loss(st.D(fake, None).float())
    st.opt_G.zero_grad(set_to_none=True)
    g_loss.backward()
    st.opt_G.step()


def build(loop: str, name: str, npz64: str, overrides: list[str], device: str = "cpu"
          ) -> tuple[Callable[[int], float], Callable[[], float]]:
    """The loop `loop` for configuration `name`, warmed up: (a function that trains n steps and returns
    samples/s, a function that counts the FLOPs of one step). Both loops get networks from ganforge's
    registry, built from the same seed."""
    import torch

    from ganforge.config import resolve
    from ganforge.data.source import load_source
    preset, batch, extra = CONFIGS[name]
    base = [o.format(npz64=npz64) for o in extra] + [f"data.batch_size={batch}", "train.ema=0", "train.progress=false"]

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    if loop in ("ganforge", "floor"):
        from ganforge.train.loop import train_step
        from ganforge.train.state import build_state
        st = build_state(resolve(preset, base + overrides + [f"train.device={device}"]))
        if loop == "floor":
            c = st.cfg
            if not (c.model.algorithm == "gan" and c.loss.n_critic == 1 and c.train.reuse_fake and st.penalty.term is None
                    and st.penalty.after_step is None and st.num_classes == 0 and not st.scalers
                    and not st.objective.relativistic):
                raise SystemExit(f"the floor loop covers unconditional, penalty-free runs of a non-relativistic "
                                 f"objective with loss.n_critic=1, "
                                 f"train.reuse_fake=true and no fp16 scaler; drop the --set that changes that "
                                 f"for '{name}'")
            real = floor_batch(st)

        def one_step() -> None:
            train_step(st) if loop == "ganforge" else floor_step(st, real)

        def run(n: int) -> float:
            sync()
            t = time.perf_counter()
            for _ in range(n):
                one_step()
            sync()
            return n * batch / (time.perf_counter() - t)
    else:
        from benchmarks.textbook_dcgan import ImageDataset, PointDataset, textbook_loop
        from ganforge.registries import NETWORKS
        from ganforge.nets.build import generator_output
        cfg = resolve(preset, base)
        torch.manual_seed(cfg.train.seed)
        src = load_source(cfg.data.name, cfg.data)
        G, D = NETWORKS.get(cfg.model.arch)(cfg.model, src.shape, 0, generator_output(cfg, src.kind))
        data = ImageDataset(src.x.numpy()) if src.kind == "images" else PointDataset(src.sample(100_000).numpy())

        def run(n: int) -> float:
            return textbook_loop(G, D, data, batch, cfg.model.z_dim, n, cfg.optim.lr_d, device)

        def one_step() -> None:
            textbook_loop(G, D, data, batch, cfg.model.z_dim, 1, cfg.optim.lr_d, device)
    run(3)  # warm-up (oneDNN primitive caches, cuDNN autotuning, allocator)

    def flops() -> float:
        from torch.utils.flop_counter import FlopCounterMode
        with FlopCounterMode(display=False) as counter:
            one_step()
        return float(counter.get_total_flops())
    return run, flops


def rates(name: str, reps: int, steps: int, npz64: str, overrides: list[str], device: str
          ) -> tuple[dict[str, list[float]], dict[str, float]]:
    """The loops in this process, taking turns in blocks of `steps` steps, `reps` rounds; and the FLOPs of
    one step of each (matmuls and convolutions, PyTorch's FlopCounterMode)."""
    loops = {"textbook": build("textbook", name, npz64, [], device),
             "ganforge": build("ganforge", name, npz64, overrides, device),
             "floor": build("floor", name, npz64, overrides, device)}
    out: dict[str, list[float]] = {k: [] for k in loops}
    for i in range(reps):  # the order turns each round, so that no loop always follows the same one
        names = list(loops)
        for k in names[i % len(names):] + names[:i % len(names)]:
            out[k].append(loops[k][0](steps))
    return out, {k: loops[k][1]() for k in ("textbook", "ganforge")}


def memory(loop: str, name: str, npz64: str, overrides: list[str], device: str) -> dict:
    """Peak resident memory (and peak GPU memory on CUDA) of one loop alone (this process), a few steps."""
    build(loop, name, npz64, overrides, device)[0](5)
    import torch
    gpu = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None
    return {"peak_rss_mib": peak_rss_mib(), "peak_gpu_mib": gpu, "threads": torch.get_num_threads()}


def peak_tflops(device: str, given: float | None) -> float | None:
    """The device's dense bf16 peak: --peak-tflops, else looked up by CUDA device name."""
    if given:
        return given
    if device.startswith("cuda"):
        import torch
        import re
        gpu = torch.cuda.get_device_name(torch.device(device))
        return next((v for pattern, v in PEAK_BF16_TFLOPS if re.search(pattern, gpu)), None)
    return None


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it does not carry the parent's peak
    across fork + exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=6, help="rounds (a multiple of 3 gives each loop each place equally)")
    p.add_argument("--steps", type=int, default=0, help="steps per block (default: about 2 s of work on 2 CPU cores)")
    p.add_argument("--only", default=None, help="one configuration name")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N (both loops)")
    p.add_argument("--peak-tflops", type=float, default=None,
                   help="the device's dense bf16 peak for model FLOP utilisation (known GPUs are looked up)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override for ganforge's loop only, e.g. train.precision=bf16 (repeatable)")
    p.add_argument("--memory", nargs=2, metavar=("LOOP", "CONFIG"), help=argparse.SUPPRESS)
    p.add_argument("--npz64", default="", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.memory:
        print(json.dumps(memory(a.memory[0], a.memory[1], a.npz64, a.set, a.device)))
        return
    tmp = Path(tempfile.mkdtemp(prefix="ganforge-throughput-"))
    npz64 = tmp / "mnist64.npz"
    mnist64(npz64)
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=f"{root}{os.pathsep}{root / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    sys.path[:0] = [str(root), str(root / "src")]
    peak = peak_tflops(a.device, a.peak_tflops)
    rows = []
    for name in ([a.only] if a.only else CONFIGS):
        steps = a.steps or STEPS[name] * (10 if a.device.startswith("cuda") else 1)
        r, flops = rates(name, a.reps, steps, str(npz64), a.set, a.device)
        med = {k: statistics.median(v) for k, v in r.items()}
        paired = sorted(g / t for g, t in zip(r["ganforge"], r["textbook"]))
        paired_floor = sorted(f / t for f, t in zip(r["floor"], r["textbook"]))
        mem = {}
        for loop in ("textbook", "ganforge"):
            out = subprocess.run([sys.executable, __file__, "--memory", loop, name, "--npz64", str(npz64),
                                  "--device", a.device, *[x for kv in a.set for x in ("--set", kv)]],
                                 env=env, capture_output=True, text=True, check=True)
            mem[loop] = json.loads(out.stdout.strip().splitlines()[-1])
        batch = CONFIGS[name][1]
        achieved = flops["ganforge"] * med["ganforge"] / batch / 1e12  # TFLOP/s
        rows.append((name, med, (paired, paired_floor), mem, flops, achieved))
        print(f"{name}: ganforge {med['ganforge']:.0f}/s, textbook {med['textbook']:.0f}/s, floor "
              f"{med['floor']:.0f}/s, paired ratios {', '.join(f'{x:.2f}' for x in paired)}; floor / textbook "
              f"{', '.join(f'{x:.2f}' for x in paired_floor)}", file=sys.stderr)
    gpu = a.device.startswith("cuda")
    print(f"device: {a.device}; ganforge overrides: {' '.join(a.set) or 'none'}; {a.reps} rounds of turns per "
          f"configuration; threads: {rows[0][3]['ganforge']['threads']}")
    print("| configuration | ganforge samples/s | textbook samples/s | ratio (paired range) | floor / textbook (paired range) "
          f"| ganforge / floor | peak {'GPU ' if gpu else ''}MiB (ganforge / textbook) |")
    print("|---|---|---|---|---|---|---|")
    key = "peak_gpu_mib" if gpu else "peak_rss_mib"
    for name, med, (paired, paired_floor), mem, _, _ in rows:
        print(f"| {name} | {med['ganforge']:,.0f} | {med['textbook']:,.0f} | **{med['ganforge'] / med['textbook']:.2f}x** "
              f"({paired[0]:.2f}-{paired[-1]:.2f}) | {med['floor'] / med['textbook']:.2f}x "
              f"({paired_floor[0]:.2f}-{paired_floor[-1]:.2f}) | "
              f"{med['ganforge'] / med['floor']:.2f} | {mem['ganforge'][key]:.0f} / {mem['textbook'][key]:.0f} |")
    print()
    print("| configuration | GFLOP per step (ganforge / textbook) | ganforge model TFLOP/s | MFU (of the dense bf16 "
          "peak, whatever precision ran) |")
    print("|---|---|---|---|")
    for name, _, _, _, flops, achieved in rows:
        mfu = f"{achieved / peak:.2%} of {peak:g}" if peak else "n/a (no peak known for this device)"
        print(f"| {name} | {flops['ganforge'] / 1e9:.2f} / {flops['textbook'] / 1e9:.2f} | {achieved:.4f} | {mfu} |")


if __name__ == "__main__":
    main()
