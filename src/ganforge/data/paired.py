"""Paired data for image-to-image translation: (input, target) images, and the built-in tasks.

Every task is defined exactly, so that its inputs can be rebuilt from the raw data (uint8 images):
  mnist-sr4      input = the 28x28 digit reduced to 7x7 by 4x4 box averaging, enlarged back to 28x28 by
                 pixel repetition, rounded to uint8 (np.rint); target = the digit
  mnist-inpaint  input = the digit with rows and columns 7..20 (the central 14x14 square) set to 0
  mnist-denoise  input = clip(digit + N(0, 1.0), -1, 1) on the [-1, 1] scale. Training draws fresh
                 noise for every batch (the global torch RNG, saved in checkpoints, so resumes stay
                 exact) and uses it unquantised; the test split's inputs are fixed: noise
                 numpy.random.default_rng(1611).standard_normal((10000, 28, 28)) (float64), then
                 rint((clip(x / 127.5 - 1 + noise, -1, 1) + 1) * 127.5) as uint8
  fashion-edges  input = kornia.filters.canny of the Fashion-MNIST item scaled to [0, 1] (its defaults:
                 thresholds 0.1 / 0.2, 5x5 Gaussian, sigma 1) as a binary map, 0 or 255; target = the item
                 (computed once per split and cached under the ganforge cache directory)
  pairs:DIR_A,DIR_B  your own pairs, files matched by their path relative to each folder
  pairs:DIR      one folder of A|B images side by side (the layout of the original pix2pix data sets)
Splits follow the underlying dataset's (`mnist-sr4@test`). Batches reach the step as x = target,
x2 = input, both in [-1, 1].
"""
from __future__ import annotations

import hashlib
import io
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError
from ..registries import DATASETS
from .images import FASHION_DIR, SPLITS, ImageSource, idx_pair, mnist_arrays, split_arg, split_only, to_unit
from .source import PermutationSampler, Sampler

DENOISE_STD = 1.0
DENOISE_TEST_SEED = 1611
INPAINT_BOX = slice(7, 21)  # rows and columns 7..20


# ---- the task definitions (numpy, uint8 in and out) -------------------------------------------------------
def sr4_inputs(x: np.ndarray) -> np.ndarray:
    """uint8 [N, 28, 28] -> 4x4 box means (7x7), repeated back to 28x28, rounded to uint8."""
    n, h, w = x.shape
    small = x.astype(np.float64).reshape(n, h // 4, 4, w // 4, 4).mean(axis=(2, 4))
    return np.rint(small).astype(np.uint8).repeat(4, axis=1).repeat(4, axis=2)


def inpaint_inputs(x: np.ndarray) -> np.ndarray:
    """uint8 [N, H, W] with rows and columns 7..20 set to 0."""
    out = x.copy()
    out[:, INPAINT_BOX, INPAINT_BOX] = 0
    return out


def denoise_test_inputs(x: np.ndarray) -> np.ndarray:
    """The fixed noisy inputs of a test split: uint8 [N, H, W] (see the module docstring)."""
    noise = np.random.default_rng(DENOISE_TEST_SEED).standard_normal(x.shape)
    noisy = np.clip(x.astype(np.float64) / 127.5 - 1.0 + DENOISE_STD * noise, -1.0, 1.0)
    return np.rint((noisy + 1.0) * 127.5).astype(np.uint8)


def edge_inputs(x: np.ndarray, batch: int = 2000) -> np.ndarray:
    """uint8 [N, H, W] -> kornia's Canny edge map of each image in [0, 1], as uint8 0 / 255."""
    try:
        import kornia
    except ImportError:
        raise DataError("dataset 'fashion-edges' needs kornia for its Canny edges: pip install 'ganforge[translate]' "
                        "(or `make setup`)") from None
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            t = torch.from_numpy(x[i:i + batch]).float().div(255.0)[:, None]
            _, edges = kornia.filters.canny(t)
            out.append((edges[:, 0] > 0.5).numpy().astype(np.uint8) * 255)
    return np.concatenate(out) if out else np.zeros_like(x)


def _cached(key: str, build: Any) -> np.ndarray:
    """An array built once and kept under the ganforge cache directory (a read-only cache just rebuilds)."""
    from ..checkpoint import atomic_write
    from ..files import cache_dir

    path = cache_dir() / "paired" / f"{key}.npy"
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        pass
    arr = build()
    buf = io.BytesIO()
    np.save(buf, arr)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, buf.getvalue())
    except Exception as e:  # noqa: BLE001  (an unwritable cache never fails the run)
        print(f"ganforge: could not cache '{path}': {e}", file=sys.stderr)
    return arr


# ---- the source and its sampler ----------------------------------------------------------------------------
class PairedSource(ImageSource):
    """(input, target) uint8 images [N, C, H, W] with optional labels (kept for evaluation, e.g. the digit
    classifier's accuracy; training is unconditional). inputs=None: noisy inputs drawn per batch
    (mnist-denoise's training split)."""

    paired = True

    def __init__(self, name: str, inputs: np.ndarray | None, targets: np.ndarray, labels: Any = None,
                 num_classes: int | None = None, task: str = "pairs", noise_std: float = 0.0) -> None:
        super().__init__(name, targets, labels, num_classes)
        self.task, self.noise_std = task, noise_std
        if inputs is None:
            self.inputs = None
            self.input_shape = self.shape
        else:
            inp = torch.as_tensor(np.ascontiguousarray(inputs))
            inp = inp[:, None] if inp.dim() == 3 else inp
            if inp.dtype != torch.uint8 or inp.shape[0] != self.x.shape[0] or inp.shape[2:] != self.x.shape[2:]:
                raise DataError(f"dataset '{name}': inputs {list(inp.shape)} ({inp.dtype}) and targets "
                                f"{list(self.x.shape)} must be uint8 images of one size, one input per target")
            self.inputs = inp
            self.input_shape = tuple(inp.shape[1:])

    def sampler(self, batch_size: int, seed: int) -> Sampler:
        return PairedSampler(self, batch_size, seed)

    def input_images(self, n: int | None = None) -> np.ndarray:
        """The first n inputs as uint8 [N, H, W, C] (noisy inputs of a training split: drawn with the fixed
        test seed, as the test split's are)."""
        n = len(self.x) if n is None else min(n, len(self.x))
        if self.inputs is None:
            x = denoise_test_inputs(self.x[:n, 0].numpy())[:, None]
            return x.transpose(0, 2, 3, 1)
        return self.inputs[:n].permute(0, 2, 3, 1).numpy()

    def target_images(self, n: int | None = None) -> np.ndarray:
        n = len(self.x) if n is None else min(n, len(self.x))
        return self.x[:n].permute(0, 2, 3, 1).numpy()

    def info(self) -> dict[str, Any]:
        return {**super().info(), "paired": True, "task": self.task, "input_shape": list(self.input_shape)}


class PairedSampler(PermutationSampler):
    """Epochs of a seeded permutation of the pairs; next() -> (target, labels, input), in [-1, 1]."""

    def __init__(self, src: PairedSource, batch_size: int, seed: int) -> None:
        super().__init__(src.x, src.y, batch_size, seed, name=f"the dataset '{src.name}'")
        self.inputs, self.noise_std = src.inputs, src.noise_std

    def next(self) -> tuple[Tensor, Tensor | None, Tensor]:  # type: ignore[override]
        idx = self.indices()
        target = to_unit(self.x[idx])
        if self.inputs is None:  # fresh noise from the global RNG (saved in checkpoints)
            noise = torch.randn(target.shape, device=target.device) * self.noise_std
            inp = (target + noise).clamp_(-1.0, 1.0)
        else:
            inp = to_unit(self.inputs[idx])
        return target, (self.y[idx] if self.y is not None else None), inp

    def keep_on(self, device: torch.device, budget_bytes: int) -> bool:
        extra = self.inputs.numel() if self.inputs is not None else 0
        if not super().keep_on(device, budget_bytes - extra):
            return False
        if self.inputs is not None:
            self.inputs = self.inputs.to(device)
        return True


# ---- the built-in tasks -------------------------------------------------------------------------------------
def _digit_task(task: str, arg: str, make: Any) -> PairedSource:
    split = split_only(task, arg)
    x, y = mnist_arrays(split)
    name = task if split == "train" else f"{task}@{split}"
    return PairedSource(name, make(x, split), x, y, 10, task=task, noise_std=DENOISE_STD if task == "mnist-denoise" else 0)


@DATASETS.register("mnist-sr4", help="paired: MNIST reduced 4x (4x4 box means, repeated back) -> the digit")
def mnist_sr4(arg: str = "", cfg: Any = None) -> PairedSource:
    return _digit_task("mnist-sr4", arg, lambda x, split: sr4_inputs(x))


@DATASETS.register("mnist-inpaint", help="paired: MNIST with its central 14x14 square (rows/cols 7..20) zeroed -> the digit")
def mnist_inpaint(arg: str = "", cfg: Any = None) -> PairedSource:
    return _digit_task("mnist-inpaint", arg, lambda x, split: inpaint_inputs(x))


@DATASETS.register("mnist-denoise", help="paired: MNIST plus Gaussian noise of std 1 on [-1, 1] (fresh per batch; "
                                         "fixed on @test) -> the digit")
def mnist_denoise(arg: str = "", cfg: Any = None) -> PairedSource:
    return _digit_task("mnist-denoise", arg, lambda x, split: None if split == "train" else denoise_test_inputs(x))


@DATASETS.register("fashion-edges", help="paired: kornia Canny edges of Fashion-MNIST -> the item (fashion-edges@test; "
                                         "fashion-edges:DIR for another copy of its IDX files)")
def fashion_edges(arg: str = "", cfg: Any = None) -> PairedSource:
    path, split = split_arg("fashion-edges", arg)
    if path in SPLITS and "@" not in arg:
        path, split = "", path
    src = idx_pair(Path(path) if path else FASHION_DIR, split, "fashion-mnist", False,
                   "Install the Debian package dataset-fashion-mnist (`make setup` does where apt is available), or "
                   "pass fashion-edges:DIR with the four IDX files.")
    x = src.x[:, 0].numpy()
    try:
        import kornia
        version = kornia.__version__
    except ImportError:
        version = "none"
    digest = hashlib.sha256(x.tobytes()).hexdigest()[:16]
    edges = _cached(f"fashion-edges-{split}-{digest}-kornia{version}", lambda: edge_inputs(x))
    name = f"fashion-edges{':' + path if path else ''}" + ("" if split == "train" else f"@{split}")
    return PairedSource(name, edges, x, src.y.numpy(), src.num_classes, task="fashion-edges")


# ---- your own pairs -----------------------------------------------------------------------------------------
def _decode(path: Path, channels: int, resolution: int | None) -> np.ndarray:
    """One image file -> uint8 [H, W, C] (grey or RGB, as folder: data decodes them), optionally resized."""
    from PIL import Image

    from .folder import canonical, resize_crop

    with Image.open(path) as img:
        img.load()
        img = canonical(img)
        if resolution:
            img = resize_crop(img, resolution)
        mode = "L" if channels == 1 else "RGB" if channels == 3 else img.mode
        arr = np.asarray(img.convert(mode), dtype=np.uint8)
    return arr[..., None] if arr.ndim == 2 else arr


def _listing(names: list[str], total: int) -> str:
    return ", ".join(names[:5]) + (f", ... ({total} in all)" if total > 5 else f" ({total})")


def load_pairs(arg: str, cfg: Any = None) -> PairedSource:
    """pairs:DIR_A,DIR_B (matched by relative path) or pairs:DIR (A|B side by side in each image)."""
    from .folder import list_images

    if not arg:
        raise DataError("dataset 'pairs' needs a path: pairs:DIR_A,DIR_B (files matched by relative path) or "
                        "pairs:DIR (A|B side by side in one image)")
    on_error = getattr(cfg, "on_error", "auto")
    on_error = "fail" if on_error == "auto" else on_error  # pairs are all or nothing unless data.on_error=skip
    resize = bool(getattr(cfg, "pair_resize", False))
    res = getattr(cfg, "resolution", 64) if resize else None
    channels = getattr(cfg, "channels", 0)
    dirs = [Path(p) for p in arg.split(",")]
    for d in dirs:
        if not d.is_dir():
            raise DataError(f"dataset 'pairs:{arg}': '{d}' is not a directory")
    if len(dirs) > 2:
        raise DataError(f"dataset 'pairs:{arg}': give two folders (pairs:DIR_A,DIR_B) or one (pairs:DIR)")
    pairs: list[tuple[str, np.ndarray, np.ndarray]] = []
    bad: list[str] = []
    if len(dirs) == 2:
        rel = [{str(p.relative_to(d)): p for p in list_images(d)} for d in dirs]
        for side, (mine, other) in enumerate(((rel[0], rel[1]), (rel[1], rel[0]))):
            lonely = sorted(set(mine) - set(other))
            if lonely and on_error == "fail":
                raise DataError(f"dataset 'pairs:{arg}': files only in '{dirs[side]}': {_listing(lonely, len(lonely))}; "
                                f"add their partners, or set data.on_error=skip to leave them out")
            if lonely:
                print(f"ganforge: dataset 'pairs': skipped {len(lonely)} file(s) present only in '{dirs[side]}': "
                      f"{_listing(lonely, len(lonely))}", file=sys.stderr)
        for key in sorted(set(rel[0]) & set(rel[1])):
            try:
                a, b = _decode(rel[0][key], channels, res), _decode(rel[1][key], channels, res)
            except Exception as e:  # noqa: BLE001  (PIL raises many types for bad files)
                if on_error == "fail":
                    raise DataError(f"dataset 'pairs:{arg}': cannot decode '{key}': {type(e).__name__}: {e}") from None
                bad.append(key)
                continue
            if a.shape[:2] != b.shape[:2]:
                raise DataError(f"dataset 'pairs:{arg}': '{key}' is {a.shape[1]}x{a.shape[0]} in '{dirs[0]}' but "
                                f"{b.shape[1]}x{b.shape[0]} in '{dirs[1]}': give pairs of one size, or set "
                                f"data.pair_resize=true to resize both to data.resolution")
            pairs.append((key, a, b))
    else:
        for path in list_images(dirs[0]):
            key = str(path.relative_to(dirs[0]))
            try:
                ab = _decode(path, channels, None)
            except Exception as e:  # noqa: BLE001
                if on_error == "fail":
                    raise DataError(f"dataset 'pairs:{arg}': cannot decode '{key}': {type(e).__name__}: {e}") from None
                bad.append(key)
                continue
            if ab.shape[1] % 2:
                raise DataError(f"dataset 'pairs:{arg}': '{key}' is {ab.shape[1]} pixels wide: an A|B image must be "
                                f"two halves of equal width")
            a, b = ab[:, :ab.shape[1] // 2], ab[:, ab.shape[1] // 2:]
            if res:
                from PIL import Image

                from .folder import resize_crop
                a, b = (np.asarray(resize_crop(Image.fromarray(h.squeeze(-1) if h.shape[-1] == 1 else h), res))
                        for h in (a, b))
                a, b = (h[..., None] if h.ndim == 2 else h for h in (a, b))
            pairs.append((key, a, b))
    if bad:
        print(f"ganforge: dataset 'pairs': skipped {len(bad)} pair(s) that cannot be decoded: {_listing(bad, len(bad))}",
              file=sys.stderr)
    if not pairs:
        raise DataError(f"dataset 'pairs:{arg}': no pairs of images found")
    first = pairs[0]
    for key, a, b in pairs:
        if a.shape[:2] != first[1].shape[:2]:
            raise DataError(f"dataset 'pairs:{arg}': '{key}' is {a.shape[1]}x{a.shape[0]} but '{first[0]}' is "
                            f"{first[1].shape[1]}x{first[1].shape[0]}: give images of one size, or set "
                            f"data.pair_resize=true to resize them to data.resolution")
    ca = max(a.shape[-1] for _, a, _ in pairs)
    cb = max(b.shape[-1] for _, _, b in pairs)
    fix = lambda h, c: np.repeat(h, 3, -1) if h.shape[-1] < c else h  # noqa: E731  (grey among colour)
    a_all = np.stack([fix(a, ca) for _, a, _ in pairs]).transpose(0, 3, 1, 2)
    b_all = np.stack([fix(b, cb) for _, _, b in pairs]).transpose(0, 3, 1, 2)
    src = PairedSource(f"pairs:{arg}", a_all, b_all, task="pairs")
    src.keys = [k for k, _, _ in pairs]
    return src


DATASETS.register("pairs", load_pairs, help="pairs:DIR_A,DIR_B (matched by relative path) or pairs:DIR (A|B side by "
                                           "side): your own paired images, A the input, B the target")

__all__ = ["PairedSource", "PairedSampler", "sr4_inputs", "inpaint_inputs", "denoise_test_inputs", "edge_inputs",
           "SPLITS"]
