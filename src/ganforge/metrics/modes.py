"""Mode coverage: toy mixtures (BENCHMARKS.md section 1) and stacked MNIST (section 2).

A sample is high quality (HQ) when it lies within `threshold` standard deviations of its
nearest mode; a mode is covered when it is the nearest mode of at least one HQ sample; the
divergence is the reverse KL, KL(p || uniform), of the mode histogram p of HQ samples
(PacGAN's reported "reverse KL").
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np


def kl_to_uniform(p: np.ndarray) -> float:
    """KL(p || uniform over len(p)) of a histogram p of shares summing to 1 (empty bins add nothing)."""
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1 or not len(p) or not np.isclose(p.sum(), 1.0):
        raise ValueError(f"kl_to_uniform needs a 1-D histogram of shares summing to 1, got shape {p.shape} "
                         f"summing to {p.sum():.6g}: divide counts by their total first")
    nz = p > 0
    return float((p[nz] * np.log(p[nz] * len(p))).sum())


def mode_coverage(samples: np.ndarray, centers: np.ndarray, std: float, threshold: float = 3.0) -> dict[str, Any]:
    """Modes covered, fraction of HQ samples and reverse KL to uniform for 1-D/2-D samples."""
    x = np.asarray(samples, dtype=np.float64).reshape(len(samples), -1)
    c = np.asarray(centers, dtype=np.float64).reshape(len(centers), -1)
    if x.shape[1] != c.shape[1]:
        raise ValueError(f"samples have dimension {x.shape[1]} but the modes have {c.shape[1]}")
    dist = np.sqrt(((x[:, None, :] - c[None, :, :]) ** 2).sum(-1))
    nearest = dist.argmin(1)
    hq = dist[np.arange(len(x)), nearest] <= threshold * std
    counts = np.bincount(nearest[hq], minlength=len(c))
    n_hq = int(hq.sum())
    kl = kl_to_uniform(counts / n_hq) if n_hq else math.inf
    return {"modes": int((counts > 0).sum()), "n_modes": len(c), "hq_pct": 100.0 * n_hq / max(len(x), 1),
            "reverse_kl": kl, "n": len(x), "per_mode": counts.tolist()}


def stacked_modes(digits: np.ndarray, legible: np.ndarray | None = None) -> dict[str, Any]:
    """Stacked-MNIST mode coverage from the classified digit of each channel ([N, 3] ints 0..9):
    mode = 100 d1 + 10 d2 + d3; modes covered and KL(generated mode histogram || uniform over 1000)
    (BENCHMARKS.md s.2).

    Where the KL comes from: since the uniform histogram is the product of uniform digits per channel,
    kl = sum of channel_kl (each channel's own digit shares against uniform over 10) + dependence_kl
    (KL of the histogram to the product of the channels' shares: what couples the channels; independent
    channels show about 972 / (2 N) from sampling alone, 999 - 3 x 9 degrees of freedom). With legible
    ([N, 3] bools: the classifier read that digit with confidence), channel_legible is each channel's
    share of them."""
    d = np.asarray(digits)
    if d.ndim != 2 or d.shape[1] != 3 or not len(d) or not np.issubdtype(d.dtype, np.integer) \
            or d.min() < 0 or d.max() > 9:
        rng = f", digits {d.min()}..{d.max()}" if d.size and np.issubdtype(d.dtype, np.number) else ""
        raise ValueError(f"stacked_modes needs the digit of each of 3 channels as integers 0..9, shape [N, 3] with "
                         f"N >= 1; got shape {list(d.shape)}, dtype {d.dtype}{rng}")
    d = d.astype(np.int64)
    n_modes = 1000
    modes = d[:, 0] * 100 + d[:, 1] * 10 + d[:, 2]
    p = np.bincount(modes, minlength=n_modes) / len(modes)
    kl = kl_to_uniform(p)
    shares = [np.bincount(d[:, c], minlength=10) / len(d) for c in range(3)]
    channel_kl = [kl_to_uniform(s) for s in shares]
    product = np.einsum("i,j,k->ijk", *shares).reshape(-1)  # the histogram if the channels were independent
    nz = p > 0  # where p > 0 every channel's share of that digit is > 0, so the product is too
    dependence = float((p[nz] * np.log(p[nz] / product[nz])).sum())
    out = {"modes": int(nz.sum()), "n_modes": n_modes, "kl": kl, "n": len(modes),
           "channel_kl": channel_kl, "dependence_kl": dependence,
           "channel_shares": [[round(float(x), 4) for x in s] for s in shares]}
    if legible is not None:
        ok = np.asarray(legible, dtype=bool)
        if ok.shape != d.shape:
            raise ValueError(f"stacked_modes: legible must have the digits' shape {list(d.shape)}, got {list(ok.shape)}")
        out["channel_legible"] = [round(float(x), 6) for x in ok.mean(0)]
    return out
