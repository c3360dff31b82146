"""Images in and out of `ganforge translate`: a folder of images, one image file, or an NPZ (x uint8
[N, H, W(, C)]), read into uint8 [N, H, W, C] with a name per image, and written back the same ways."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoint import atomic_write
from .errors import ConfigError, DataError
from .files import load_npz, writable_dir, writable_file


def _to_array(img: Any, channels: int | None, size: tuple[int, int] | None) -> np.ndarray:
    """A decoded PIL image -> uint8 [H, W, C]: grey or RGB as folder data reads it; converted to `channels`
    and resized to size = (H, W) (PIL bicubic) only when those are given (translate --resize)."""
    from PIL import Image

    from .data.folder import canonical

    img = canonical(img)
    if channels is not None:
        img = img.convert("L" if channels == 1 else "RGB")
    if size is not None and img.size != (size[1], size[0]):
        img = img.resize((size[1], size[0]), Image.BICUBIC)
    arr = np.asarray(img, dtype=np.uint8)
    return arr[..., None] if arr.ndim == 2 else arr


def read_images(spec: str | Path, channels: int | None = None, size: tuple[int, int] | None = None
                ) -> tuple[np.ndarray, list[str], str]:
    """(uint8 [N, H, W, C], names, kind) from a folder ('folder'), one image file ('image') or an NPZ ('npz').
    Images of one folder must share one size (unless size is given)."""
    from PIL import Image

    from .data.folder import EXTENSIONS, list_images

    p = Path(spec)
    if not p.exists():
        raise DataError(f"INPUT '{p}' does not exist: give a folder of images, an image file or an .npz")
    if p.is_file() and p.suffix.lower() in (".npz", ".npy"):
        arrays = load_npz(p, "NPZ file")
        if "x" not in arrays:
            raise DataError(f"NPZ file '{p}' has no array 'x' (found: {', '.join(arrays) or 'none'}): save the images "
                            f"as x (uint8 [N, H, W] or [N, H, W, C])")
        x = np.asarray(arrays["x"])
        if x.dtype != np.uint8 or x.ndim not in (3, 4):
            raise DataError(f"NPZ file '{p}': x must be uint8 images [N, H, W] or [N, H, W, C], got {x.dtype} "
                            f"{list(x.shape)}")
        x = x[..., None] if x.ndim == 3 else x
        if size is not None or channels is not None:
            x = np.stack([_to_array(Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a), channels, size) for a in x])
        return x, [f"{i:05d}" for i in range(len(x))], "npz"
    files = [p] if p.is_file() else list_images(p)
    if p.is_file() and p.suffix.lower() not in EXTENSIONS:
        raise DataError(f"INPUT '{p}' is neither an image ({', '.join(EXTENSIONS)}) nor an .npz")
    if not files:
        raise DataError(f"INPUT folder '{p}' holds no images (looked for {', '.join(EXTENSIONS)})")
    arrays, names = [], []
    for f in files:
        try:
            with Image.open(f) as img:
                img.load()
                arrays.append(_to_array(img, channels, size))
        except Exception as e:  # noqa: BLE001  (PIL raises many types for bad files)
            raise DataError(f"cannot decode '{f}': {type(e).__name__}: {e}") from None
        names.append(str(f.relative_to(p)) if p.is_dir() else f.name)
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        first = arrays[0].shape
        odd = next(n for n, a in zip(names, arrays) if a.shape != first)
        raise DataError(f"INPUT images differ in size or channels: '{names[0]}' is {list(first)} (H, W, C) but "
                        f"'{odd}' is {list(arrays[names.index(odd)].shape)}; give images of one size (or --resize)")
    return np.stack(arrays), names, "image" if p.is_file() else "folder"


def check_output(out: str | Path, names: list[str]) -> Path:
    """OUT ends in .npz (one file, overwritten) or names a folder; a folder must not already hold any of the
    files this would write (nothing written before is ever replaced)."""
    o = Path(out)
    if o.suffix.lower() == ".npz":
        return writable_file(o, "--out")
    if o.suffix.lower() in (".png", ".jpg", ".jpeg") and len(names) == 1:
        return writable_file(o, "--out")
    if o.exists() and not o.is_dir():
        raise ConfigError(f"--out '{o}' is a file: give a folder, an .npz, or (for one input image) a .png")
    if o.is_dir():
        taken = [n for n in (png_name(n) for n in names) if (o / n).exists()]
        if taken:
            raise ConfigError(f"--out '{o}' already holds {len(taken)} of the files this would write (first: "
                              f"'{taken[0]}'); choose an empty or new folder (nothing was written)")
    else:
        writable_dir(o.parent if str(o.parent) else Path("."), "--out's parent folder")
    return o


def png_name(name: str) -> str:
    return str(Path(name).with_suffix(".png"))


def write_images(out: Path, images: np.ndarray, names: list[str]) -> list[Path]:
    """uint8 [N, H, W, C] -> OUT.npz (x, and the input names), one image file, or one PNG per image in a folder."""
    from PIL import Image

    if out.suffix.lower() == ".npz":
        buf = io.BytesIO()
        np.savez(buf, x=images, names=np.array(names))
        atomic_write(out, buf.getvalue())
        return [out]
    one = lambda a: Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a)  # noqa: E731
    if out.suffix.lower() in (".png", ".jpg", ".jpeg"):
        buf = io.BytesIO()
        one(images[0]).save(buf, format="JPEG" if out.suffix.lower() != ".png" else "PNG")
        atomic_write(out, buf.getvalue())
        return [out]
    written = []
    for a, name in zip(images, names):
        path = out / png_name(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        one(a).save(buf, format="PNG")
        atomic_write(path, buf.getvalue())
        written.append(path)
    return written
