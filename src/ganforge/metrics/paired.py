"""Metrics of paired translation: an output image against its target (and the same numbers for the
untranslated input and for the target itself, the floor and the ceiling).

  psnr      mean over images of each image's PSNR in dB (torchmetrics, data range 255); identical
            images have an infinite PSNR, counted as PSNR_CAP = 100 dB
  ssim      mean SSIM (torchmetrics: Gaussian window 11, sigma 1.5, k1 0.01, k2 0.03, data range 255)
  l1        mean absolute difference in units of the full range (|a - b| / 255)
  accuracy  the shipped MNIST classifier's accuracy on the images against the true labels (digit tasks)
FID of outputs against targets uses the registered `fid` metric on one extractor's features.
All take uint8 images [N, H, W, C]."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ConfigError

PSNR_CAP = 100.0
CHUNK = 1000


def _torchmetrics() -> Any:
    try:
        import torchmetrics.functional.image as tmi
    except ImportError:
        raise ConfigError("the paired metrics (psnr, ssim) need torchmetrics: pip install 'ganforge[translate]' "
                          "(or `make setup`)") from None
    return tmi


def _pairs(a: np.ndarray, b: np.ndarray) -> Any:
    import torch

    if a.shape != b.shape:
        raise ConfigError(f"paired metrics compare images of one shape, got {list(a.shape)} and {list(b.shape)}")
    for i in range(0, len(a), CHUNK):
        yield (torch.from_numpy(np.ascontiguousarray(a[i:i + CHUNK])).permute(0, 3, 1, 2).double(),
               torch.from_numpy(np.ascontiguousarray(b[i:i + CHUNK])).permute(0, 3, 1, 2).double())


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    tmi = _torchmetrics()
    per = [tmi.peak_signal_noise_ratio(x, y, data_range=255.0, reduction="none", dim=(1, 2, 3))
           for x, y in _pairs(a, b)]
    import torch

    values = torch.cat([p.reshape(-1) for p in per]).clamp(max=PSNR_CAP).nan_to_num(PSNR_CAP)
    return float(values.mean())


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    tmi = _torchmetrics()
    total = 0.0
    for x, y in _pairs(a, b):
        total += float(tmi.structural_similarity_index_measure(x, y, data_range=255.0, reduction="sum"))
    return total / len(a)


def l1(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        raise ConfigError(f"paired metrics compare images of one shape, got {list(a.shape)} and {list(b.shape)}")
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean() / 255.0)


SETTINGS = {"psnr": {"data_range": 255, "cap_db": PSNR_CAP, "mean": "over images", "library": "torchmetrics"},
            "ssim": {"data_range": 255, "kernel": "gaussian 11, sigma 1.5", "k1": 0.01, "k2": 0.03,
                     "library": "torchmetrics"},
            "l1": {"units": "|a - b| / 255, mean over pixels"},
            "accuracy": {"classifier": "ganforge's MNIST classifier (weights/mnist_classifier.safetensors)"}}
PAIRWISE = {"psnr": psnr, "ssim": ssim, "l1": l1}


def classifier_accuracy(images: np.ndarray, labels: np.ndarray, progress: bool = False) -> float:
    """The shipped MNIST classifier's accuracy on uint8 [N, 28, 28, 1] images."""
    from .features import get_extractor

    _, logits = get_extractor("mnist")(images, what="images", logits=True, progress=progress)
    return float((np.asarray(logits).argmax(1) == np.asarray(labels)).mean())
