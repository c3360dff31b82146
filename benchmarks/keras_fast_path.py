"""Side by side in one process: the Keras tutorial pair with and without KerasNet's layer-by-layer path, and torch.

    python benchmarks/keras_fast_path.py
"""
import os, sys, time
os.environ["KERAS_BACKEND"] = "torch"
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks")); sys.path.insert(0, str(ROOT / "examples"))
import numpy as np, torch
import keras_models as km
from ganforge.config import Config
from ganforge.data.source import TensorSource
from ganforge.train.loop import train_step
from ganforge.train.state import build_state
x = np.random.default_rng(0).uniform(-1, 1, (4096, 28, 28, 1)).astype(np.float32)
def state(kind):
    torch.manual_seed(0)
    G, D = km.keras_pair(0) if kind.startswith("keras") else km.torch_pair()
    cfg = Config.from_dict({"name": "custom", "data": {"name": "tensor", "batch_size": 64},
                            "model": {"arch": "custom", "z_dim": 100, "num_classes": 0}, "train": {"steps": 10**9, "progress": False}})
    st = build_state(cfg, TensorSource(x, None, kind="auto"), G, D)
    if kind == "keras-whole":
        for role in ("G", "D"):
            st.nets[role].net.steps = None
        for net in st.ema.values():
            net.net.steps = None
    return st
sts = {k: state(k) for k in ("torch", "keras", "keras-whole")}
for st in sts.values():
    for _ in range(40): train_step(st)
rates = {k: [] for k in sts}
for _ in range(7):
    for k, st in sts.items():
        t = time.perf_counter()
        for _ in range(40): train_step(st)
        rates[k].append(40 / (time.perf_counter() - t))
for k in ("keras", "keras-whole"):
    r = [a / b for a, b in zip(rates[k], rates["torch"])]
    print(k, f"{np.median(rates[k]):.1f} steps/s, / torch {np.median(r):.2f}x (range {min(r):.2f}-{max(r):.2f})")
print("torch", f"{np.median(rates['torch']):.1f} steps/s")
