"""Sampling speed of an exported ONNX generator in onnxruntime beside the same generator in torch (issue 17).

For each preset: a short run (the weights do not change the speed), `export_onnx`, then, interleaved in one
process, torch (`Generator.sample_z` under no_grad, eval mode) and onnxruntime (CPU provider) on the same z for
each batch size, the median of --reps timed calls after 3 warm-up calls each; also the largest difference
between their outputs (the test suite's bound is 1e-4).

    python benchmarks/onnx_speed.py                               # mnist-dcgan, mnist-cgan, mnist-vaegan
    python benchmarks/onnx_speed.py --presets mnist-dcgan --batches 1,256 --reps 50
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import ganforge
from ganforge.export import export_onnx
from ganforge.sample import load_generator


def timed(fn, reps: int) -> float:
    for _ in range(3):
        fn()
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def main() -> None:
    import onnxruntime as ort

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--presets", default="mnist-dcgan,mnist-cgan,mnist-vaegan")
    ap.add_argument("--batches", default="1,64,512")
    ap.add_argument("--reps", type=int, default=20)
    a = ap.parse_args()
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), onnxruntime {ort.__version__}")
    print("| preset | batch | torch ms | onnxruntime ms | torch / onnxruntime | max abs diff |\n|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        for preset in [p for p in a.presets.split(",") if p]:
            run = Path(d) / preset
            ganforge.train(preset, ["train.steps=2", "train.progress=false"], run_dir=run)
            gen = load_generator(run)
            sess = ort.InferenceSession(str(export_onnx(run, Path(d) / f"{preset}.onnx")),
                                        providers=["CPUExecutionProvider"])
            for n in [int(b) for b in a.batches.split(",") if b]:
                z = torch.randn(n, gen.prior.z_dim, generator=torch.Generator().manual_seed(0))
                y = torch.arange(n) % gen.num_classes if gen.num_classes else None
                feeds = {"z": z.numpy(), **({"y": y.numpy()} if y is not None else {})}
                with torch.no_grad():
                    want = gen.sample_z(z, y).numpy()
                got = sess.run(["x"], feeds)[0]
                t_torch = timed(lambda: gen.sample_z(z, y), a.reps)
                t_ort = timed(lambda: sess.run(["x"], feeds), a.reps)
                print(f"| {preset} | {n} | {t_torch * 1e3:.2f} | {t_ort * 1e3:.2f} | {t_torch / t_ort:.2f}x | "
                      f"{float(np.abs(got - want).max()):.1e} |", flush=True)


if __name__ == "__main__":
    main()
