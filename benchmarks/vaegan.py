"""VAE-GAN against its VAE baseline (issue 17): each preset trained from scratch, then measured on the test split.

For every dataset (mnist, fashion): `DATA-vae` and `DATA-vaegan`, trained with the same budget, then
- sample FID with Inception features (n generated vs the first n test images; the README's protocol at n=10,000;
  on 2 CPU cores Inception runs at about 6.5 images/s, so --n-inception sets n: the number is printed),
- sample FID with the shipped MNIST classifier's features (fast; 10,000 vs 10,000 by default),
- reconstructions of the 10,000 test images (metric `recon`): pixel MSE ([0, 1] units), PSNR and, for MNIST, the
  shipped classifier's reading of them against the inputs' labels.
Prints a row per preset with its training time and checks the targets (MNIST: vaegan Inception FID <= 16.6 and
>= 30% below vae's, recon accuracy >= 0.97, vaegan MSE <= 1.5x vae's; Fashion: vaegan FID <= 43.6).

    python benchmarks/vaegan.py --n-inception 1000             # both datasets, presets as shipped
    python benchmarks/vaegan.py --data mnist --steps 1500 --n-inception 0     # a quicker look, no Inception
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import ganforge
from ganforge.evaluate import evaluate

PUBLISHED = {"mnist": 16.6, "fashion": 43.6}  # a plain VAE's FID (Dai and Wipf 2019, arXiv 1903.05789, Table 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="mnist,fashion")
    ap.add_argument("--steps", type=int, default=None, help="override the presets' train.steps")
    ap.add_argument("--n-inception", type=int, default=10_000, help="samples for the Inception FID (0: skip it)")
    ap.add_argument("--n", type=int, default=10_000, help="samples / test images for the other measures")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--root", default="runs/bench-vaegan")
    ap.add_argument("--out", default=None, help="also write the results as JSON here")
    a = ap.parse_args()
    rows: dict[str, dict] = {}
    for data in [d for d in a.data.split(",") if d]:
        for algorithm in ("vae", "vaegan"):
            preset = f"{data}-{algorithm}"
            run = Path(a.root) / f"{preset}-s{a.seed}"
            over = ["train.progress=false", f"train.seed={a.seed}"] + ([f"train.steps={a.steps}"] if a.steps else [])
            t = time.perf_counter()
            ganforge.train(preset, over, run_dir=run)
            row = {"train_s": round(time.perf_counter() - t, 1)}
            for r in evaluate(str(run), ["recon"], n=a.n, progress=False):
                row.update({k: v for k, v in r.items() if k.startswith("recon_")})
            row["fid_mnist_features"] = evaluate(str(run), ["fid"], n=a.n, features="mnist", seed=a.seed,
                                                 progress=False)[0]["fid"]
            if a.n_inception:
                row["fid_inception"] = evaluate(str(run), ["fid"], n=a.n_inception, features="inception",
                                                seed=a.seed, progress=False)[0]["fid"]
                row["n_inception"] = a.n_inception
            rows[preset] = row
            print(preset, json.dumps(row), flush=True)
    print("\n| preset | train time | Inception FID (n) | FID, MNIST-classifier features | recon MSE | recon PSNR | "
          "recon accuracy |\n|---|---|---|---|---|---|---|")
    for preset, r in rows.items():
        inc = f"{r['fid_inception']:.2f} ({r['n_inception']})" if "fid_inception" in r else "-"
        acc = f"{r['recon_accuracy']:.4f}" if "recon_accuracy" in r else "-"
        print(f"| {preset} | {r['train_s'] / 60:.1f} min | {inc} | {r['fid_mnist_features']:.2f} | "
              f"{r['recon_mse']:.5f} | {r['recon_psnr']:.2f} | {acc} |")
    for data, bound in PUBLISHED.items():
        vae, vg = rows.get(f"{data}-vae"), rows.get(f"{data}-vaegan")
        if not (vae and vg):
            continue
        if "fid_inception" in vg:
            print(f"{data}: vaegan Inception FID {vg['fid_inception']:.2f} <= {bound}:",
                  "met" if vg["fid_inception"] <= bound else "MISSED", f"(n {vg['n_inception']})")
            print(f"{data}: vaegan FID >= 30% below vae's ({vae['fid_inception']:.2f}):",
                  "met" if vg["fid_inception"] <= 0.7 * vae["fid_inception"] else "MISSED")
        ratio = vg["recon_mse"] / vae["recon_mse"]
        print(f"{data}: vaegan recon MSE {ratio:.2f}x vae's (target <= 1.5x):", "met" if ratio <= 1.5 else "MISSED")
        if "recon_accuracy" in vg:
            print(f"{data}: vaegan recon accuracy {vg['recon_accuracy']:.4f} >= 0.97:",
                  "met" if vg["recon_accuracy"] >= 0.97 else "MISSED")
    if a.out:
        Path(a.out).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
