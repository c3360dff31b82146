#!/usr/bin/env python
"""Evaluation speed on this machine: feature extraction (images/s) for each extractor, and the time of
a 10,000-sample FID on MNIST once the reference features are cached.

    python benchmarks/eval_speed.py [--inception-images 256] [--threads N]

Prints one table. The 10k FID with Inception is timed on --inception-images images and extrapolated
(labelled as such): at a few images/s on 2 CPU cores a full run takes about half an hour.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import torch

from ganforge.data.images import mnist_arrays
from ganforge.evaluate import SampleSet, load_set, measure, reference_features, resolve_metrics
from ganforge.metrics import stats
from ganforge.metrics.features import get_extractor


def rate(name: str, x: np.ndarray, repeats: int = 2) -> float:
    """Best images/s of `repeats` timed passes, after one warm-up batch (weights loaded, JIT settled)."""
    ex = get_extractor(name)
    ex(x[:ex.batch_size], progress=False)
    best = 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        ex(x, progress=False)
        best = max(best, len(x) / (time.perf_counter() - t))
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--inception-images", type=int, default=256)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    os.environ["GANFORGE_CACHE"] = tempfile.mkdtemp(prefix="ganforge-bench-")
    test, train = mnist_arrays("test")[0], mnist_arrays("train")[0]
    rows = []

    r_mnist = rate("mnist", test)
    rows.append(("mnist extractor, 28x28 grayscale", f"{r_mnist:,.0f} images/s", "10,000 MNIST test images"))
    r_inc = rate("inception", test[:a.inception_images], repeats=1)
    rows.append(("inception extractor, 28x28 -> 299x299", f"{r_inc:,.1f} images/s",
                 f"{a.inception_images} MNIST test images"))
    rgb = np.random.default_rng(0).integers(0, 256, (a.inception_images // 2, 299, 299, 3), dtype=np.uint8)
    rows.append(("inception extractor, 299x299 RGB (no resize)", f"{rate('inception', rgb, repeats=1):,.1f} images/s",
                 f"{len(rgb)} random images"))

    # 10k FID with cached reference features: the generated set's features, then the statistics
    real = load_set("mnist:test", 10_000)
    reference_features(real, get_extractor("mnist"), progress=False)  # fills the cache (not timed)
    t = time.perf_counter()
    res = measure(SampleSet("mnist@train", train[:10_000], "images"), real, resolve_metrics(["fid"], "images"),
                  "mnist", progress=False)[0]
    rows.append(("10k FID, mnist features, cached reference", f"{time.perf_counter() - t:.1f} s",
                 f"measured end to end (FID {res['fid']:.3f}, reference cached: "
                 f"{res['protocol']['reference_features_cached']})"))
    rng = np.random.default_rng(0)
    f_real, f_fake = rng.random((10_000, 2048), np.float32), rng.random((10_000, 2048), np.float32)
    t = time.perf_counter()
    stats.fid(f_real, f_fake)
    dt_stats = time.perf_counter() - t
    rows.append(("10k FID, inception features, cached reference", f"~{(10_000 / r_inc + dt_stats) / 60:.0f} min",
                 f"estimate: 10,000 images at {r_inc:.1f}/s + {dt_stats:.1f} s for the 2048-d statistics (timed)"))

    print(f"threads: {a.threads}, torch {torch.__version__}")
    w = max(len(r[0]) for r in rows)
    for what, value, note in rows:
        print(f"{what:<{w}}  {value:>22}  {note}")


if __name__ == "__main__":
    main()
