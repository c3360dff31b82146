"""Mode coverage on toy mixtures, with the protocol of BENCHMARKS.md section 1.

A sample is high quality (HQ) when it lies within `threshold` standard deviations of its
nearest mode; a mode is covered when it is the nearest mode of at least one HQ sample; the
divergence is the reverse KL, KL(p || uniform), of the mode histogram p of HQ samples
(PacGAN's reported "reverse KL").
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import DataError
from ..registries import METRICS


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
    if n_hq:
        p = counts / n_hq
        nz = p > 0
        kl = float((p[nz] * np.log(p[nz] * len(c))).sum())
    else:
        kl = math.inf
    return {"modes": int((counts > 0).sum()), "n_modes": len(c), "hq_pct": 100.0 * n_hq / max(len(x), 1),
            "reverse_kl": kl, "n": len(x), "per_mode": counts.tolist()}


def modes_metric(fake: np.ndarray, source: Any) -> dict[str, Any]:
    """mode_coverage of generated points against a toy mixture source's modes and std."""
    if not hasattr(source, "centers"):
        raise DataError(f"metric 'modes' needs a toy mixture dataset (gauss1d, ring8, grid25), "
                        f"not '{source.name}'")
    return mode_coverage(fake, source.centers.numpy(), source.std)


METRICS.register("modes", modes_metric,
                 help="toy mode coverage: modes covered, % high quality (3 std), reverse KL (BENCHMARKS.md s.1)")
