"""Unpaired translation (issue 16): the CycleGAN presets trained from scratch, then `ganforge evaluate` on the
test splits, direction A -> B.

- digits28-mnist-cyclegan, one run per seed: label preservation (the shipped MNIST classifier on G(A) against
  A's labels, beside its reading of A itself), FID of G(A) against MNIST test beside A's own FID (MNIST classifier
  features), cycle PSNR. Targets: accuracy >= 0.95 on every seed, FID below the untranslated set's.
- mnist-colour-cyclegan (seed 0): cycle PSNR >= 20 dB, Inception FID of G(A) against the real colour test set at
  most half of A's own. Inception features run at about 6.5 images/s on 2 CPU cores, so --colour-n images of each
  set are used (default 500; the number is printed and recorded).

Prints every seed's row, the training time of every run and whether each target was met.

    python benchmarks/cyclegan.py                          # 3 seeds + the colour task, presets as shipped
    python benchmarks/cyclegan.py --seeds 0 --steps 1500 --no-colour    # a quicker look
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import ganforge
from ganforge.evaluate import evaluate


def train(preset: str, seed: int, steps: int | None, extra: list[str], root: Path) -> tuple[Path, float]:
    run = root / f"{preset}-s{seed}"
    over = ["train.progress=false", f"train.seed={seed}"] + ([f"train.steps={steps}"] if steps else []) + extra
    t = time.perf_counter()
    ganforge.train(preset, over, run_dir=run)
    return run, time.perf_counter() - t


def flat(results: list[dict]) -> dict[str, float]:
    return {k: v for r in results for k, v in r.items() if isinstance(v, (int, float))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--steps", type=int, default=None, help="override the presets' train.steps")
    ap.add_argument("--set", action="append", default=[], help="extra KEY=VALUE overrides for the digits runs")
    ap.add_argument("--no-colour", action="store_true", help="skip the MNIST <-> colour-digits task")
    ap.add_argument("--colour-n", type=int, default=500)
    ap.add_argument("--root", default="runs/bench-cyclegan")
    ap.add_argument("--out", default=None, help="also write the results as JSON here")
    a = ap.parse_args()
    root = Path(a.root)
    report: dict[str, list] = {"digits28-mnist": [], "mnist-colour": []}
    for seed in [int(s) for s in a.seeds.split(",") if s]:
        run, seconds = train("digits28-mnist-cyclegan", seed, a.steps, a.set, root)
        row = flat(evaluate(str(run), progress=False))
        row.update(seed=seed, train_s=round(seconds, 1))
        report["digits28-mnist"].append(row)
        print(f"digits28 -> mnist seed {seed}: accuracy {row['accuracy']:.4f} (untranslated "
              f"{row['input_accuracy']:.4f}), FID {row['fid']:.2f} (untranslated {row['input_fid']:.2f}), "
              f"cycle PSNR {row['cycle_psnr']:.2f} dB, trained in {seconds / 60:.1f} min", flush=True)
    if not a.no_colour:
        run, seconds = train("mnist-colour-cyclegan", 0, a.steps, [], root)
        row = flat(evaluate(str(run), n=a.colour_n, n_ref=a.colour_n, progress=False))
        row.update(seed=0, train_s=round(seconds, 1), n=a.colour_n)
        report["mnist-colour"].append(row)
        print(f"mnist -> colour seed 0 (n {a.colour_n}): FID {row['fid']:.2f} (untranslated {row['input_fid']:.2f}), "
              f"cycle PSNR {row['cycle_psnr']:.2f} dB, trained in {seconds / 60:.1f} min", flush=True)
    rows = report["digits28-mnist"]
    if rows:
        print("target accuracy >= 0.95 on every seed:", "met" if all(r["accuracy"] >= 0.95 for r in rows) else "MISSED")
        print("target FID below the untranslated set's:", "met" if all(r["fid"] < r["input_fid"] for r in rows)
              else "MISSED")
    for r in report["mnist-colour"]:
        print("target cycle PSNR >= 20 dB:", "met" if r["cycle_psnr"] >= 20 else "MISSED")
        print("target FID <= half the untranslated set's:", "met" if r["fid"] <= r["input_fid"] / 2 else "MISSED")
    if a.out:
        Path(a.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
