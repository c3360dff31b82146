"""Sources of training data and their infinite, exactly resumable samplers."""
from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError
from ..registries import DATASETS


def decode(x: Tensor, kind: str) -> np.ndarray:
    """Model-space samples -> data units: coordinates for 'points', uint8 HWC for 'images'."""
    if kind == "images":
        img = ((x.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return img.permute(0, 2, 3, 1).numpy() if img.dim() == 4 else img.numpy()
    return x.detach().float().cpu().numpy()


class Source:
    """A dataset as the training loop sees it.

    kind: 'points' (coordinates, used as is) or 'images' (uint8 on disk, [-1, 1] for the nets).
    shape: shape of one sample in model space; num_classes: 0 when unlabelled.
    """

    name: str = "source"
    kind: str = "points"
    shape: tuple[int, ...] = ()
    num_classes: int = 0

    def sampler(self, batch_size: int, seed: int) -> "Sampler":
        raise NotImplementedError

    def decode(self, x: Tensor) -> np.ndarray:
        """Model-space samples -> the data's own units (coordinates, or uint8 HWC images)."""
        return decode(x, self.kind)

    def reference(self, n: int) -> np.ndarray | None:
        """Up to n real samples in data units, for pictures (None when not cheap to get)."""
        return None

    def info(self) -> dict[str, Any]:
        """What an exported generator records about its data."""
        return {"name": self.name, "kind": self.kind, "shape": list(self.shape), "num_classes": self.num_classes}


class Sampler:
    """Infinite batch iterator whose position is part of the training checkpoint."""

    def next(self) -> tuple[Tensor, Tensor | None]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def keep_on(self, device: torch.device, budget_bytes: int) -> bool:
        """Move the whole dataset to device once, if it fits in budget_bytes (batches are then sliced
        there, with no host-to-device copy per step). Returns whether it moved."""
        return False


class PermutationSampler(Sampler):
    """Epochs of a seeded permutation (last partial batch dropped); state is (epoch, position)."""

    def __init__(self, x: Tensor, y: Tensor | None, batch_size: int, seed: int,
                 transform: Any = None, name: str = "the dataset") -> None:
        n = x.shape[0]
        if batch_size > n:
            raise DataError(f"data.batch_size={batch_size} is larger than {name} ({n} samples); "
                             f"lower it to at most {n}")
        self.x, self.y, self.batch_size, self.seed, self.transform = x, y, batch_size, seed, transform
        self.epoch, self.pos = 0, 0
        self._perm: Tensor | None = None

    def _permutation(self) -> Tensor:
        if self._perm is None:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            self._perm = torch.randperm(self.x.shape[0], generator=g)
        return self._perm

    def indices(self) -> Tensor:
        """The next batch's sample indices (a new epoch's permutation when the last one is used up)."""
        if self.pos + self.batch_size > self.x.shape[0]:
            self.epoch, self.pos, self._perm = self.epoch + 1, 0, None
        idx = self._permutation()[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        return idx

    def next(self) -> tuple[Tensor, Tensor | None]:
        idx = self.indices()
        x = self.x[idx]
        return (self.transform(x) if self.transform is not None else x), (self.y[idx] if self.y is not None else None)

    def keep_on(self, device: torch.device, budget_bytes: int) -> bool:
        size = sum(t.numel() * t.element_size() for t in (self.x, self.y) if t is not None)
        if device.type == "cpu" or size > budget_bytes:
            return False
        self.x = self.x.to(device)
        self.y = self.y.to(device) if self.y is not None else None
        return True

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.pos, self._perm = int(state["epoch"]), int(state["pos"]), None


def check_labels(what: str, y: Any, n: int, num_classes: int | None = None) -> tuple[Tensor, int]:
    """Labels of n samples -> (long tensor [n], number of classes). They must be integers 0..C-1: C is
    num_classes when given, else max + 1, which may not exceed the number of samples (a larger label
    is a mistake, and would size the label embedding by it)."""
    arr = np.asarray(y) if not isinstance(y, Tensor) else y.detach().cpu().numpy()
    arr = arr.reshape(-1)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise DataError(f"{what}: labels must be integers 0..C-1, got dtype {arr.dtype}")
    if len(arr) != n:
        raise DataError(f"{what}: {len(arr)} labels for {n} samples (the counts differ): give one label per sample")
    if np.issubdtype(arr.dtype, np.floating) and not (np.isfinite(arr).all() and (arr == np.round(arr)).all()):
        raise DataError(f"{what}: labels must be integers 0..C-1, got non-integer values")
    lo, hi = (int(arr.min()), int(arr.max())) if n else (0, -1)
    if lo < 0:
        raise DataError(f"{what}: labels must be integers 0..C-1, got {lo}")
    if num_classes is not None and hi >= num_classes:
        raise DataError(f"{what}: label {hi} is out of range for {num_classes} classes (0..{num_classes - 1})")
    if num_classes is None and hi + 1 > max(n, 1):
        raise DataError(f"{what}: largest label {hi} would mean {hi + 1} classes for {n} samples: labels must be "
                        f"0..C-1 (renumber them)")
    return torch.as_tensor(arr.astype(np.int64)), (num_classes if num_classes is not None else hi + 1)


IMAGE_CHANNELS = (1, 3, 4)
MIN_IMAGE_SIDE = 8


def image_layout(shape: tuple[int, ...]) -> str | None:
    """The layout of an array of samples whose shape looks like images, else None (points):
    [N, H, W] 'nhw'; [N, C, H, W] 'nchw' and [N, H, W, C] 'nhwc' with C in 1, 3, 4 and sides >= 8
    (channels first wins when both read: [N, 3, 8, 3] cannot be 8 x 3 images)."""
    side = lambda *s: all(v >= MIN_IMAGE_SIDE for v in s)  # noqa: E731
    if len(shape) == 3 and side(shape[1], shape[2]):
        return "nhw"
    if len(shape) == 4 and shape[1] in IMAGE_CHANNELS and side(shape[2], shape[3]):
        return "nchw"
    if len(shape) == 4 and shape[3] in IMAGE_CHANNELS and side(shape[1], shape[2]):
        return "nhwc"
    return None


def to_nchw(x: Tensor, layout: str | None) -> Tensor:
    """Image batches of a given layout -> [N, C, H, W] (contiguous)."""
    if layout == "nhw":
        return x[:, None]
    if layout == "nhwc":
        return x.permute(0, 3, 1, 2).contiguous()
    return x


class TensorSource(Source):
    """In-memory samples (a user's tensor or numpy array), with optional integer labels.

    kind 'auto': image-shaped arrays ([N, H, W], [N, C, H, W], [N, H, W, C]; see image_layout) are
    images, in [-1, 1], held as [N, C, H, W]; anything else is points."""

    def __init__(self, x: Any, y: Any = None, name: str = "tensor", kind: str = "points") -> None:
        x = torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x)
        if x.dim() == 1:
            x = x[:, None]
        if kind == "auto":
            layout = image_layout(tuple(x.shape))
            kind, x = ("images", to_nchw(x, layout)) if layout else ("points", x)
        if x.shape[0] < 1:
            raise DataError("the training data is empty")
        if not torch.is_floating_point(x):
            raise DataError(f"training data must be floating point (scale images to [-1, 1] first), got {x.dtype}")
        x = x.float()
        if not torch.isfinite(x).all():
            raise DataError("the training data contains NaN or Inf values")
        self.num_classes = 0
        if y is not None:
            y, self.num_classes = check_labels("the training data", y, x.shape[0])
        self.x, self.y, self.name, self.kind = x, y, name, kind
        self.shape = tuple(x.shape[1:])

    def sampler(self, batch_size: int, seed: int) -> Sampler:
        return PermutationSampler(self.x, self.y, batch_size, seed, name=f"the dataset '{self.name}'")

    def reference(self, n: int) -> np.ndarray | None:
        return self.decode(self.x[:n])


class LoaderSampler(Sampler):
    """Wraps a user's DataLoader, restarting it when exhausted. Resume restarts the loader's
    order (a DataLoader's shuffling state is not exposed), so it is not bit-exact."""

    def __init__(self, loader: Any, layout: str | None = None) -> None:
        self.loader, self.layout = loader, layout
        self._it: Iterator[Any] | None = None

    def next(self) -> tuple[Tensor, Tensor | None]:
        for _ in range(2):
            if self._it is None:
                self._it = iter(self.loader)
            try:
                x, y = split_batch(next(self._it))
                return to_nchw(x, self.layout), y
            except StopIteration:
                self._it = None
        raise DataError("the DataLoader yields no batches")

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def split_batch(batch: Any) -> tuple[Tensor, Tensor | None]:
    """A DataLoader batch (x, or (x, y), or [x, y]) -> (float x, long y or None)."""
    if isinstance(batch, (list, tuple)):
        x, y = batch[0], (batch[1] if len(batch) > 1 else None)
    else:
        x, y = batch, None
    x = torch.as_tensor(x).float()
    return (x[:, None] if x.dim() == 1 else x), (torch.as_tensor(y).long().reshape(-1) if y is not None else None)


class LoaderSource(Source):
    """A user's torch DataLoader; shape and classes read from its first batch (classes: pass num_classes)."""

    def __init__(self, loader: Any, num_classes: int = 0, name: str = "dataloader") -> None:
        x, y = split_batch(next(iter(loader)))
        self.layout = image_layout(tuple(x.shape))
        self.kind = "images" if self.layout else "points"
        self.loader, self.name, self.shape = loader, name, tuple(to_nchw(x, self.layout).shape[1:])
        self.num_classes = num_classes if y is not None else 0  # labels are used only when num_classes > 0

    def sampler(self, batch_size: int, seed: int) -> Sampler:
        return LoaderSampler(self.loader, self.layout)


HAS_TEST_SPLIT = ("mnist", "fashion-mnist", "stacked-mnist",  # datasets with @train and @test splits
                  "mnist-sr4", "mnist-inpaint", "mnist-denoise", "fashion-edges", "digits28", "mnist-colour")


def canonical_name(name: str) -> str:
    """'mnist:test' -> 'mnist@test': a split written as the argument becomes the split suffix."""
    kind, _, arg = name.partition(":")
    if "@" not in name and kind in HAS_TEST_SPLIT and arg in ("train", "test"):
        return f"{kind}@{arg}"
    return name


def parse_name(name: str) -> tuple[str, str]:
    """'kind', 'kind@split', 'kind:ARG' or 'kind:ARG@split' -> (kind, 'ARG@split')."""
    kind, _, arg = name.partition(":")
    kind, _, split = kind.partition("@")
    return kind, arg + (f"@{split}" if split else "")


def load_source(name: str, data_cfg: Any = None) -> Source:
    """Dataset by registry name; 'kind:ARG' passes ARG (e.g. a path) to the loader, '@test' picks a split.
    data_cfg (a DataConfig) carries options such as resolution, on_error and flip."""
    kind, arg = parse_name(name)
    return DATASETS.get(kind)(arg, data_cfg)
