#!/usr/bin/env python
"""The README's MNIST quality table: MNIST test vs train, and a trained generator vs test, under the
protocol of BENCHMARKS.md section 3 (10,000 vs 10,000, TF-Inception pool3), plus the same with the
shipped MNIST classifier's features.

    python benchmarks/mnist_fid.py RUN_DIR [--n 10000] [--features inception,mnist] [--out DIR]

RUN_DIR is a trained MNIST run (e.g. runs/mnist-dcgan after `make demo`). With Inception on 2 CPU
cores this takes about an hour the first time (30,000 images at ~6.5 images/s); the test-split
reference features are cached, so later runs only extract the generated images.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ganforge.cli import finite_or_null
from ganforge.evaluate import evaluate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="trained MNIST run directory (or checkpoint / export)")
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--features", default="mnist,inception")
    p.add_argument("--out", type=Path, default=None, help="write each result list as JSON into this directory")
    a = p.parse_args()
    rows = []
    for features in a.features.split(","):
        for label, kwargs in (("MNIST train (real)", {"real": "mnist:test", "fake": "mnist:train"}),
                              (f"generator {a.run}", {"source": a.run})):
            metrics = ["fid", "kid", "pr", "dc"] + (["is"] if "source" in kwargs else [])
            t = time.perf_counter()
            res = evaluate(metrics=metrics, n=a.n, features=features, **kwargs)
            dt = time.perf_counter() - t
            v = {k: x for r in res for k, x in r.items() if isinstance(x, float)}
            proto = res[0]["protocol"]
            rows.append((features, label, v, proto, dt))
            print(f"[{features}] {label}: " + ", ".join(f"{k} {x:.4g}" for k, x in v.items())
                  + f"  ({proto['n_generated']} vs {proto['n_reference']} {proto['reference']}, {dt:.0f} s, "
                  f"reference cached: {proto.get('reference_features_cached')})", flush=True)
            if a.out:
                a.out.mkdir(parents=True, exist_ok=True)
                name = f"{features}-{'real' if 'real' in kwargs else 'generator'}.json"
                (a.out / name).write_text(json.dumps(finite_or_null(res), indent=2) + "\n")
    print("\n| features | generated set | FID | KID | precision | recall | density | coverage | IS (MNIST clf.) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for features, label, v, proto, dt in rows:
        cells = [f"{v[k]:.4g}" if k in v else "-" for k in ("fid", "kid", "precision", "recall", "density",
                                                            "coverage", "is")]
        print(f"| {features} | {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
