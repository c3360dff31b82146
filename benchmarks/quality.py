"""Quality of presets against issue 18's targets: each preset trained from scratch per seed, then measured.

Per run, by data kind:
- toy mixtures (ring8, grid25): metric `modes` on 2,500 samples: modes covered and % high-quality samples (within
  3 standard deviations of a mode); targets ring8 8 / >= 98%, grid25 25 / >= 97% on every seed;
- stacked MNIST: `modes` on 26,000 samples: modes of 1,000 and KL to uniform; target 1000 / <= 0.03;
- Fashion-MNIST: with --n-inception N the Inception FID of N samples vs N test images (target <= 15 at 10,000);
  the digit classifier's readings do not apply to clothes;
- MNIST-like digits: `legible` on 2,000 samples (share read with p >= 0.9 by the shipped classifier, smallest and
  largest class share; default-job targets >= 0.85 and every class in [0.05, 0.15]), FID with the MNIST
  classifier's features (10,000 vs the 10,000 test images; fast), and with --n-inception N the Inception FID of N
  samples vs N test images (the README's protocol at 10,000; Inception runs at about 6.5 images/s on 2 CPU cores).
Prints one line per run (with its wall-clock training time) and a summary per preset.

    python benchmarks/quality.py ring8-hq grid25-hq --seeds 0,1,2,3,4
    python benchmarks/quality.py ring8-hq grid25-hq --seeds 0,1,2,3,4 --jacobian-keep 0.95
    python benchmarks/quality.py mnist-dcgan --n-inception 10000
    python benchmarks/quality.py fashion-cgan-hq --n-inception 10000
    python benchmarks/quality.py mnist-cgan-w64-hq --n-inception 10000 --labels data
    python benchmarks/quality.py mnist-dcgan --set train.steps=1000 --seeds 0 --n-inception 0
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import ganforge
from ganforge.evaluate import evaluate

TOY_TARGETS = {"ring8": (8, 98.0), "grid25": (25, 97.0)}


def measure(run: Path, data: str, n_inception: int, seed: int, keep: float | None = None, labels: str = "balanced"
            ) -> dict:
    """The row of one run; with keep, the samples are drawn with Jacobian-norm rejection (--jacobian-keep); labels:
    the class mix of a conditional run's samples (evaluate --labels; the legibility reading stays balanced)."""
    ev = lambda metrics, **kw: evaluate(str(run), metrics, seed=seed, progress=False, jacobian_keep=keep, **kw)[0]  # noqa: E731
    if data in TOY_TARGETS or data == "stacked-mnist":
        r = ev(["modes"])
        return {k: r[k] for k in ("modes", "hq_pct", "kl") if k in r}
    row = {}
    if not data.startswith("fashion"):
        r = ev(["legible"], n=2000)
        row.update({k: r[k] for k in ("legible", "class_min", "class_max", "reference_legible")})
        row["fid_mnist_features"] = ev(["fid"], n=10_000, features="mnist", labels=labels)["fid"]
    if n_inception:
        row["fid_inception"] = ev(["fid"], n=n_inception, features="inception", labels=labels)["fid"]
        row["n_inception"] = n_inception
    if labels != "balanced":
        row["labels"] = labels
    return row


def verdict(data: str, rows: list[dict]) -> str:
    if data in TOY_TARGETS:
        modes, hq = TOY_TARGETS[data]
        ok = all(r["modes"] == modes and r["hq_pct"] >= hq for r in rows)
        return f"target {modes} modes / >= {hq}% HQ on every seed: {'met' if ok else 'MISSED'}"
    if data == "stacked-mnist":
        ok = all(r["modes"] == 1000 and r["kl"] <= 0.03 for r in rows)
        return f"target 1000 modes / KL <= 0.03: {'met' if ok else 'MISSED'}"
    fid_goal = 15.0 if data.startswith("fashion") else 5.0
    fids = [r["fid_inception"] for r in rows if r.get("n_inception") == 10_000]
    fid = (f"Inception FID target <= {fid_goal:g} (10k vs 10k test): "
           f"{'met' if all(f <= fid_goal for f in fids) else 'MISSED'}") if fids else ""
    if data.startswith("fashion"):
        return fid or "no Inception FID at n = 10,000 measured (--n-inception 10000)"
    ok = all(r["legible"] >= 0.85 and 0.05 <= r["class_min"] and r["class_max"] <= 0.15 for r in rows)
    legible = f"default-job legibility target (>= 0.85, every class 5-15%): {'met' if ok else 'MISSED'}"
    return f"{legible}; {fid}" if fid else legible


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("presets", nargs="+")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--set", action="append", default=[], help="override a config key of every run")
    ap.add_argument("--n-inception", type=int, default=0, help="samples for the Inception FID of images (0: skip)")
    ap.add_argument("--jacobian-keep", type=float, default=None, metavar="KEEP",
                    help="also measure every run sampled with Jacobian-norm rejection keeping this share of draws")
    ap.add_argument("--labels", default="balanced", choices=["balanced", "data"],
                    help="class mix of conditional runs' FID samples (evaluate --labels): balanced, or the training "
                         "split's class shares")
    ap.add_argument("--root", default="runs/bench-quality")
    ap.add_argument("--out", default=None, help="also write the results as JSON here")
    a = ap.parse_args()
    results: dict[str, list[dict]] = {}
    for preset in a.presets:
        data = ganforge.resolve(preset, a.set).data.name
        for seed in [int(s) for s in a.seeds.split(",")]:
            run = Path(a.root) / f"{preset}-s{seed}"
            t = time.perf_counter()
            ganforge.train(preset, ["train.progress=false", f"train.seed={seed}", *a.set], run_dir=run)
            row = {"seed": seed, "train_s": round(time.perf_counter() - t, 1), **measure(run, data, a.n_inception, seed, labels=a.labels)}
            results.setdefault(preset, []).append(row)
            print(preset, json.dumps(row), flush=True)
            if a.jacobian_keep is not None:
                kept = {"seed": seed, "jacobian_keep": a.jacobian_keep,
                        **measure(run, data, a.n_inception, seed, a.jacobian_keep, a.labels)}
                results.setdefault(f"{preset} --jacobian-keep {a.jacobian_keep:g}", []).append(kept)
                print(preset, json.dumps(kept), flush=True)
        for name in [k for k in results if k.split(" ")[0] == preset]:
            print(f"{name}: {verdict(data, results[name])}", flush=True)
    if a.out:
        Path(a.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
