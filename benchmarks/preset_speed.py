#!/usr/bin/env python
"""Milliseconds per training step of each image preset (the ms/step column of the README's preset table).

    python benchmarks/preset_speed.py [--steps 30] [PRESET ...]

Each preset is built in this process (data loading and start-up are not timed), warmed up with 3 steps,
then timed over --steps steps of the training step alone (no logging, pictures or checkpoints).
"""
from __future__ import annotations

import argparse
import time

IMAGE_PRESETS = ["mnist-dcgan", "mnist-cgan", "mnist-lsgan", "mnist-wgan", "mnist-wgan-gp", "mnist-mlp-gan",
                 "fashion-dcgan", "digits-gan", "stacked-mnist-dcgan"]


def ms_per_step(preset: str, steps: int) -> float:
    import torch

    from ganforge.config import resolve
    from ganforge.train.loop import train_step
    from ganforge.train.state import build_state
    st = build_state(resolve(preset, ["train.progress=false"]))
    for _ in range(3):
        train_step(st)
        st.step += 1
    sync = torch.cuda.synchronize if st.device.type == "cuda" else (lambda: None)
    sync()
    t = time.perf_counter()
    for _ in range(steps):
        train_step(st)
        st.step += 1
    sync()  # on a GPU the step queues kernels: time their completion, not their launch
    return (time.perf_counter() - t) / steps * 1e3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("presets", nargs="*", default=IMAGE_PRESETS)
    p.add_argument("--steps", type=int, default=30)
    a = p.parse_args()
    print("| preset | ms/step |")
    print("|---|---|")
    from ganforge.errors import GanforgeError
    for name in a.presets:
        try:
            print(f"| `{name}` | {ms_per_step(name, a.steps):.0f} |", flush=True)
        except GanforgeError as e:  # e.g. a dataset this machine lacks
            print(f"| `{name}` | not measured: {e} |", flush=True)


if __name__ == "__main__":
    main()
