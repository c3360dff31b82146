"""Unpaired data for CycleGAN: two domains, each any image dataset ganforge reads, sampled independently.

Built-in domains besides mnist and your own folders:
  digits28     scikit-learn's 8x8 digits (values 0..16) times 255/16, rounded to uint8, resized to 20x20 with
               PIL bicubic and centred in a 28x28 black frame (MNIST's own 20x20 box: rows and columns 4..23);
               images 0..1499 are the train split, 1500..1796 the test split; 10 classes
  mnist-colour MNIST digits blended over patches of the photographs inside the scikit-image wheel
               (skimage.data: astronaut, chelsea, coffee, hubble_deep_field, immunohistochemistry, rocket),
               in the spirit of MNIST-M (Ganin et al. 2016): for image i of a split, with
               rng = numpy.random.default_rng(2016) (train) or default_rng(2017) (test), drawn in order for
               every image: photo k = rng.integers(6), top row = rng.integers(H_k - 27), left column =
               rng.integers(W_k - 27); the image is |patch - digit| per channel (uint8, RGB, 28x28)
A batch of two domains reaches the step as x = domain B's images (what G: A -> B makes) and x2 = domain A's
(what G is fed), as paired batches hold x = target and x2 = input; each domain has its own seeded sampler
(both states saved in checkpoints); labels are kept for evaluation only.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError
from ..registries import DATASETS
from .images import ImageSource, mnist_arrays, split_only
from .source import Sampler, Source

DIGITS_TRAIN = 1500
PHOTOS = ("astronaut", "chelsea", "coffee", "hubble_deep_field", "immunohistochemistry", "rocket")
COLOUR_SEEDS = {"train": 2016, "test": 2017}


def digits28_arrays(split: str) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as 28x28 uint8 images (see the module docstring) and their labels."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError("dataset 'digits28' needs scikit-learn: pip install scikit-learn (or `make setup`)") from None
    from PIL import Image

    d = load_digits()
    small = np.rint(d.images * (255.0 / 16.0)).astype(np.uint8)
    out = np.zeros((len(small), 28, 28), np.uint8)
    for i, img in enumerate(small):
        out[i, 4:24, 4:24] = np.asarray(Image.fromarray(img).resize((20, 20), Image.BICUBIC))
    keep = slice(0, DIGITS_TRAIN) if split == "train" else slice(DIGITS_TRAIN, None)
    return out[keep], d.target[keep].astype(np.int64)


def colour_digits(x: np.ndarray, split: str) -> np.ndarray:
    """uint8 digits [N, 28, 28] -> uint8 RGB [N, 28, 28, 3]: |photo patch - digit| (see the module docstring)."""
    try:
        import skimage.data as photos
    except ImportError:
        raise DataError("dataset 'mnist-colour' needs scikit-image (its photographs): pip install "
                        "'ganforge[translate]' (or `make setup`)") from None
    images = [np.asarray(getattr(photos, name)(), dtype=np.uint8) for name in PHOTOS]
    rng = np.random.default_rng(COLOUR_SEEDS[split])
    out = np.empty((len(x), 28, 28, 3), np.uint8)
    for i, digit in enumerate(x):
        k = int(rng.integers(len(images)))
        h, w = images[k].shape[:2]
        r, c = int(rng.integers(h - 27)), int(rng.integers(w - 27))
        patch = images[k][r:r + 28, c:c + 28].astype(np.int16)
        out[i] = np.abs(patch - digit[..., None].astype(np.int16)).astype(np.uint8)
    return out


@DATASETS.register("digits28", help="scikit-learn's digits resized to 20x20 and centred in 28x28 like MNIST "
                                    "(train 1,500 / test 297), 10 classes")
def digits28(arg: str = "", cfg: Any = None) -> ImageSource:
    split = split_only("digits28", arg)
    x, y = digits28_arrays(split)
    return ImageSource("digits28" if split == "train" else f"digits28@{split}", x, y, 10)


@DATASETS.register("mnist-colour", help="MNIST digits blended over patches of scikit-image's photographs "
                                        "(MNIST-M style, RGB 28x28), 10 classes")
def mnist_colour(arg: str = "", cfg: Any = None) -> ImageSource:
    split = split_only("mnist-colour", arg)
    x, y = mnist_arrays(split)
    return ImageSource("mnist-colour" if split == "train" else f"mnist-colour@{split}",
                       colour_digits(x, split).transpose(0, 3, 1, 2), y, 10)


class UnpairedSource(Source):
    """Two image domains A and B; batches (B images, None, A images), each domain from its own sampler.
    shape = B's image shape (G's output), input_shape = A's (G's input)."""

    kind = "images"
    unpaired = True

    def __init__(self, a: Source, b: Source) -> None:
        for which, src in (("A (data.name)", a), ("B (data.name_b)", b)):
            if src.kind != "images":
                raise DataError(f"domain {which}: '{src.name}' holds {src.kind}, not images: CycleGAN translates images")
            if getattr(src, "paired", False) or getattr(src, "unpaired", False):
                raise DataError(f"domain {which}: '{src.name}' is a paired data set; a domain is one image data set")
        self.a, self.b = a, b
        self.name = f"{a.name}|{b.name}"
        self.shape, self.input_shape = tuple(b.shape), tuple(a.shape)
        self.num_classes = 0

    def sampler(self, batch_size: int, seed: int) -> Sampler:
        return UnpairedSampler(self.a.sampler(batch_size, seed), self.b.sampler(batch_size, seed + 1))

    def reference(self, n: int) -> np.ndarray | None:
        return self.b.reference(n)

    def info(self) -> dict[str, Any]:
        return {**super().info(), "unpaired": True, "domain_a": self.a.info(), "domain_b": self.b.info()}


class UnpairedSampler(Sampler):
    def __init__(self, a: Sampler, b: Sampler) -> None:
        self.a, self.b = a, b

    def next(self) -> tuple[Tensor, None, Tensor]:  # type: ignore[override]
        a, b = self.a.next()[0], self.b.next()[0]
        return b, None, a

    def state_dict(self) -> dict[str, Any]:
        return {"a": self.a.state_dict(), "b": self.b.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.a.load_state_dict(state["a"])
        self.b.load_state_dict(state["b"])

    def keep_on(self, device: torch.device, budget_bytes: int) -> bool:
        return self.a.keep_on(device, budget_bytes // 2) and self.b.keep_on(device, budget_bytes // 2)


def load_domains(cfg: Any) -> UnpairedSource:
    """Domains A (data.name) and B (data.name_b), each error naming its domain."""
    from .source import load_source

    domains = []
    for which, key in (("A", "name"), ("B", "name_b")):
        name = getattr(cfg, key)
        try:
            domains.append(load_source(name, cfg))
        except DataError as e:
            raise DataError(f"domain {which} (data.{key}={name}): {e}") from None
    return UnpairedSource(*domains)
