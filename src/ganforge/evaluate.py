"""Evaluate a trained generator; every result records how it was measured."""
from __future__ import annotations

import os
from typing import Any

from . import __version__
from .config import Config
from .data.source import load_source
from .registries import METRICS
from .sample import load_generator


def evaluate(source: str | os.PathLike, metrics: list[str] | tuple[str, ...] = ("modes",), n: int = 2500,
             seed: int = 0) -> list[dict[str, Any]]:
    """Sample n points from SOURCE's generator (run dir, checkpoint or export) and compute each metric."""
    fns = {name: METRICS.get(name) for name in metrics}  # unknown names fail before sampling
    gen = load_generator(source)
    data = load_source(gen.data_info["name"], Config.from_dict(gen.config).data)
    fake = gen.decode(gen.sample(n, seed=seed))
    results = []
    for name, fn in fns.items():
        value = fn(fake, data)
        results.append({"metric": name, **value,
                        "protocol": {"n_generated": n, "seed": seed, "dataset": gen.data_info["name"],
                                     "generator_step": gen.step, "weights": "G_ema",
                                     "ganforge_version": __version__}})
    return results
