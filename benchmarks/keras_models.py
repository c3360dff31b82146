"""The Keras tutorials' MLP GAN, as written, against the same networks in torch (nn.Sequential), trained by
ganforge side by side: quality (the shipped MNIST classifier's confident share of 1,000 samples) and speed
(steps/s of the training loop, measured in the same process, alternating runs).

    python benchmarks/keras_models.py --steps 3000 --seeds 0,1,2
    python benchmarks/keras_models.py --speed-only
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import ganforge  # noqa: E402
from ganforge.data.images import mnist_arrays  # noqa: E402
from ganforge.registries import FEATURES  # noqa: E402


def torch_pair() -> tuple[nn.Module, nn.Module]:
    """The tutorial's layers in torch: Keras's BatchNormalization defaults (momentum 0.99, eps 1e-3) and
    Glorot-uniform kernels with zero biases, so only the framework differs."""
    def bn(n: int) -> nn.Module:
        return nn.BatchNorm1d(n, eps=1e-3, momentum=0.01)

    G = nn.Sequential(nn.Linear(100, 256), nn.LeakyReLU(0.2), bn(256), nn.Linear(256, 512), nn.LeakyReLU(0.2),
                      bn(512), nn.Linear(512, 1024), nn.LeakyReLU(0.2), bn(1024), nn.Linear(1024, 784), nn.Tanh(),
                      nn.Unflatten(1, (28, 28, 1)))
    D = nn.Sequential(nn.Flatten(), nn.Linear(784, 1024), nn.LeakyReLU(0.2), nn.Linear(1024, 512), nn.LeakyReLU(0.2),
                      nn.Linear(512, 256), nn.LeakyReLU(0.2), nn.Linear(256, 1), nn.Sigmoid())
    for m in list(G.modules()) + list(D.modules()):
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return G, D


def keras_pair(seed: int) -> tuple[object, object]:
    import keras
    import keras_tutorial_gan as tutorial

    keras.utils.set_random_seed(seed)
    return tutorial.build_generator(), tutorial.build_discriminator()


def confident(images_u8: np.ndarray) -> float:
    _, logits = FEATURES.get("mnist")()(images_u8, logits=True, progress=False)
    return float((torch.softmax(torch.as_tensor(logits), 1).max(1).values >= 0.9).float().mean())


def train(kind: str, seed: int, steps: int, x: np.ndarray) -> dict[str, float]:
    torch.manual_seed(seed)
    G, D = keras_pair(seed) if kind == "keras" else torch_pair()
    t = time.perf_counter()
    run = ganforge.fit(G, D, x, z_dim=100, steps=steps, batch_size=64, seed=seed, progress=False,
                       log_every=max(steps // 5, 1))
    seconds = time.perf_counter() - t
    imgs = run.generator.decode(run.generator.sample(1000, seed=0))
    return {"framework": kind, "seed": seed, "steps": steps, "seconds": round(seconds, 1),
            "steps_per_s": round(steps / seconds, 2), "confident": round(confident(imgs), 3)}


def speed(x: np.ndarray, reps: int = 7, block: int = 40) -> dict[str, list[float]]:
    """steps/s of the training step (ganforge's train_step: both updates, checks, EMA) for the two pairs,
    built once each and measured in alternating blocks, so the shared machine's load hits both alike."""
    from ganforge.config import Config
    from ganforge.data.source import TensorSource
    from ganforge.train.loop import train_step
    from ganforge.train.state import build_state

    def state(kind: str):  # type: ignore[no-untyped-def]
        torch.manual_seed(0)
        G, D = keras_pair(0) if kind == "keras" else torch_pair()
        cfg = Config.from_dict({"name": "custom", "data": {"name": "tensor", "batch_size": 64},
                                "model": {"arch": "custom", "z_dim": 100, "num_classes": 0},
                                "train": {"steps": 10**9, "progress": False}})
        return build_state(cfg, TensorSource(x[:4096], None, kind="auto"), G, D)

    states = {kind: state(kind) for kind in ("torch", "keras")}
    for st in states.values():  # warm-up
        for _ in range(block):
            train_step(st)
    rates: dict[str, list[float]] = {kind: [] for kind in states}
    for _ in range(reps):
        for kind, st in states.items():
            t = time.perf_counter()
            for _ in range(block):
                train_step(st)
            rates[kind].append(block / (time.perf_counter() - t))
    return rates


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--seeds", default="0")
    p.add_argument("--speed-only", action="store_true", help="skip the quality reading")
    a = p.parse_args()
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    x = mnist_arrays("train")[0]
    x = ((x.astype("float32") - 127.5) / 127.5)[..., None]  # NHWC, as the tutorials prepare it
    rates = speed(x)
    ratios = [k / t for t, k in zip(rates["torch"], rates["keras"])]
    print(json.dumps({"speed_steps_per_s": {k: [round(v, 1) for v in r] for k, r in rates.items()}}))
    print(f"speed (batch 64, alternating blocks of 40 steps): torch {np.median(rates['torch']):.1f} steps/s, keras "
          f"{np.median(rates['keras']):.1f} steps/s, keras / torch {np.median(ratios):.2f}x (median of "
          f"{len(ratios)} block pairs, range {min(ratios):.2f}-{max(ratios):.2f})", flush=True)
    if a.speed_only:
        return
    rows = []
    for seed in (int(s) for s in a.seeds.split(",")):
        for kind in ("torch", "keras"):
            rows.append(train(kind, seed, a.steps, x))
            print(json.dumps(rows[-1]), flush=True)
    for kind in ("torch", "keras"):
        mine = [r for r in rows if r["framework"] == kind]
        print(f"{kind}: steps/s {np.median([r['steps_per_s'] for r in mine]):.2f} (median), confident "
              f"{[r['confident'] for r in mine]}")
    ratio = np.median([k["steps_per_s"] / t["steps_per_s"] for t, k in zip(rows[::2], rows[1::2])])
    print(f"whole runs (with their sampling and checkpoints): keras / torch {ratio:.2f}x (median per seed)")


if __name__ == "__main__":
    main()
