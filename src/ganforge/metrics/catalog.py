"""The metrics registry: what each metric needs, how it is computed, and which way is better.

A metric needs one of:
  features  real and generated feature arrays from one extractor (fid, kid, pr, dc)
  logits    the MNIST classifier's logits of the generated images (is)
  samples   the generated samples themselves and the dataset (modes)
  pairs     translated images, their targets and labels (psnr, ssim, l1, accuracy: translation runs)
Every metric returns a flat dict of named values plus the parameters it used.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..registries import METRICS
from . import stats
from .features import warn_few_samples
from .modes import mode_coverage

# value name -> True when higher is better (used to keep the best checkpoint). Every value a metric
# declares must be here, since train.eval_best accepts any of them: without kid_std and is_std (ranked
# lower-is-better), eval_best=kid_std passed validation and stopped the run at its first evaluation
# (tests/test_registries.py checks this for every metric)
HIGHER_IS_BETTER = {"fid": False, "kid": False, "kid_std": False, "precision": True, "recall": True,
                    "density": True, "coverage": True, "is": True, "is_std": False, "modes": True, "kl": False,
                    "reverse_kl": False, "hq_pct": True, "psnr": True, "ssim": True, "l1": False, "accuracy": True,
                    "cycle_psnr": True, "cycle_l1": False, "recon_accuracy": True, "recon_mse": False,
                    "recon_psnr": True, "legible": True, "class_min": True, "class_max": False}


@dataclass(frozen=True)
class Metric:
    needs: str
    compute: Callable[..., dict[str, Any]]
    values: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)
    min_n: int = 2
    """Fewest generated and reference samples it is defined for (k-NN metrics need k + 1)."""


def _fid(real: np.ndarray, fake: np.ndarray, seed: int) -> dict[str, Any]:
    for what, f in (("fid (generated)", fake), ("fid (reference)", real)):
        warn_few_samples(what, len(f), f.shape[1])
    return {"fid": stats.fid(real, fake)}


def _kid(real: np.ndarray, fake: np.ndarray, seed: int) -> dict[str, Any]:
    size = min(1000, len(real), len(fake))
    mean, std = stats.kid(real, fake, n_subsets=100, subset_size=size, seed=seed)
    return {"kid": mean, "kid_std": std, "subsets": 100, "subset_size": size}


def _pr(real: np.ndarray, fake: np.ndarray, seed: int) -> dict[str, Any]:
    p, r = stats.precision_recall(real, fake, k=3)
    return {"precision": p, "recall": r, "k": 3}


def _dc(real: np.ndarray, fake: np.ndarray, seed: int) -> dict[str, Any]:
    d, c = stats.density_coverage(real, fake, k=5)
    return {"density": d, "coverage": c, "k": 5}


def _is(logits: np.ndarray) -> dict[str, Any]:
    mean, std = stats.inception_score(logits, splits=10)
    return {"is": mean, "is_std": std, "splits": 10,
            "classifier": "mnist (ganforge's MNIST classifier, not ImageNet Inception: not comparable with "
                          "published Inception Scores)"}


def toy_modes(samples: np.ndarray, centers: np.ndarray, std: float) -> dict[str, Any]:
    """Toy-mixture mode coverage. `kl` is KL(HQ mode histogram || uniform), the same quantity as stacked
    MNIST's `kl`, so the metric's declared values (modes, kl) exist for both data kinds; `reverse_kl` is
    the same number under PacGAN's name, kept for compatibility (issue 12)."""
    out = mode_coverage(samples, centers, std)
    return ({k: out[k] for k in ("modes", "n_modes", "hq_pct", "per_mode")}
            | {"kl": out["reverse_kl"], "reverse_kl": out["reverse_kl"], "threshold_std": 3.0})


METRICS.register("fid", Metric("features", _fid, ("fid",)),
                 help="Frechet distance of Gaussian fits to the features (Heusel et al. 2017), float64")
METRICS.register("kid", Metric("features", _kid, ("kid", "kid_std")),
                 help="kernel inception distance: unbiased MMD^2, cubic kernel, 100 subsets of <= 1000")
METRICS.register("pr", Metric("features", _pr, ("precision", "recall"), min_n=4),
                 help="precision and recall of k-NN manifolds, k=3 (Kynkaanniemi et al. 2019)")
METRICS.register("dc", Metric("features", _dc, ("density", "coverage"), min_n=6),
                 help="density and coverage, k=5 (Naeem et al. 2020)")
METRICS.register("is", Metric("logits", _is, ("is", "is_std"), min_n=10),
                 help="Inception Score computed with ganforge's MNIST classifier (MNIST-like data only)")


LEGIBLE_P = 0.9  # the classifier's probability that counts as "read with confidence"


def read_with_confidence(logits: np.ndarray) -> np.ndarray:
    """Per row of classifier logits: is the top softmax probability >= LEGIBLE_P (bool [N])."""
    lg = np.asarray(logits, dtype=np.float64)
    p = np.exp(lg - lg.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return p.max(1) >= LEGIBLE_P


def _legible(logits: np.ndarray) -> dict[str, Any]:
    lg = np.asarray(logits, dtype=np.float64)
    shares = np.bincount(lg.argmax(1), minlength=lg.shape[1]) / len(lg)
    return {"legible": float(read_with_confidence(lg).mean()), "class_min": float(shares.min()),
            "class_max": float(shares.max()), "class_shares": [round(float(s), 4) for s in shares],
            "threshold_p": LEGIBLE_P, "classifier": "mnist (ganforge's MNIST classifier)"}


METRICS.register("legible", Metric("logits", _legible, ("legible", "class_min", "class_max"), min_n=10),
                 help="digits: share of samples ganforge's MNIST classifier reads with p >= 0.9, and the smallest and "
                      "largest share of a predicted class (all samples' argmax; 0.1 each when balanced)")
METRICS.register("modes", Metric("samples", toy_modes, ("modes", "kl")),
                 help="mode coverage: toy mixtures (modes, % HQ, KL to uniform) or stacked MNIST (modes of 1000, KL)")


def _pairwise(name: str) -> Callable[..., dict[str, Any]]:
    def compute(images: np.ndarray, targets: np.ndarray, labels: Any) -> dict[str, Any]:
        from .paired import PAIRWISE
        return {name: PAIRWISE[name](images, targets)}
    return compute


def _accuracy(images: np.ndarray, targets: np.ndarray, labels: Any) -> dict[str, Any]:
    from .paired import classifier_accuracy
    return {"accuracy": classifier_accuracy(images, labels)}


METRICS.register("psnr", Metric("pairs", _pairwise("psnr"), ("psnr",), params={"paired": True}),
                 help="paired: mean PSNR (dB, data range 255, capped at 100) of outputs against targets (torchmetrics)")
METRICS.register("ssim", Metric("pairs", _pairwise("ssim"), ("ssim",), params={"paired": True}),
                 help="paired: mean SSIM of outputs against targets (torchmetrics, Gaussian 11, sigma 1.5)")
METRICS.register("l1", Metric("pairs", _pairwise("l1"), ("l1",), params={"paired": True}),
                 help="paired: mean absolute difference of outputs and targets, in units of the range (/255)")
METRICS.register("accuracy", Metric("pairs", _accuracy, ("accuracy",), params={"paired": True, "labels": True}),
                 help="paired, digit tasks: the shipped MNIST classifier's accuracy on the outputs against the true labels")


def _cycle(back: np.ndarray, originals: np.ndarray, labels: Any) -> dict[str, Any]:
    from .paired import l1, psnr
    return {"cycle_psnr": psnr(back, originals), "cycle_l1": l1(back, originals)}


METRICS.register("cycle", Metric("pairs", _cycle, ("cycle_psnr", "cycle_l1"), params={"paired": True, "cycle": True}),
                 help="CycleGAN: reconstruction F(G(a)) against a: PSNR (dB, capped at 100) and L1 (/255)")


def _recon(recon: np.ndarray, originals: np.ndarray, labels: Any) -> dict[str, Any]:
    from .paired import classifier_accuracy, psnr
    values = {"recon_mse": float(np.mean(((recon.astype(np.float64) - originals) / 255.0) ** 2)),
              "recon_psnr": psnr(recon, originals)}
    if labels is not None and recon.shape[1:] == (28, 28, 1):
        values["recon_accuracy"] = classifier_accuracy(recon, labels)
    return values


METRICS.register("recon", Metric("pairs", _recon, ("recon_mse", "recon_psnr", "recon_accuracy"),
                                 params={"paired": True, "encoder": True}),
                 help="vae / vaegan: reconstructions G(mu(x)) of the test images: pixel MSE (in [0, 1] units), PSNR, "
                      "and for 28x28 digits the MNIST classifier's accuracy on them against the true labels")
