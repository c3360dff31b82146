"""Sample-quality statistics as pure functions of feature arrays [N, D] (no models, no I/O).

fid: Frechet distance between Gaussians fitted to two feature sets (Heusel et al. 2017), in float64.
kid: unbiased MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / D + 1)^3 over random subsets
     (Binkowski et al. 2018).
precision_recall: k-NN manifold precision and recall (Kynkaanniemi et al. 2019).
density_coverage: density and coverage (Naeem et al. 2020).
inception_score: exp E KL(p(y|x) || p(y)) from class logits (Salimans et al. 2016).
"""
from __future__ import annotations

import numpy as np


def _as_features(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"{name} must be a feature array [N >= 2, D], got shape {list(x.shape)}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or Inf")
    return x


def gaussian_stats(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of features, float64."""
    x = _as_features(feats, "features")
    return x.mean(0), np.cov(x, rowvar=False)


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + tr(C1) + tr(C2) - 2 tr((C1 C2)^(1/2)).

    tr((C1 C2)^(1/2)) is computed as the sum of square roots of the eigenvalues of the symmetric
    PSD matrix C1^(1/2) C2 C1^(1/2) (same spectrum), so no complex parts arise; tiny negative
    eigenvalues from rounding are clipped to 0.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    cov1, cov2 = np.atleast_2d(cov1).astype(np.float64), np.atleast_2d(cov2).astype(np.float64)
    w, v = np.linalg.eigh((cov1 + cov1.T) / 2)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = root1 @ cov2 @ root1
    eig = np.linalg.eigvalsh((m + m.T) / 2)
    tr_sqrt = np.sqrt(np.clip(eig, 0, None)).sum()
    diff = mu1 - mu2
    return float(max(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * tr_sqrt, 0.0))


def fid(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """FID between two feature sets."""
    return frechet_distance(*gaussian_stats(feats_a), *gaussian_stats(feats_b))


def kid(feats_a: np.ndarray, feats_b: np.ndarray, n_subsets: int = 100, subset_size: int = 1000,
        seed: int = 0) -> tuple[float, float]:
    """KID: mean and std over subsets of the unbiased MMD^2 estimate (cubic polynomial kernel)."""
    a, b = _as_features(feats_a, "feats_a"), _as_features(feats_b, "feats_b")
    m = min(subset_size, len(a), len(b))
    d = a.shape[1]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_subsets):
        x, y = a[rng.choice(len(a), m, replace=False)], b[rng.choice(len(b), m, replace=False)]
        kxx, kyy, kxy = (x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3
        mmd = ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (m * (m - 1)) - 2 * kxy.mean()
        values.append(mmd)
    return float(np.mean(values)), float(np.std(values))


def _pairwise(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    d2 = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2 * x @ y.T
    return np.sqrt(np.clip(d2, 0, None))


CHUNK = 2048  # rows of a pairwise-distance block: memory stays O(CHUNK * N) for any N


def _knn_radius(x: np.ndarray, k: int) -> np.ndarray:
    """Distance from each point to its k-th nearest other point."""
    if len(x) <= k:
        raise ValueError(f"need more than k={k} points, got {len(x)}")
    # column k of the sorted row: column 0 is the point itself (distance 0)
    return np.concatenate([np.partition(_pairwise(x[i:i + CHUNK], x), k, axis=1)[:, k]
                           for i in range(0, len(x), CHUNK)])


def _in_any_ball(points: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """For each point, whether it lies in at least one ball (centre, radius)."""
    return np.concatenate([(_pairwise(points[i:i + CHUNK], centres) <= radii[None, :]).any(1)
                           for i in range(0, len(points), CHUNK)])


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Precision: share of fake samples inside the real k-NN manifold; recall: the converse."""
    r, f = _as_features(real, "real"), _as_features(fake, "fake")
    precision = _in_any_ball(f, r, _knn_radius(r, k)).mean()
    recall = _in_any_ball(r, f, _knn_radius(f, k)).mean()
    return float(precision), float(recall)


def density_coverage(real: np.ndarray, fake: np.ndarray, k: int = 5) -> tuple[float, float]:
    """Density: mean number of real k-NN balls holding each fake sample, divided by k;
    coverage: share of real samples whose k-NN ball holds at least one fake sample."""
    r, f = _as_features(real, "real"), _as_features(fake, "fake")
    radius = _knn_radius(r, k)
    hits, covered = 0, []
    for i in range(0, len(r), CHUNK):
        inside = _pairwise(r[i:i + CHUNK], f) <= radius[i:i + CHUNK, None]  # [chunk of real, N_fake]
        hits += int(inside.sum())
        covered.append(inside.any(1))
    return float(hits / (k * len(f))), float(np.concatenate(covered).mean())


def inception_score(logits: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))) from class logits, mean and std over `splits` equal parts
    (Salimans et al. 2016). Its value depends entirely on the classifier that produced the logits."""
    lg = np.asarray(logits, dtype=np.float64)
    if lg.ndim != 2 or len(lg) < splits:
        raise ValueError(f"logits must be [N >= splits={splits}, classes], got shape {list(lg.shape)}")
    logp = lg - lg.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    scores = []
    for part in np.array_split(logp, splits):
        log_py = np.log(np.exp(part).mean(0))
        scores.append(np.exp((np.exp(part) * (part - log_py)).sum(1).mean()))
    return float(np.mean(scores)), float(np.std(scores))
