"""The Keras tutorials' MLP GAN, as written, against the same networks in torch (nn.Sequential), trained by
ganforge side by side: quality (the shipped MNIST classifier's confident share of 1,000 samples) and speed
(steps/s of the training loop, measured in the same process, alternating runs).

    python benchmarks/keras_models.py --steps 3000 --seeds 0,1,2
    python benchmarks/keras_models.py --speed-only --steps 300
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--seeds", default="0")
    p.add_argument("--speed-only", action="store_true", help="skip the quality reading")
    a = p.parse_args()
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    x = mnist_arrays("train")[0]
    x = ((x.astype("float32") - 127.5) / 127.5)[..., None]  # NHWC, as the tutorials prepare it
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
    print(f"keras / torch steps/s: {ratio:.2f}x (median of the per-seed ratios, runs side by side)")


if __name__ == "__main__":
    main()
