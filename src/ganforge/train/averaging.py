"""Checkpoint averaging: a generator export whose G is the mean of G_ema over a run's newest checkpoints.

G_ema already averages G's recent weights, but its warm-up (decay min(train.ema, (1 + s) / (10 + s))) caps its
memory at a few thousand steps. Averaging the EMA copies saved every train.ckpt_every steps reaches back
further over the late, decayed part of the schedule, as stochastic weight averaging does (Izmailov et al. 2018).
Used by train.average_ckpts (each export written in training) and by `ganforge average RUN` (afterwards).
"""
from __future__ import annotations

from typing import Any

import torch

from ..errors import CheckpointError
from ..nets.adapt import STATE_PREFIX  # a checkpoint's G_ema of your own networks carries it; the export does not


def mean_state(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The mean of state dicts with the same keys: floating tensors averaged in float32 (then cast back),
    the rest (batch-norm step counters) taken from the last, the newest."""
    newest = states[-1]
    for i, s in enumerate(states[:-1]):
        if s.keys() != newest.keys():
            raise CheckpointError(f"checkpoint {i} of those averaged holds other weights than the newest "
                                  f"(different networks): only checkpoints of one run can be averaged")
    out = {}
    for name, t in newest.items():
        if t.is_floating_point():
            out[name] = torch.stack([s[name].float() for s in states]).mean(0).to(t.dtype)
        else:
            out[name] = t
    return out


def average_export(export: dict[str, Any], trees: list[dict[str, Any]]) -> dict[str, Any]:
    """export (a generator export tree) with G replaced by the mean of G_ema over trees (training states, as
    checkpoints hold them, oldest first), and the steps averaged recorded under 'averaged_steps'. Fewer than two
    states: export unchanged."""
    if len(trees) < 2:
        return export
    if export.get("nets"):
        raise CheckpointError(f"this run's export carries {', '.join(export['nets'])} beside G (model.algorithm="
                              f"{export.get('algorithm')}); averaging G alone would pair it with the newest of those, "
                              f"so only exports of G alone are averaged")
    mean = mean_state([t["G_ema"] for t in trees])
    prefix = STATE_PREFIX if export.get("custom") else ""
    missing = [k for k in export["G"] if prefix + k not in mean]
    if missing:
        raise CheckpointError(f"the checkpoints averaged do not hold the exported generator's weights "
                              f"(first missing: {missing[0]!r}): they are not this run's")
    return {**export, "G": {k: mean[prefix + k] for k in export["G"]}, "step": int(trees[-1]["step"]),
            "averaged_steps": [int(t["step"]) for t in trees]}
