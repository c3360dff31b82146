"""folder:PATH: any directory of images, decoded once into memory.

Recursive; class sub-folders (first level) become labels when every image is inside one.
Each image is fully decoded when the dataset is built (never mid-training), converted by mode
(16-bit grayscale scaled by 255/65535, not clipped; palette and CMYK to RGB; alpha composited
over black; all grayscale -> 1 channel, else 3, unless data.channels is set), resized so the shorter side is data.resolution (PIL bicubic) and centre-cropped.
Files that cannot be decoded are skipped and listed (data.on_error=skip or auto, the default) or stop
the build with the first bad file named (data.on_error=fail).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..registries import DATASETS
from .images import ImageSource

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


def list_images(root: Path) -> list[Path]:
    """Image files below root, sorted; symlinked directories are not followed (no loops)."""
    found = []
    for dirpath, _, files in os.walk(root, followlinks=False):
        for f in files:
            if f.lower().endswith(EXTENSIONS):
                found.append(Path(dirpath) / f)
    return sorted(found)


def canonical(img: Any) -> Any:
    """A decoded PIL image of any mode -> mode 'L' or 'RGB', with the conversion stated for each mode."""
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(img, dtype=np.float64)
        return Image.fromarray(np.rint(a * (255.0 / 65535.0)).clip(0, 255).astype(np.uint8), "L")  # 16-bit -> 8
    if img.mode == "F":
        return Image.fromarray(np.asarray(img).clip(0, 255).astype(np.uint8), "L")
    if img.mode == "1":
        return img.convert("L")
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        grey = img.mode in ("LA", "La")
        bg = Image.new("RGBA", img.size, (0, 0, 0, 255))
        img = Image.alpha_composite(bg, img.convert("RGBA")).convert("L" if grey else "RGB")
    return img if img.mode in ("L", "RGB") else img.convert("RGB")  # CMYK, YCbCr, LAB, HSV, ...


def resize_crop(img: Any, resolution: int) -> Any:
    """Shorter side to resolution (PIL bicubic), then a centre crop to resolution x resolution."""
    from PIL import Image

    w, h = img.size
    s = resolution / min(w, h)
    img = img.resize((max(resolution, round(w * s)), max(resolution, round(h * s))), Image.BICUBIC)
    w, h = img.size
    left, top = (w - resolution) // 2, (h - resolution) // 2
    return img.crop((left, top, left + resolution, top + resolution))


def load_folder(root: Path, resolution: int, channels: int = 0, on_error: str = "skip",
                flip: bool = False) -> ImageSource:
    """Build an ImageSource from a directory (see the module docstring)."""
    from PIL import Image

    if not root.is_dir():
        raise DataError(f"dataset 'folder': '{root}' is not a directory")
    files = list_images(root)
    if not files:
        raise DataError(f"dataset 'folder': no images in '{root}' (looked for {', '.join(EXTENSIONS)})")
    rel = [f.relative_to(root) for f in files]
    labelled = all(len(r.parts) >= 2 for r in rel)
    classes = sorted({r.parts[0] for r in rel}) if labelled else []
    decoded: list[tuple[Any, int]] = []
    bad: list[tuple[Path, str]] = []
    for f, r in zip(files, rel):
        try:
            with Image.open(f) as img:
                img.load()  # full decode now, so a truncated file never fails mid-training
                decoded.append((resize_crop(canonical(img), resolution), classes.index(r.parts[0]) if labelled else -1))
        except Exception as e:  # PIL raises many types for bad files (OSError, SyntaxError, ValueError...)
            if on_error == "fail":
                raise DataError(f"dataset 'folder': cannot decode '{f}': {type(e).__name__}: {e} "
                                f"(set data.on_error=skip to skip such files)") from None
            bad.append((f, f"{type(e).__name__}: {e}"))
    if bad:
        names = ", ".join(str(p.relative_to(root)) for p, _ in bad[:20]) + (" ..." if len(bad) > 20 else "")
        print(f"ganforge: dataset 'folder': skipped {len(bad)} of {len(files)} files that cannot be decoded: {names}",
              file=sys.stderr)
    if not decoded:
        raise DataError(f"dataset 'folder': none of the {len(files)} image files in '{root}' could be decoded")
    if channels == 0:
        channels = 1 if all(img.mode == "L" for img, _ in decoded) else 3
    mode = "L" if channels == 1 else "RGB"
    x = np.stack([np.asarray(img.convert(mode), dtype=np.uint8).reshape(resolution, resolution, channels)
                  for img, _ in decoded]).transpose(0, 3, 1, 2)
    y = np.array([lab for _, lab in decoded]) if labelled else None
    src = ImageSource(f"folder:{root}", x, y, len(classes) if labelled else None, flip=flip)
    src.skipped = [str(p) for p, _ in bad]
    src.class_names = classes
    return src


@DATASETS.register("folder", help="folder:PATH: a directory of images (class sub-folders = labels), "
                                  "resized/cropped to data.resolution")
def folder(arg: str = "", cfg: Any = None) -> ImageSource:
    if not arg:
        raise DataError("dataset 'folder' needs a path: folder:PATH")
    res = cfg.resolution if cfg is not None else 64
    return load_folder(Path(arg), res, cfg.channels if cfg is not None else 0,
                       cfg.on_error if cfg is not None else "skip", cfg.flip if cfg is not None else False)
