"""`ganforge export RUN --format onnx --out g.onnx`: a trained generator (its EMA weights) as an ONNX graph.

Inputs, each with a dynamic batch dimension N:
    noise runs    z [N, model.z_dim] float32 (z ~ N(0, I)); conditional runs also y [N] int64 (class);
                  InfoGAN runs also code [N] int64 (categorical value) and code_cont [N, k] float32 (in [-1, 1])
    translation   x_in [N, C, H, W] float32 in [-1, 1] (paired runs: input -> target; CycleGAN: G, A -> B)
Output x [N, C, H, W] (or the generator's own layout for Keras runs) float32 in the model's space: [-1, 1] for
images (uint8 = round((x + 1) * 127.5)), coordinates for points. The file's metadata (metadata_props) carries
the run's config, data description and prior as JSON, the input description and the ganforge version.
The graph is traced with torch.onnx.export's TorchScript path (opset 17; needs the onnx package: the
`export` extra).
"""
from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import __version__
from .errors import ConfigError
from .files import writable_file

OPSET = 17
FORMATS = ("onnx",)


class NoiseGraph(nn.Module):
    """G(z) or G(z, y), the ONNX graph's body for noise runs."""

    def __init__(self, G: nn.Module, conditional: bool) -> None:
        super().__init__()
        self.G, self.conditional = G, conditional

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.G(z, y if self.conditional else None)


class CodeGraph(nn.Module):
    """InfoGAN: G([z, onehot(code), code_cont]) with the code given as an integer."""

    def __init__(self, G: nn.Module, categorical: int) -> None:
        super().__init__()
        self.G, self.k = G, categorical
        self.register_buffer("values", torch.arange(max(categorical, 1)), persistent=False)

    def forward(self, z: torch.Tensor, code: torch.Tensor, code_cont: torch.Tensor) -> torch.Tensor:
        parts = [z]
        if self.k:
            parts.append((code[:, None] == self.values[None, :]).to(z.dtype))
        return self.G(torch.cat(parts + [code_cont.to(z.dtype)], 1), None)


class ImageGraph(nn.Module):
    def __init__(self, G: nn.Module) -> None:
        super().__init__()
        self.G = G

    def forward(self, x_in: torch.Tensor) -> torch.Tensor:
        return self.G(x_in)


def graph_of(gen: Any) -> tuple[nn.Module, tuple[torch.Tensor, ...], list[str], str]:
    """(module, example inputs, input names, their description) for a Generator."""
    G = gen.G
    if gen.translates:
        c, h, w = gen.input_shape("a2b")
        return ImageGraph(G), (torch.zeros(2, c, h, w),), ["x_in"], f"x_in [N, {c}, {h}, {w}] float32 in [-1, 1]"
    prior = gen.prior
    z = torch.zeros(2, prior.z_dim)
    if gen.has_codes:
        k, cont = prior.categorical, prior.continuous
        return (CodeGraph(G, k), (z, torch.zeros(2, dtype=torch.long), torch.zeros(2, cont)), ["z", "code", "code_cont"],
                f"z [N, {prior.z_dim}] float32 ~ N(0, I); code [N] int64 in 0..{max(k - 1, 0)}; code_cont [N, {cont}] "
                f"float32 in [-1, 1]")
    if gen.num_classes:
        return (NoiseGraph(G, True), (z, torch.zeros(2, dtype=torch.long)), ["z", "y"],
                f"z [N, {prior.z_dim}] float32 ~ N(0, I); y [N] int64 class in 0..{gen.num_classes - 1}")
    return NoiseGraph(G, False), (z,), ["z"], f"z [N, {prior.z_dim}] float32 ~ N(0, I)"


def export_onnx(source: str | os.PathLike, out: str | os.PathLike, G: Any = None, fmt: str = "onnx") -> Path:
    """Write the generator of a run, checkpoint or export file as ONNX (see the module docstring); returns the path."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r}: the formats are {', '.join(FORMATS)}")
    out = Path(out)
    if out.suffix.lower() != ".onnx":
        raise ConfigError(f"--out '{out}' must end in .onnx")
    writable_file(out, "--out")
    try:
        import onnx
    except ImportError:
        raise ConfigError("ONNX export needs the onnx package: pip install 'ganforge[export]' (onnx, onnxruntime)") \
            from None
    from .sample import load_generator

    return write_onnx(load_generator(source, G=G), out)


def write_onnx(gen: Any, out: Path) -> Path:
    """A loaded Generator as ONNX at out (a checked .onnx path), with its metadata; nothing written on failure."""
    import onnx

    from .checkpoint import atomic_write

    module, example, names, described = graph_of(gen)
    module = module.cpu().eval()
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer warnings
            torch.onnx.export(module, example, buf, dynamo=False, opset_version=OPSET, input_names=names,
                              output_names=["x"], dynamic_axes={n: {0: "N"} for n in [*names, "x"]})
    except Exception as e:  # noqa: BLE001  (a network the tracer cannot follow)
        net = type(getattr(gen.G, "net", gen.G)).__name__
        raise ConfigError(f"the generator ({net}) cannot be traced into ONNX: {type(e).__name__}: "
                          f"{str(e).strip().splitlines()[-1] if str(e).strip() else ''}. Try: no data-dependent Python control flow "
                          f"or non-tensor outputs in forward(), standard torch layers (Keras layers through the torch "
                          f"backend trace only when they do), or torch.onnx.export(..., dynamo=True) on the network in "
                          f"Python") from None
    model = onnx.load_from_string(buf.getvalue())
    meta = {"ganforge_version": __version__, "ganforge_config": json.dumps(gen.config),
            "ganforge_data": json.dumps(gen.data_info), "ganforge_prior": json.dumps(gen.prior.describe()),
            "ganforge_step": str(gen.step), "ganforge_inputs": described,
            "ganforge_output": "x: the generator's output in model space ([-1, 1] for images: uint8 = round((x + 1) "
                               "* 127.5)), layout " + gen.layout.upper()}
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.producer_name = "ganforge"
    atomic_write(out, model.SerializeToString())
    return out
