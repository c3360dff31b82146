"""Pictures without a plotting library: scatter plots, histograms and image grids as PNG (Pillow)."""
from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from .checkpoint import atomic_write

REAL_COLOUR = (150, 150, 150)
FAKE_COLOUR = (214, 39, 40)


def _save(img: Image.Image, path: str | Path) -> Path:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    atomic_write(path, buf.getvalue())
    return Path(path)


def _bounds(arrays: list[np.ndarray], margin: float = 0.08) -> tuple[np.ndarray, np.ndarray]:
    pts = np.concatenate([a for a in arrays if a is not None and len(a)], 0)
    lo, hi = np.percentile(pts, 0.5, 0), np.percentile(pts, 99.5, 0)
    span = np.maximum(hi - lo, 1e-3)
    return lo - margin * span, hi + margin * span


def scatter_png(fake: np.ndarray, path: str | Path, real: np.ndarray | None = None, title: str = "",
                size: int = 512) -> Path:
    """2-D scatter: real points grey, generated red; axes fitted to the real data when given."""
    lo, hi = _bounds([real] if real is not None else [fake])
    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)
    for pts, colour in ((real, REAL_COLOUR), (fake, FAKE_COLOUR)):
        if pts is None:
            continue
        uv = (pts[:, :2] - lo) / (hi - lo)
        px = np.stack([uv[:, 0] * (size - 1), (1 - uv[:, 1]) * (size - 1)], 1)
        for x, y in px[(uv >= 0).all(1) & (uv <= 1).all(1)]:
            draw.rectangle([x - 1, y - 1, x + 1, y + 1], fill=colour)
    draw.text((6, 4), title + "   grey: real   red: generated", fill=(0, 0, 0))
    return _save(img, path)


def histogram_png(fake: np.ndarray, path: str | Path, real: np.ndarray | None = None, title: str = "",
                  size: tuple[int, int] = (640, 360), bins: int = 60) -> Path:
    """1-D histograms of real (grey) and generated (red outline) values."""
    fake = fake.reshape(-1)
    real = real.reshape(-1) if real is not None else None
    lo, hi = _bounds([real[:, None]] if real is not None else [fake[:, None]])
    edges = np.linspace(lo[0], hi[0], bins + 1)
    hists = [(np.histogram(a[np.isfinite(a)], edges)[0] / max(len(a), 1), c)
             for a, c in ((real, REAL_COLOUR), (fake, FAKE_COLOUR)) if a is not None]  # fractions of all samples
    top = max(float(h.max()) for h, _ in hists) or 1.0
    w, h = size
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    bw = (w - 20) / bins
    for k, (hist, colour) in enumerate(hists):
        for i, v in enumerate(hist):
            y0 = h - 20 - v / top * (h - 50)
            box = [10 + i * bw, y0, 10 + (i + 1) * bw - 1, h - 20]
            draw.rectangle(box, fill=colour if k == 0 and real is not None else None, outline=colour)
    draw.text((6, 4), title + "   grey: real   red: generated", fill=(0, 0, 0))
    draw.text((10, h - 16), f"{edges[0]:.2f}", fill=(0, 0, 0))
    draw.text((w - 60, h - 16), f"{edges[-1]:.2f}", fill=(0, 0, 0))
    return _save(img, path)


def drawable(images: np.ndarray) -> np.ndarray:
    """uint8 images [N, H, W, C] -> what a picture can show: C = 1 (grayscale) and C = 3 (RGB) as they
    are; any other channel count (2, 4 as data, 5, ...) as one grayscale tile per channel, side by side
    ([N, H, C * W, 1]), so that no channel is dropped or misread as colour or alpha."""
    c = images.shape[-1]
    if c in (1, 3):
        return images
    n, h, w, _ = images.shape
    return np.ascontiguousarray(images.transpose(0, 1, 3, 2)).reshape(n, h, c * w, 1)


def image_grid(images: np.ndarray, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """uint8 images [N, H, W, C] -> one uint8 grid image [H', W', C'] (see drawable for C not 1 or 3)."""
    images = drawable(images)
    n, h, w, c = images.shape
    nrow = nrow or int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / nrow))
    grid = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), 255, np.uint8)
    for i in range(n):
        r, k = divmod(i, nrow)
        grid[pad + r * (h + pad):pad + r * (h + pad) + h, pad + k * (w + pad):pad + k * (w + pad) + w] = images[i]
    return grid


def save_image(image: np.ndarray, path: str | Path) -> Path:
    """Save one uint8 image [H, W, C] as PNG (C other than 1 or 3: one grayscale tile per channel)."""
    image = drawable(image[None])[0]
    return _save(Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image), path)


def grid_png(images: np.ndarray, path: str | Path, nrow: int | None = None) -> Path:
    """Save uint8 images [N, H, W, C] as one grid PNG."""
    return save_image(image_grid(images, nrow), path)


def picture(samples: np.ndarray, data_info: dict[str, Any], path: str | Path, real: np.ndarray | None = None,
            title: str = "", nrow: int | None = None) -> Path:
    """Save decoded samples as the picture that fits their kind: histogram, scatter or image grid."""
    if data_info["kind"] == "images":
        return grid_png(samples, path, nrow)
    flat = samples.reshape(len(samples), -1)
    if flat.shape[1] == 1:
        return histogram_png(flat, path, real, title)
    return scatter_png(flat, path, None if real is None else real.reshape(len(real), -1), title)


SERIES_COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14)]


def _panel(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], series: dict[str, tuple[np.ndarray, np.ndarray]],
           title: str) -> None:
    """Draw line series into box (x0, y0, x1, y1) with a frame, y-range labels and a legend."""
    x0, y0, x1, y1 = box
    xs = np.concatenate([s[0] for s in series.values()])
    ys = np.concatenate([s[1] for s in series.values()])
    ys = ys[np.isfinite(ys)]
    if len(xs) == 0 or len(ys) == 0:
        return
    xmin, xmax = float(xs.min()), float(xs.max()) or 1.0
    ymin, ymax = float(ys.min()), float(ys.max())
    if ymax - ymin < 1e-9:
        ymin, ymax = ymin - 0.5, ymax + 0.5
    draw.rectangle(box, outline=(0, 0, 0))
    draw.text((x0 + 4, y0 - 14), title, fill=(0, 0, 0))
    draw.text((x0 - 52, y0), f"{ymax:8.3f}", fill=(0, 0, 0))
    draw.text((x0 - 52, y1 - 10), f"{ymin:8.3f}", fill=(0, 0, 0))
    draw.text((x0, y1 + 4), f"{xmin:.0f}", fill=(0, 0, 0))
    draw.text((x1 - 40, y1 + 4), f"{xmax:.0f}", fill=(0, 0, 0))
    for k, (name, (sx, sy)) in enumerate(series.items()):
        colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
        px = x0 + (sx - xmin) / max(xmax - xmin, 1e-9) * (x1 - x0)
        py = y1 - (np.clip(sy, ymin, ymax) - ymin) / (ymax - ymin) * (y1 - y0)
        if len(px) > 1:
            draw.line(list(zip(px.tolist(), py.tolist())), fill=colour, width=2)
        draw.text((x1 - 110, y0 + 4 + 12 * k), f"- {name}", fill=colour)


def plot_panels(records: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """The panels of losses.png for whatever scalars the algorithm logs: its losses (keys ending in
    _loss) together, D's outputs (keys starting with 'D(') together, every other scalar on its own."""
    keys = [k for r in records for k in r if k not in ("step", "samples_per_s")]
    keys = list(dict.fromkeys(k for k in keys if all(isinstance(r.get(k, 0.0), (int, float)) for r in records)))
    panels = [("losses", [k for k in keys if k.endswith("_loss")]),
              ("discriminator outputs", [k for k in keys if k.startswith("D(")])]
    panels += [(k, [k]) for k in keys if not (k.endswith("_loss") or k.startswith("D("))]
    return [(title, ks) for title, ks in panels if ks]


def loss_plot_png(records: list[dict[str, Any]], path: str | Path, title: str = "") -> Path:
    """One panel per group of logged scalars over steps (see plot_panels): for gan, D and G losses, then
    D(x) and D(G(z)); for BEGAN also k_t and M_global."""
    panels = plot_panels(records)
    height = 12 + 254 * max(len(panels), 1)  # 520 px for gan's two panels, as before
    img = Image.new("RGB", (720, height), "white")
    draw = ImageDraw.Draw(img)
    steps = np.array([r["step"] for r in records], dtype=float)
    col = lambda key: np.array([r.get(key, np.nan) for r in records], dtype=float)  # noqa: E731
    draw.text((10, 4), title or "training curves", fill=(0, 0, 0))
    for i, (name, keys) in enumerate(panels):
        y0 = 36 + 254 * i
        _panel(draw, (70, y0, 700, y0 + 214), {k: (steps, col(k)) for k in keys}, name)
    return _save(img, path)


def panels_png(panels: list[tuple[str, np.ndarray]], path: str | Path, nrow: int | None = None,
               title: str = "") -> Path:
    """Labelled grids side by side (e.g. real | generated, or input | output | target), each of uint8
    images [N, H, W, C]; grey and colour panels may be mixed."""
    grids = [np.asarray(Image.fromarray(g[..., 0] if g.shape[-1] == 1 else g).convert("RGB"))
             for g in (image_grid(images, nrow) for _, images in panels)]
    h = max(g.shape[0] for g in grids)
    pad = lambda g: np.pad(g, ((0, h - g.shape[0]), (0, 0), (0, 0)), constant_values=255)  # noqa: E731
    gap = np.full((h, 12, 3), 255, np.uint8)
    parts = [p for g in grids for p in (pad(g), gap)][:-1]
    top = 16 if not title else 30
    img = Image.fromarray(np.concatenate(parts, 1))
    canvas = Image.new("RGB", (img.width, img.height + top), "white")
    canvas.paste(img, (0, top))
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((4, 2), title, fill=(0, 0, 0))
    x = 4
    for (label, _), g in zip(panels, grids):
        draw.text((x, top - 14), label, fill=(0, 0, 0))
        x += g.shape[1] + 12
    return _save(canvas, path)


def side_by_side_png(real: np.ndarray, fake: np.ndarray, path: str | Path, nrow: int | None = None) -> Path:
    """Real images (left) and generated images (right), uint8 [N, H, W, C] each."""
    return panels_png([("real", real), ("generated", fake)], path, nrow)


def gif_of(pngs: list[Path], path: str | Path, ms_per_frame: int = 400) -> Path | None:
    """An animated GIF of the given pictures (e.g. the sample grids over training)."""
    if not pngs:
        return None
    frames = [Image.open(p).convert("RGB") for p in pngs]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=ms_per_frame, loop=0)
    atomic_write(path, buf.getvalue())
    return Path(path)
