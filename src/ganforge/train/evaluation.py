"""Evaluation during training (train.eval_every): G_ema of a training state against its reference set,
with the features shared over the torchrun ranks. Built on the evaluation pipeline of ganforge.evaluate."""
from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

import numpy as np

from ..data.source import parse_name
from ..errors import ConfigError, GanforgeError
from ..evaluate import (SampleSet, cached_reference, check_measurable, evaluate_samples, generated_set, measure,
                        reference_name, reference_set, resolve_metrics, store_reference)
from ..metrics.features import Extractor, get_extractor
from ..registries import DATASETS
from .dist import broadcast_module


def shard_features(ex: Extractor, data: np.ndarray, d: Any, what: str) -> np.ndarray:
    """Features of data with its rows split over the torchrun ranks, gathered in row order on every rank."""
    import torch.distributed as td

    rows = np.array_split(np.arange(len(data)), d.world)[d.rank]
    parts: list[Any] = [None] * d.world
    td.all_gather_object(parts, ex(data[rows], what=f"{what}, rank {d.rank}", progress=False))
    return np.concatenate(parts)


def training_extractor(name: str, kind: str, shape: tuple[int, ...]) -> str:
    """train.eval_features resolved: auto = identity for points, mnist for 1-channel images, else inception."""
    if name != "auto":
        return name
    if kind == "points":
        return "identity"
    return "mnist" if shape[0] == 1 else "inception"


def eval_reference(st: Any) -> SampleSet:
    """The reference set of a run's evaluations (train.eval_n samples), loaded once per run."""
    if st.eval_reference is None:
        t, src = st.cfg.train, st.source
        if parse_name(st.cfg.data.name)[0] in DATASETS:
            ref_spec, split = reference_name(st.cfg.data.name, "test")
            st.eval_reference = reference_set(ref_spec, split, src.kind, t.eval_n, st.cfg)
        else:  # data handed to ganforge.fit() in memory: the reference is the training data itself
            st.eval_reference = SampleSet(src.name, src.reference(t.eval_n), src.kind, src, "train")
        if not st.dist.main:  # ranks > 0 only extract features: keep the samples, not the whole source
            st.eval_reference = replace(st.eval_reference, source=None)
    return st.eval_reference


def shared_reference_features(real: SampleSet, ex: Extractor, d: Any) -> tuple[np.ndarray | None, bool]:
    """Under torchrun: the reference features from rank 0's cache, else extracted by every rank for its
    share of the rows, gathered on every rank and cached by rank 0. Every rank calls this; on a cache hit
    only rank 0's return holds features (the others get None)."""
    import torch.distributed as td

    feats = None
    if d.main:
        try:  # the cache never fails an evaluation, and rank 0 must reach the broadcast below
            feats = cached_reference(real, ex)
        except Exception as e:  # noqa: BLE001
            print(f"ganforge: could not read the reference-feature cache ({e}); extracting", file=sys.stderr)
    hit = [feats is not None]
    td.broadcast_object_list(hit, src=0)  # the same branch on every rank
    if hit[0]:
        return feats, True
    feats = shard_features(ex, real.data, d, f"reference {real.name}")
    if d.main:
        store_reference(real, ex, feats)
    return feats, False


def check_evaluation(st: Any) -> None:
    """train.eval_* checked before the first step: the metrics and the extractor against the data, on a
    probe of G_ema's samples and the reference set (loaded now, once), so that a run never stops at
    its first evaluation over a setting that could not work."""
    t, src = st.cfg.train, st.source
    ms = resolve_metrics([x.strip() for x in t.eval_metrics.split(",") if x.strip()], src.kind)
    ex = training_extractor(t.eval_features, src.kind, tuple(src.shape))
    try:
        gen = st.generator()
        gen.check_n(t.eval_n)  # and the reference set of as many, which is no larger
        probe = generated_set(gen, 2, 0)
        check_measurable(probe, eval_reference(st), ms, ex, True, n_fake=t.eval_n)
    except GanforgeError as e:
        raise ConfigError(f"train.eval_metrics={t.eval_metrics} with train.eval_features={t.eval_features} "
                          f"(extractor {ex}) and train.eval_n={t.eval_n} cannot evaluate this run: {e}") from None


def evaluate_state(st: Any) -> list[dict[str, Any]]:
    """The evaluation of a training state (train.eval_*), on its G_ema, without progress bars. Under
    torchrun every rank calls this and extracts its share of the features; rank 0 computes the metrics."""
    t, src, d = st.cfg.train, st.source, st.dist
    ms = resolve_metrics([x.strip() for x in t.eval_metrics.split(",") if x.strip()], src.kind)
    ex = training_extractor(t.eval_features, src.kind, tuple(src.shape))
    if d.enabled and any(m.needs == "features" for m in ms.values()):
        real = eval_reference(st)  # on every rank: each extracts its share of the reference too
        broadcast_module(st.G_ema, d)  # BN statistics are per shard; rank 0's are the ones checkpointed
        fake = generated_set(st.generator(), t.eval_n, 0)
        extractor = get_extractor(ex)
        fake_features = {ex: shard_features(extractor, fake.data, d, fake.name)}
        real_features = {ex: shared_reference_features(real, extractor, d)}
        if not d.main:  # the rest is rank 0's
            return []
        return measure(fake, real, ms, ex, 0, False, fake_features=fake_features, real_features=real_features,
                       generator=st.generator())
    if not d.main:
        return []
    real = eval_reference(st)
    return evaluate_samples(st.generator(), ms, ex, t.eval_n, 0, real.name, real.split or "", st.cfg,
                            progress=False, real_set=real)
