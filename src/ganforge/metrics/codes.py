"""The `codes` metric: how well an InfoGAN's categorical code matches the classes of the data.

Two measurements, each as one-to-one (Hungarian) accuracy and normalised mutual information:
  q_acc, q_nmi      Q's categorical code (argmax) of the reference split's images against their labels
                    (the clustering accuracy of ClusterGAN and others: Q as an unsupervised classifier);
  gen_acc, gen_nmi  the code each generated sample was drawn with against its class as judged by an
                    independent judge: ganforge's MNIST classifier for MNIST-like digits, the nearest
                    mode for toy mixtures (absent for other data, e.g. Fashion-MNIST).
One-to-one accuracy: the best matching of code values to classes (scipy's linear_sum_assignment on the
confusion matrix), then the fraction of samples whose code maps to their class. NMI: I(c; y) divided
by the arithmetic mean of H(c) and H(y) (scikit-learn's default normalisation).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DataError
from ..registries import METRICS
from .catalog import HIGHER_IS_BETTER, Metric


def confusion(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Counts [n_pred_values, n_true_values] of (pred, true) pairs."""
    true, pred = np.asarray(true, np.int64).reshape(-1), np.asarray(pred, np.int64).reshape(-1)
    if len(true) != len(pred) or len(true) == 0:
        raise ValueError(f"need equally many true and predicted values, got {len(true)} and {len(pred)}")
    c = np.zeros((pred.max() + 1, true.max() + 1), np.int64)
    np.add.at(c, (pred, true), 1)
    return c


def one_to_one_accuracy(true: np.ndarray, pred: np.ndarray) -> float:
    """Fraction correct under the best one-to-one map from predicted values to true ones (Hungarian)."""
    from scipy.optimize import linear_sum_assignment

    c = confusion(true, pred)
    rows, cols = linear_sum_assignment(-c)
    return float(c[rows, cols].sum() / c.sum())


def nmi(true: np.ndarray, pred: np.ndarray) -> float:
    """Normalised mutual information, I / ((H(true) + H(pred)) / 2); 1 when either is constant and equal."""
    p = confusion(true, pred) / len(np.asarray(true).reshape(-1))
    pc, pt = p.sum(1), p.sum(0)
    nz = p > 0
    mi = float((p[nz] * np.log(p[nz] / np.outer(pc, pt)[nz])).sum())
    h = lambda q: float(-(q[q > 0] * np.log(q[q > 0])).sum())  # noqa: E731
    denom = (h(pc) + h(pt)) / 2
    return 1.0 if denom == 0 else max(0.0, mi / denom)


def _real_codes(gen: Any, real: Any) -> tuple[np.ndarray, np.ndarray]:
    """Q's codes of the reference samples and their classes."""
    import torch

    src = real.source
    if real.kind == "points" and hasattr(src, "centers"):
        pts = np.asarray(real.data, np.float64).reshape(len(real.data), -1)
        c = src.centers.numpy().reshape(len(src.centers), -1)
        labels = ((pts[:, None] - c[None]) ** 2).sum(-1).argmin(1)
        x = torch.as_tensor(real.data, dtype=torch.float32)
    elif real.kind == "images" and getattr(src, "y", None) is not None:
        from ..data.images import to_unit
        x = to_unit(src.x)
        labels = src.y.numpy()
    else:
        raise DataError(f"metric 'codes' needs labelled reference data (a split with labels, e.g. mnist@test, "
                        f"or a toy mixture), not '{real.name}'")
    code, _ = gen.infer_codes(x)
    return code.numpy(), labels


def _generated_classes(gen: Any, real: Any, n: int, seed: int, progress: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """(code drawn, class judged) of n generated samples, or None when no judge fits the data."""
    draw = gen.draw(n, seed)
    x = gen.decode(gen.sample_z(draw.z))
    src = real.source
    if real.kind == "points" and hasattr(src, "centers"):
        c = src.centers.numpy().reshape(len(src.centers), -1)
        judged = ((x.reshape(len(x), -1)[:, None] - c[None]) ** 2).sum(-1).argmin(1)
    elif real.kind == "images" and x.shape[1:] == (28, 28, 1) and str(real.name).startswith("mnist"):
        from .features import get_extractor
        _, logits = get_extractor("mnist")(x, what="generated (codes)", logits=True, progress=progress)
        judged = logits.argmax(1)
    else:
        return None
    return draw.code.numpy(), judged


def codes_metric(gen: Any, real: Any, n: int, seed: int, progress: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """(values, protocol) of the codes metric for an InfoGAN generator against a reference set."""
    if not getattr(gen, "has_codes", False) or not gen.prior.categorical:
        raise DataError("metric 'codes' needs a generator with a categorical latent code (model.algorithm=infogan)")
    q_code, labels = _real_codes(gen, real)
    values: dict[str, Any] = {"q_acc": one_to_one_accuracy(labels, q_code), "q_nmi": nmi(labels, q_code)}
    judge = "none (no judge for this data)"
    judged = _generated_classes(gen, real, n, seed, progress)
    if judged is not None:
        code, cls = judged
        values.update(gen_acc=one_to_one_accuracy(cls, code), gen_nmi=nmi(cls, code))
        judge = "nearest mode" if real.kind == "points" else "ganforge's MNIST classifier (mnist extractor)"
    proto = {"q_on": f"{real.name}: {len(labels)} samples with labels", "matching": "one-to-one (Hungarian)",
             "nmi": "arithmetic", "generated_judge": judge, "codes": gen.prior.categorical}
    return values, proto


HIGHER_IS_BETTER.update({"q_acc": True, "q_nmi": True, "gen_acc": True, "gen_nmi": True})
METRICS.register("codes", Metric("generator", codes_metric, ("q_acc", "q_nmi"), {"algorithm": "infogan"}),
                 help="InfoGAN: one-to-one (Hungarian) accuracy and NMI of Q's code on labelled real data, and of "
                      "generated samples' codes vs the MNIST classifier / nearest mode")
