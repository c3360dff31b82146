"""Paired translation against its baseline: for each task, the regression preset (U-Net on L1 alone) and the
pix2pix preset (the same U-Net plus a PatchGAN, adversarial + 100 x L1), each trained from scratch, then
`ganforge evaluate` on the task's 10,000 test pairs: PSNR, SSIM, L1, FID against the targets (MNIST
classifier features) and, for digit tasks, the shipped classifier's accuracy, in rows input / regression /
pix2pix / target. Prints the table and the training time of every preset, and checks the issue's targets.

    python benchmarks/translation.py                                  # all four tasks, the presets as shipped
    python benchmarks/translation.py --tasks mnist-sr4 --steps 1500 --n 2000   # a quicker look
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import ganforge
from ganforge.evaluate import evaluate

TASKS = ("mnist-sr4", "mnist-inpaint", "mnist-denoise", "fashion-edges")
COLUMNS = ("psnr", "ssim", "l1", "fid", "accuracy")


def run_preset(task: str, algorithm: str, steps: int | None, root: Path, seed: int) -> tuple[Path, float]:
    run = root / f"{task}-{algorithm}-s{seed}"
    over = ["train.progress=false", f"train.seed={seed}"] + ([f"train.steps={steps}"] if steps else [])
    t = time.perf_counter()
    ganforge.train(f"{task}-{algorithm}", over, run_dir=run)
    return run, time.perf_counter() - t


def rows_of(results: list[dict], prefix: str) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for r in results:
        key = f"{prefix}{r['metric']}"
        out[r["metric"]] = r.get(key)
    return out


def fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.4g}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--steps", type=int, default=None, help="override every preset's train.steps")
    ap.add_argument("--n", type=int, default=10_000, help="test pairs evaluated (default: all 10,000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--root", default="runs/bench-translation")
    ap.add_argument("--out", default=None, help="also write the results as JSON here")
    a = ap.parse_args()
    root = Path(a.root)
    report = []
    for task in [t for t in a.tasks.split(",") if t]:
        table: dict[str, dict[str, float | None]] = {}
        times = {}
        for algorithm in ("regression", "pix2pix"):
            run, seconds = run_preset(task, algorithm, a.steps, root, a.seed)
            times[algorithm] = seconds
            results = evaluate(str(run), None, n=a.n, progress=False)
            if algorithm == "regression":
                table["input"] = rows_of(results, "input_")
                table["target"] = rows_of(results, "target_")
            table[algorithm] = rows_of(results, "")
            protocol = results[0]["protocol"]
        print(f"\n{task}: {protocol['data']}, {protocol['n']} pairs; training time on this machine: "
              f"regression {times['regression'] / 60:.1f} min, pix2pix {times['pix2pix'] / 60:.1f} min")
        print(f"{'':<11}" + "".join(f"{c:>10}" for c in COLUMNS))
        for row in ("input", "regression", "pix2pix", "target"):
            print(f"{row:<11}" + "".join(f"{fmt(table[row].get(c)):>10}" for c in COLUMNS))
        reg, pix, tgt = table["regression"], table["pix2pix"], table["target"]
        checks = {"fid <= half of regression's": pix["fid"] <= 0.5 * reg["fid"],
                  "psnr >= regression's - 1 dB": pix["psnr"] >= reg["psnr"] - 1.0}
        if pix.get("accuracy") is not None:
            checks["accuracy within 2 points of the targets'"] = pix["accuracy"] >= tgt["accuracy"] - 0.02
        for what, ok in checks.items():
            print(f"  target: pix2pix {what}: {'met' if ok else 'MISSED'}")
        report.append({"task": task, "table": table, "train_seconds": times, "checks": checks,
                       "steps": a.steps, "seed": a.seed, "n": a.n})
    if a.out:
        Path(a.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
