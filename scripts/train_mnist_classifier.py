#!/usr/bin/env python
"""Train the MNIST classifier shipped with ganforge (the `mnist` feature extractor).

    python scripts/train_mnist_classifier.py [--epochs 8] [--out src/ganforge/metrics/weights/mnist_classifier.safetensors]

Trains on the 60,000-image MNIST train split (random shifts of up to 2 pixels), reports the
accuracy on the 10,000-image test split and refuses to write weights below 99%. The RMS of the
feature activations on the train split is stored too: features are divided by it, so their scale
suits KID's polynomial kernel (x.y/d + 1)^3 as Inception's features do. The weights file
carries the test accuracy and the recipe in its metadata. Takes a few minutes on 2 CPU cores.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from ganforge.data.images import mnist_arrays
from ganforge.metrics.mnist_net import MnistNet, to_input

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src/ganforge/metrics/weights/mnist_classifier.safetensors"


def shift(x: torch.Tensor, gen: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Random translation of each image by up to max_shift pixels (zero padding)."""
    n = x.shape[0]
    padded = F.pad(x, (max_shift,) * 4)
    dx, dy = (torch.randint(0, 2 * max_shift + 1, (2, n), generator=gen))
    out = torch.empty_like(x)
    for i in range(n):
        out[i] = padded[i, :, dy[i]:dy[i] + 28, dx[i]:dx[i] + 28]
    return out


@torch.no_grad()
def accuracy(net: MnistNet, x: torch.Tensor, y: torch.Tensor) -> float:
    net.eval()
    pred = torch.cat([net(to_input(x[i:i + 1000])).argmax(1) for i in range(0, len(x), 1000)])
    net.train()
    return float((pred == y).float().mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    xtr, ytr = (torch.from_numpy(v) for v in mnist_arrays("train"))
    xte, yte = (torch.from_numpy(v) for v in mnist_arrays("test"))
    xtr, xte = xtr[:, None], xte[:, None]
    net = MnistNet()
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    steps_per_epoch = len(xtr) // a.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr * 3, total_steps=a.epochs * steps_per_epoch)
    t0 = time.time()
    for epoch in range(a.epochs):
        perm = torch.randperm(len(xtr), generator=gen)
        for s in range(steps_per_epoch):
            idx = perm[s * a.batch:(s + 1) * a.batch]
            x = to_input(shift(xtr[idx], gen))
            loss = F.cross_entropy(net(x), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        print(f"epoch {epoch + 1}/{a.epochs}: loss {loss.item():.4f}, test accuracy {accuracy(net, xte, yte):.4f} "
              f"({time.time() - t0:.0f} s)", flush=True)
    acc = accuracy(net, xte, yte)
    if acc < 0.99:
        raise SystemExit(f"test accuracy {acc:.4f} < 0.99: weights not written")
    net.eval()
    with torch.no_grad():  # RMS of the penultimate activations on the train split: features are divided by it
        feats = torch.cat([net.features_and_logits(to_input(xtr[i:i + 1000]))[0] for i in range(0, len(xtr), 1000)])
    scale = float(feats.pow(2).mean().sqrt())
    meta = {"test_accuracy": f"{acc:.4f}", "n_test": str(len(xte)), "feature_scale": f"{scale:.6f}",
            "recipe": json.dumps({"epochs": a.epochs, "batch": a.batch, "lr": a.lr, "seed": a.seed,
                                  "augment": "random shift <= 2 px", "schedule": "one-cycle"}),
            "torch": torch.__version__, "numpy": np.__version__}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(a.out), metadata=meta)
    print(f"wrote {a.out} ({a.out.stat().st_size / 1e6:.2f} MB), test accuracy {acc:.4f}")


if __name__ == "__main__":
    main()
