"""The stacked-MNIST modes protocol (BENCHMARKS.md s.2) applied to REAL digits: what the data itself scores.

Draws 26,000 triples of MNIST digits independently (one per channel, as the stacked-mnist dataset does), reads
each with ganforge's shipped MNIST classifier and prints the modes covered and KL(histogram || uniform over 1000)
for several draws; and, for comparison, the KL of 26,000 ideal uniform labels (the sampling floor). A generator
that matched the data exactly would score about the real figure, not 0.

    python benchmarks/stacked_real_kl.py                  # training split, 3 draws
    python benchmarks/stacked_real_kl.py --split test --draws 5
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--split", choices=["train", "test"], default="train")
    p.add_argument("--n", type=int, default=26000, help="triples per draw (the protocol's 26,000)")
    p.add_argument("--draws", type=int, default=3)
    a = p.parse_args()

    import torch

    from ganforge.data.source import load_source
    from ganforge.evaluate import get_extractor
    from ganforge.metrics.modes import stacked_modes  # what `ganforge evaluate --metrics modes` reports

    src = load_source(f"mnist@{a.split}")
    x = src.x.numpy() if hasattr(src.x, "numpy") else np.asarray(src.x)
    x = x.transpose(0, 2, 3, 1) if x.ndim == 4 and x.shape[1] == 1 else x.reshape(len(x), 28, 28, 1)
    _, logits = get_extractor("mnist")(x, what=f"mnist {a.split}", logits=True, progress=False)
    pred = torch.as_tensor(np.asarray(logits)).argmax(1).numpy()
    shares = np.bincount(pred, minlength=10) / len(pred)
    print(f"mnist {a.split}: {len(pred)} digits; classifier's digit shares {np.round(shares, 3).tolist()}")
    for seed in range(a.draws):
        idx = np.random.default_rng(seed).integers(0, len(pred), size=(a.n, 3))
        r = stacked_modes(pred[idx])
        print(f"real draw {seed}: {a.n} triples, {r['modes']} of 1000 modes, KL {r['kl']:.4f}")
    r = stacked_modes(np.random.default_rng(10_000).integers(0, 10, size=(a.n, 3)))
    print(f"ideal uniform labels: {a.n} triples, {r['modes']} of 1000 modes, KL {r['kl']:.4f} (the sampling floor)")


if __name__ == "__main__":
    main()
