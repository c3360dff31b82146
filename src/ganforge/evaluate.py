"""Evaluate generated samples against real data; every result records exactly how it was measured.

Two entry points:
  evaluate(SOURCE, ...)               sample a trained generator (run dir, checkpoint or export) and
                                      compare it with its dataset's reference split;
  evaluate(real=A, fake=B, ...)       compare two sets: each a dataset name ('mnist:test'), an image
                                      directory, or an NPZ with array x (uint8 N,H,W[,C]).
Reference features are cached on disk (see cache_dir), keyed by a hash of the reference images
themselves, the extractor and its weights' sha256, the resize method and n.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import __version__
from .config import Config
from .data.source import HAS_TEST_SPLIT, Source, canonical_name, load_source, parse_name
from .errors import ConfigError, DataError, GanforgeError
from .files import cache_dir  # noqa: F401  (the reference cache's root; tests and users reach it here)
from .metrics.catalog import HIGHER_IS_BETTER, LEGIBLE_P, Metric, read_with_confidence, toy_modes
from .metrics.features import Extractor, check_images, get_extractor
from .metrics.modes import stacked_modes
from .registries import DATASETS, FEATURES, METRICS

DEFAULT_METRICS = {"images": ("fid", "kid", "pr", "dc"), "points": ("modes",)}  # + is for 1-channel images
CACHE_VERSION = 1


@dataclass
class SampleSet:
    """Samples in data units (uint8 [N, H, W, C] images or float points) with where they came from."""

    name: str
    data: np.ndarray
    kind: str
    source: Source | None = None
    split: str | None = None


def default_n(kind: str, dataset: str = "") -> int:
    """Protocol sample counts: 2,500 toy points, 26,000 stacked MNIST, 10,000 other images."""
    if kind == "points":
        return 2500
    return 26_000 if parse_name(dataset)[0] == "stacked-mnist" else 10_000


def _canonical(spec: str) -> str:
    """'mnist:test' -> 'mnist@test' (the split suffix); a directory -> folder:DIR; *.npz -> npz:FILE."""
    split_named = canonical_name(spec)
    if split_named != spec:
        return split_named
    if Path(spec).is_dir():
        return f"folder:{spec}"
    if spec.endswith(".npz") and Path(spec).is_file():
        return f"npz:{spec}"
    return spec


def load_set(spec: str, n: int | None, data_cfg: Any = None) -> SampleSet:
    """The first n samples of a dataset / directory / NPZ, in a fixed order (seed 12345) so that the
    same spec and n always give the same images (and the same cache entry)."""
    name = _canonical(spec)
    if parse_name(name)[0] not in DATASETS:
        raise DataError(f"'{spec}' is neither a dataset name (`ganforge list datasets`), nor a directory of "
                        f"images, nor an existing .npz file")
    src = load_source(name, data_cfg)
    size = len(src.x) if hasattr(src, "x") else None
    count = n if n is not None else (size or default_n(src.kind, name))
    if size is not None:
        count = min(count, size)
    data = src.reference(count)
    split = name.partition("@")[2] or ("train" if parse_name(name)[0] in HAS_TEST_SPLIT else None)
    return SampleSet(name, data, src.kind, src, split)


# ---- reference feature cache --------------------------------------------------------------------------
def _cache_key(s: SampleSet, ex: Extractor) -> tuple[str, dict[str, Any]]:
    digest = hashlib.sha256(np.ascontiguousarray(s.data).tobytes()).hexdigest()
    what = {"data": s.name, "split": s.split, "n": len(s.data), "shape": list(s.data.shape),
            "data_sha256": digest, **ex.protocol(), "cache_version": CACHE_VERSION}
    key = hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:24]
    return key, what


def _cache_path(s: SampleSet, ex: Extractor) -> tuple[Path, dict[str, Any]]:
    key, what = _cache_key(s, ex)
    return cache_dir() / "reference" / f"{ex.name}-{key}.npz", what


def cached_reference(s: SampleSet, ex: Extractor) -> np.ndarray | None:
    """The cached features of a reference set, or None (absent, unreadable or stale)."""
    path, what = _cache_path(s, ex)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            if json.loads(str(f["meta"])) == what:
                return f["features"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        pass  # unreadable or stale entry: recompute and overwrite
    print(f"ganforge: cached reference features '{path}' are unreadable or stale; recomputing", file=sys.stderr)
    return None


def store_reference(s: SampleSet, ex: Extractor, feats: np.ndarray) -> None:
    """Cache the features of a reference set; a read-only or full cache never fails the evaluation."""
    from .checkpoint import atomic_write
    path, what = _cache_path(s, ex)
    buf = io.BytesIO()
    np.savez(buf, features=feats.astype(np.float32), meta=np.array(json.dumps(what, sort_keys=True)))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, buf.getvalue())
    except (OSError, GanforgeError) as e:
        print(f"ganforge: could not cache reference features at '{path}': {e}", file=sys.stderr)


def reference_features(s: SampleSet, ex: Extractor, progress: bool = True, use_cache: bool = True
                       ) -> tuple[np.ndarray, bool]:
    """Features of a reference set, from the cache when present (returns (features, from_cache))."""
    feats = cached_reference(s, ex) if use_cache else None
    if feats is not None:
        return feats, True
    feats = ex(s.data, what=f"reference {s.name}", progress=progress)
    if use_cache:
        store_reference(s, ex, feats)
    return feats, False


# ---- the evaluation itself ------------------------------------------------------------------------------
def resolve_metrics(names: Any, kind: str, channels: int = 0) -> dict[str, Metric]:
    """Metric objects by name; None gives the defaults for the data kind (and IS for 1-channel images)."""
    if names is None:
        names = list(DEFAULT_METRICS[kind]) + (["is"] if kind == "images" and channels == 1 else [])
    names = [names] if isinstance(names, str) else list(names)
    if not names:
        raise ConfigError("no metric given: choose from " + ", ".join(METRICS.names()))
    return {name: METRICS.get(name) for name in names}


def resolve_extractor(features: str | None, kind: str) -> str:
    name = features or "auto"
    if name == "auto":
        return "identity" if kind == "points" else "inception"
    FEATURES.get(name)
    return name


def _check_compatible(fake: SampleSet, real: SampleSet) -> None:
    if fake.kind != real.kind:
        raise DataError(f"cannot compare {fake.kind} ({fake.name}) with {real.kind} ({real.name})")
    if fake.kind == "images":
        fake.data, real.data = check_images(fake.data, fake.name), check_images(real.data, real.name)
        if fake.data.shape[1:] != real.data.shape[1:]:
            raise DataError(f"generated images are {list(fake.data.shape[1:])} (H, W, C) but the reference "
                            f"'{real.name}' has {list(real.data.shape[1:])}: compare images of one size")


def check_counts(metrics: dict[str, Metric], n_fake: int | None, n_real: int | None, fake_name: str = "generated",
                 real_name: str = "reference") -> None:
    """Each metric's fewest samples (metric.min_n), for the generated and the reference set."""
    for name, m in metrics.items():
        for count, what, key in ((n_fake, f"generated samples ({fake_name})", "--n"),
                                 (n_real, f"reference samples ({real_name})", "--n-ref")):
            if count is not None and count < m.min_n:
                raise DataError(f"metric '{name}' needs at least {m.min_n} {what}, got {count}: raise {key} "
                                f"(or add samples to the set)")


def check_measurable(fake: SampleSet, real: SampleSet, metrics: dict[str, Metric], features: str,
                     has_generator: bool, n_fake: int | None = None) -> None:
    """Every check measure() makes before computing anything (so that training can make them before its
    first step, on a probe of generated samples): the sets are comparable, large enough for each metric
    (n_fake: the count that will be generated, when fake is a probe) and of data each metric and the
    extractor take."""
    _check_compatible(fake, real)
    check_counts(metrics, n_fake if n_fake is not None else len(fake.data), len(real.data), fake.name, real.name)
    for name, m in metrics.items():
        if m.needs == "features":
            if fake.kind == "points" and features != "identity":
                raise ConfigError(f"the '{features}' extractor takes images, and these are points: use identity")
            ex = get_extractor(features)
            ex.check(fake.data, f"generated {fake.name}")
            ex.check(real.data, f"reference {real.name}")
        elif m.needs == "logits":
            _mnist_ready(fake, name, 1)
        elif m.needs == "generator" and not has_generator:
            raise ConfigError(f"metric '{name}' measures a generator's own model: evaluate a run, checkpoint "
                              f"or export, not two sets of samples")
        elif m.needs == "samples":
            if not (fake.kind == "points" and hasattr(real.source, "centers")):
                if not hasattr(real.source, "modes"):
                    raise DataError(f"metric 'modes' needs a toy mixture (gauss1d, ring8, grid25) or stacked-mnist "
                                    f"as the reference, not '{real.name}'")
                _mnist_ready(fake, name, 3)


def measure(fake: SampleSet, real: SampleSet, metrics: dict[str, Metric], features: str, seed: int = 0,
            progress: bool = True, use_cache: bool = True, extra: dict[str, Any] | None = None,
            fake_features: dict[str, np.ndarray] | None = None,
            real_features: dict[str, tuple[np.ndarray, bool]] | None = None, generator: Any = None
            ) -> list[dict[str, Any]]:
    """Compute each metric of fake against real; one result dict per metric, each with its protocol.
    fake_features: features of fake already extracted, by extractor name (e.g. gathered from all ranks);
    real_features: likewise for real, as (features, whether they came from the cache); generator: the
    Generator fake came from (for metrics of the model itself, such as codes)."""
    check_measurable(fake, real, metrics, features, generator is not None)
    for name, m in metrics.items():
        if m.needs == "pairs":
            raise ConfigError(f"metric '{name}' compares translated images with their targets: evaluate a translation "
                              f"run (model.algorithm=pix2pix or regression) with `ganforge evaluate RUN`")
    base = {"generated": fake.name, "n_generated": len(fake.data), "reference": real.name,
            "reference_split": real.split, "n_reference": len(real.data), "seed": seed,
            "ganforge_version": __version__, **(extra or {})}
    cache: dict[str, Any] = {}

    def feats(which: str, ex: Extractor) -> np.ndarray:
        key = f"{which}:{ex.name}"
        if key not in cache:
            if which == "fake" and fake_features and ex.name in fake_features:
                cache[key] = fake_features[ex.name]
            elif which == "fake":
                cache[key] = ex(fake.data, what=f"generated {fake.name}", progress=progress)
            elif real_features and ex.name in real_features:
                cache[key], cache["from_cache"] = real_features[ex.name]
            else:
                cache[key], cache["from_cache"] = reference_features(real, ex, progress, use_cache)
        return cache[key]

    results = []
    for name, m in metrics.items():
        if m.needs == "features":
            ex = get_extractor(features)
            values = m.compute(feats("real", ex), feats("fake", ex), seed)
            proto = {**base, **ex.protocol(), "reference_features_cached": cache.get("from_cache", False)}
        elif m.needs == "logits":
            values, proto = _logit_metric(m, fake, real, progress)
            proto = {**base, **proto}
        elif m.needs == "generator":
            values, proto = m.compute(generator, real, len(fake.data), seed, progress)
            proto = {**base, **proto}
        else:
            values, proto = _sample_metric(fake, real, progress)
            proto = {**base, **proto}
        results.append({"metric": name, **values, "protocol": proto})
    return results


def _mnist_ready(s: SampleSet, metric: str, channels: int) -> None:
    if s.kind != "images" or s.data.shape[-1] != channels:
        raise DataError(f"metric '{metric}' needs MNIST-like images with {channels} channel(s) (it uses ganforge's "
                        f"MNIST classifier), got {s.kind} of shape {list(s.data.shape[1:])} from '{s.name}'")


def _logit_metric(m: Metric, fake: SampleSet, real: SampleSet, progress: bool) -> tuple[dict, dict]:
    _mnist_ready(fake, m.values[0], 1)
    ex = get_extractor("mnist")
    _, logits = ex(fake.data, what=f"generated {fake.name}", logits=True, progress=progress)
    _, real_logits = ex(real.data, what=f"reference {real.name}", logits=True, progress=progress)
    values = m.compute(logits)
    values[f"reference_{m.values[0]}"] = m.compute(real_logits)[m.values[0]]  # the same reading of real data
    return values, ex.protocol()


def _sample_metric(fake: SampleSet, real: SampleSet, progress: bool) -> tuple[dict, dict]:
    src = real.source
    if fake.kind == "points" and hasattr(src, "centers"):
        return toy_modes(fake.data, src.centers.numpy(), src.std), {"extractor": "identity"}
    if hasattr(src, "modes"):  # stacked MNIST: classify each channel
        _mnist_ready(fake, "modes", 3)
        ex = get_extractor("mnist")
        digits, legible = [], []
        for c in range(3):
            _, lg = ex(fake.data[..., c:c + 1], what=f"generated channel {c}", logits=True, progress=progress)
            digits.append(lg.argmax(1))
            legible.append(read_with_confidence(lg))
        return (stacked_modes(np.stack(digits, 1), legible=np.stack(legible, 1)),
                {**ex.protocol(), "per_channel": True, "legible_p": LEGIBLE_P})
    raise DataError(f"metric 'modes' needs a toy mixture (gauss1d, ring8, grid25) or stacked-mnist as the "
                    f"reference, not '{real.name}'")


def evaluate(source: str | os.PathLike | None = None, metrics: Any = None, n: int | None = None, seed: int = 0,
             ref: str = "test", features: str | None = None, real: str | None = None, fake: str | None = None,
             n_ref: int | None = None, progress: bool = True, use_cache: bool = True, G: Any = None,
             truncation: float | None = None, jacobian_keep: float | None = None, labels: str = "balanced"
             ) -> list[dict[str, Any]]:
    """Evaluate a trained generator (SOURCE) against its dataset's `ref` split, or a `fake` set against a
    `real` set. Defaults: fid, kid, pr, dc with Inception features for images (and is for 1-channel
    images); modes for toy points;
    n = 10,000 images (26,000 for stacked MNIST) or 2,500 points; n_ref = n (capped at the set's size).
    truncation psi scales the generator's noise (Generator.draw) and is recorded in every protocol;
    jacobian_keep samples with Jacobian-norm rejection (Generator.draw_smooth; recorded when given); `recon`
    measures an encoder run's reconstructions of the `ref` split instead of samples. labels (conditional generators):
    "balanced" draws every class equally often, "data" in the class shares of the training split, the mix of
    p(x) = sum_y p(y) p(x | y) (see label_mix; recorded when given)."""
    if labels not in LABEL_MIXES:
        raise ConfigError(f"--labels must be one of {', '.join(LABEL_MIXES)}, got '{labels}'")
    if ref not in ("train", "test"):
        raise ConfigError(f"--ref must be train or test, got '{ref}'")
    for key, value in (("--n", n), ("--n-ref", n_ref)):
        if value is not None and value < 2:
            raise ConfigError(f"{key} must be >= 2 samples, got {value}")
    if not 0 <= seed < 2**63:
        raise ConfigError(f"--seed must be in 0..2^63-1, got {seed}")
    if source is not None:
        if real is not None or fake is not None:
            raise ConfigError("give either a generator SOURCE or --real and --fake, not both")
        return _evaluate_generator(source, metrics, n, seed, ref, features, n_ref, progress, use_cache, G, truncation,
                                   jacobian_keep, labels)
    if labels != "balanced":
        raise ConfigError("--labels applies to a conditional generator SOURCE, not to --real / --fake sets")
    if truncation is not None:
        raise ConfigError("--truncation applies to a generator SOURCE, not to --real / --fake sets")
    if jacobian_keep is not None:
        raise ConfigError("--jacobian-keep applies to a generator SOURCE, not to --real / --fake sets")
    if real is None or fake is None:
        raise ConfigError("give a generator SOURCE (run directory, checkpoint or export), or both --real and --fake")
    fake_set = load_set(fake, n)
    ms = resolve_metrics(metrics, fake_set.kind, fake_set.data.shape[-1] if fake_set.data.ndim == 4 else 1)
    ex_name = resolve_extractor(features, fake_set.kind)
    real_set = load_set(real, n_ref if n_ref is not None else (n or len(fake_set.data)))
    return measure(fake_set, real_set, ms, ex_name, seed, progress, use_cache)


def reference_name(data_name: str, ref: str) -> tuple[str, str]:
    """The dataset spec of the reference split: kind@test when the dataset has one, else the data itself."""
    if parse_name(data_name)[0] in HAS_TEST_SPLIT:
        base = data_name.partition("@")[0]
        return f"{base}@{ref}", ref
    return data_name, "all (no test split)" if ref == "test" else "all"


def _evaluate_generator(source: Any, metrics: Any, n: int | None, seed: int, ref: str, features: str | None,
                        n_ref: int | None, progress: bool, use_cache: bool, G: Any, truncation: float | None = None,
                        jacobian_keep: float | None = None, labels: str = "balanced") -> list[dict[str, Any]]:
    from .sample import check_jacobian_keep, check_truncation, load_generator
    check_truncation(truncation)
    check_jacobian_keep(jacobian_keep)
    gen = load_generator(source, G=G)
    if truncation is not None and gen.translates:
        raise ConfigError("--truncation scales a generator's noise; a translation run takes images, not noise: drop it")
    if jacobian_keep is not None and gen.translates:
        raise ConfigError("--jacobian-keep ranks draws of a generator's noise; a translation run takes images, not "
                          "noise: drop it")
    if labels != "balanced" and (gen.translates or gen.num_classes == 0):
        raise ConfigError(f"--labels {labels} sets the class mix of a conditional generator; '{source}' takes no "
                          f"class: drop it")
    if gen.translates and "b2a" in gen.directions:
        return evaluate_cycle(gen, metrics, n, seed, ref, features, n_ref, progress,
                              {"generator": str(source), "generator_step": gen.step, "weights": "G_ema, F_ema"})
    if gen.translates:
        return evaluate_translation(gen, metrics, n, seed, ref, features, progress,
                                    {"generator": str(source), "generator_step": gen.step, "weights": gen.weights})
    kind = gen.data_info["kind"]
    ms = resolve_metrics(metrics, kind, gen.data_info["shape"][0])  # unknown names fail before any sampling
    ex_name = resolve_extractor(features, kind)
    cfg = Config.from_dict(gen.config)
    for name, m in ms.items():  # a metric of one algorithm's models (codes: infogan), before any sampling
        needs = m.params.get("algorithm")
        if needs and needs != cfg.model.algorithm:
            raise ConfigError(f"metric '{name}' measures model.algorithm={needs} models; '{source}' was trained with "
                              f"model.algorithm={cfg.model.algorithm}")
    data_name = cfg.data.name
    ref_spec, split = reference_name(data_name, ref)
    extra = {"generator": str(source), "generator_step": gen.step, "weights": gen.weights,
             "truncation": 1.0 if truncation is None else truncation}
    if jacobian_keep is not None:
        extra["jacobian_keep"] = jacobian_keep
        extra["jacobian_rejection"] = ("Tanielian et al. 2020: of ceil(n / jacobian_keep) draws, the n with the smallest "
                                       "||dG/dz||_F (central differences; within each class for conditional G)")
    if labels != "balanced":
        extra["labels"] = f"{labels}: {LABEL_MIXES[labels]}"
    recon = [r for name in list(ms) if name == "recon" for r in [ms.pop(name)]]
    if recon and (truncation is not None or jacobian_keep is not None):
        raise ConfigError("--truncation and --jacobian-keep do not apply to metric 'recon' (reconstructions decode "
                          "encoded images)")
    results = evaluate_reconstruction(gen, n, ref_spec, split, cfg, {**extra, "weights": "E_ema, G_ema"}) if recon else []
    if not ms:
        return results
    n = n or default_n(kind, data_name)
    check_counts(ms, n, n_ref)
    gen.check_n(n)
    return results + evaluate_samples(gen, ms, ex_name, n, seed, ref_spec, split, cfg, n_ref, progress, use_cache,
                                      extra, truncation=truncation, jacobian_keep=jacobian_keep, labels=labels)


def evaluate_reconstruction(gen: Any, n: int | None, ref_spec: str, split: str, cfg: Config,
                            extra: dict[str, Any]) -> list[dict[str, Any]]:
    """Metric `recon` of an encoder run: the first n images of the reference split (default: all) encoded to
    their posterior means and decoded, G(mu(x)), against themselves."""
    if not gen.has_encoder:
        from .nets.build import ENCODING
        raise ConfigError(f"metric 'recon' measures reconstructions: it needs a run of model.algorithm="
                          f"{' or '.join(ENCODING)} (this one has no encoder)")
    src = load_source(ref_spec, cfg.data)
    x, labels = _nhwc(src, min(n or len(src.x), len(src.x)))
    digits = parse_name(ref_spec)[0] in DIGIT_SETS  # the MNIST classifier reads these; Fashion's labels are not digits
    values = METRICS.get("recon").compute(gen.reconstruct(x), x, labels if digits else None)
    return [{"metric": "recon", **values,
             "protocol": {"reference": ref_spec, "split": split, "n": len(x), "images": "the first n of the split, in "
                          "order", "what": "G_ema(mu(x)) with mu from E_ema; MSE in [0, 1] units; PSNR data range 255",
                          **({"classifier": "ganforge's MNIST classifier (recon_accuracy: its reading of G(mu(x)) "
                                            "against x's label)"} if digits else {}),
                          "ganforge_version": __version__, **extra}}]


DIGIT_SETS = ("mnist", "digits28")  # 28x28 grey digits: the shipped MNIST classifier's domain


def evaluate_samples(gen: Any, ms: dict[str, Metric], ex_name: str, n: int, seed: int, ref_spec: str, split: str,
                     cfg: Config, n_ref: int | None = None, progress: bool = True, use_cache: bool = True,
                     extra: dict[str, Any] | None = None, real_set: SampleSet | None = None,
                     truncation: float | None = None, jacobian_keep: float | None = None, labels: str = "balanced"
                     ) -> list[dict[str, Any]]:
    """Sample n from a Generator (classes in the mix `labels` for conditional ones, see label_mix) and measure
    against ref_spec (or against real_set when given)."""
    fake_set = generated_set(gen, n, seed, truncation, jacobian_keep, label_mix(gen, n, labels, cfg))
    real_set = real_set or reference_set(ref_spec, split, fake_set.kind, n_ref or n, cfg)
    return measure(fake_set, real_set, ms, ex_name, seed, progress, use_cache, extra, generator=gen)


LABEL_MIXES = {
    "balanced": "every class n / num_classes times (the remainder to the first classes)",
    "data": "each class in its share of the training split's labels, rounded to whole samples by largest remainder",
}


def label_mix(gen: Any, n: int, mix: str, cfg: Config) -> Any:
    """The n class labels of an evaluation, in blocks (0,0,..,1,1,..): None for an unconditional generator;
    "balanced" as Generator.labels; "data" in the training split's class shares (a conditional G models
    p(x | y), so the data's own p(y) makes its samples a model of p(x))."""
    if gen.num_classes == 0 or mix == "balanced":
        return gen.labels(n)
    src = load_source(cfg.data.name.partition("@")[0], cfg.data)
    if getattr(src, "y", None) is None:
        raise DataError(f"--labels {mix} needs the class labels of '{cfg.data.name}', which has none: use --labels "
                        f"balanced")
    counts = np.bincount(np.asarray(src.y).astype(np.int64).reshape(-1), minlength=gen.num_classes)[:gen.num_classes]
    exact = counts / counts.sum() * n
    k = np.floor(exact).astype(np.int64)
    k[np.argsort(-(exact - k), kind="stable")[:n - int(k.sum())]] += 1
    return np.repeat(np.arange(gen.num_classes), k)


def generated_set(gen: Any, n: int, seed: int, truncation: float | None = None, jacobian_keep: float | None = None,
                  y: Any = None) -> SampleSet:
    """n samples of a Generator (classes balanced for conditional ones unless labels y are given), decoded to uint8
    images or points."""
    if n < 2:
        raise ConfigError(f"need at least 2 generated samples, got n={n}")
    x = gen.sample(n, seed=seed, y=gen.labels(n, y), truncation=truncation, jacobian_keep=jacobian_keep)
    return SampleSet(f"generator step {gen.step}", gen.decode(x),
                     gen.data_info["kind"])


def reference_set(ref_spec: str, split: str, kind: str, n: int, cfg: Config) -> SampleSet:
    """n reference samples: fresh draws from a toy mixture, else the first n of the dataset's split."""
    if kind == "points":
        src = load_source(ref_spec, cfg.data)
        return SampleSet(ref_spec, src.reference(n), "points", src, "samples of the mixture")
    real_set = load_set(ref_spec, n, cfg.data)
    real_set.split = split
    return real_set


# ---- translation runs ------------------------------------------------------------------------------------------
DIGIT_TASKS = ("mnist-sr4", "mnist-inpaint", "mnist-denoise")


def translation_metrics(names: Any, task: str, shape: tuple[int, ...]) -> dict[str, Metric]:
    """Metric objects for a translation run; None: psnr, ssim, l1, fid, and accuracy for the digit tasks."""
    if names is None:
        names = ["psnr", "ssim", "l1", "fid"] + (["accuracy"] if task in DIGIT_TASKS else [])
    ms = resolve_metrics(names, "images")
    for name, m in ms.items():
        if m.params.get("cycle"):
            raise ConfigError(f"metric '{name}' measures CycleGAN runs (a reconstruction through F); this run translates "
                              f"one way")
        if m.needs not in ("pairs", "features"):
            raise ConfigError(f"metric '{name}' measures generators of noise; for translation runs use psnr, ssim, "
                              f"l1, fid, kid, pr, dc or accuracy")
        if m.params.get("labels") and tuple(shape) != (1, 28, 28):
            raise ConfigError(f"metric '{name}' uses the MNIST classifier: it needs 28x28 grey images, not {list(shape)}")
    return ms


def measure_pairs(inputs: np.ndarray, outputs: np.ndarray, targets: np.ndarray, labels: np.ndarray | None,
                  metrics: dict[str, Metric], features: str, base: dict[str, Any] | None = None,
                  progress: bool = True) -> list[dict[str, Any]]:
    """Each metric of the outputs against the targets, beside the same for the untranslated inputs (input_*)
    and, for the pairwise metrics, the targets themselves (target_*: the ceiling; FID of the targets against
    themselves is 0 by definition and not reported). uint8 [N, H, W, C] each, in one order."""
    from .metrics.paired import SETTINGS

    if not (len(inputs) == len(outputs) == len(targets)) or len(targets) < 2:
        raise DataError(f"paired evaluation needs as many inputs, outputs and targets (>= 2), got {len(inputs)}, "
                        f"{len(outputs)}, {len(targets)}")
    base = {"n": len(targets), "ganforge_version": __version__, **(base or {})}
    sets = {"": outputs, "input_": inputs, "target_": targets}
    feats: dict[str, np.ndarray] = {}
    results = []
    for name, m in metrics.items():
        if m.needs == "pairs":
            if m.params.get("labels") and labels is None:
                raise DataError(f"metric '{name}' needs the true labels of the images; this data has none")
            values = {f"{prefix}{k}": v for prefix, imgs in sets.items()
                      for k, v in m.compute(imgs, targets, labels).items()}
            proto = {**base, **SETTINGS.get(name, {})}
        else:  # features: the outputs and the inputs against the targets
            check_counts({name: m}, len(outputs), len(targets))
            ex = get_extractor(features)
            for key, imgs in (("target", targets), ("output", outputs), ("input", inputs)):
                if key not in feats:
                    ex.check(imgs, key)
                    feats[key] = ex(imgs, what=f"{key}s", progress=progress)
            values = {**m.compute(feats["target"], feats["output"], 0)}
            values.update({f"input_{k}": v for k, v in m.compute(feats["target"], feats["input"], 0).items()
                           if k in m.values})
            proto = {**base, **ex.protocol(), "reference": "the targets"}
        results.append({"metric": name, **values, "protocol": proto})
    return results


def evaluate_translation(gen: Any, metrics: Any, n: int | None, seed: int, ref: str, features: str | None,
                         progress: bool = True, extra: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """A translation run on the `ref` split of its paired data: the first n pairs (default: all) translated by
    G_ema (eval mode: dropout off), measured against their targets (measure_pairs)."""
    cfg = Config.from_dict(gen.config)
    task = gen.data_info.get("task", "pairs")
    ms = translation_metrics(metrics, task, tuple(gen.data_info["shape"]))
    ref_spec, split = reference_name(cfg.data.name, ref)
    src = load_source(ref_spec, cfg.data)
    count = min(n or len(src.x), len(src.x))
    inputs, targets = src.input_images(count), src.target_images(count)
    labels = src.y[:count].numpy() if src.y is not None else None
    outputs = gen.translate(inputs)
    shape = tuple(gen.data_info["shape"])
    ex_name = features if features not in (None, "auto") else ("mnist" if shape == (1, 28, 28) else "inception")
    base = {"task": task, "data": ref_spec, "split": split, "pairs": f"the first {count} of the split, in order",
            "dropout": "off (G in eval mode)", "seed": seed, **(extra or {})}
    return measure_pairs(inputs, outputs, targets, labels, ms, ex_name, base, progress)


def _nhwc(src: Source, n: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The first n images of an image source in order, uint8 [N, H, W, C], and their labels (or None)."""
    return src.x[:n].permute(0, 2, 3, 1).numpy(), (src.y[:n].numpy() if src.y is not None else None)


def evaluate_cycle(gen: Any, metrics: Any, n: int | None, seed: int, ref: str, features: str | None,
                   n_ref: int | None = None, progress: bool = True, extra: dict[str, Any] | None = None
                   ) -> list[dict[str, Any]]:
    """A CycleGAN run, direction A -> B, on the `ref` splits of both domains: the first n images of A (default:
    all) translated by G_ema; label preservation (`accuracy`: the MNIST classifier on G(A) against A's labels,
    beside its accuracy on A itself), FID of G(A) against the first n_ref images of B (beside A's own, grey
    repeated to RGB when B is colour) and the cycle reconstruction F(G(A)) against A (`cycle`: PSNR and L1)."""
    cfg = Config.from_dict(gen.config)
    b_shape = tuple(gen.data_info["shape"])
    if metrics is None:
        metrics = ["fid", "cycle"] + (["accuracy"] if b_shape == (1, 28, 28) else [])
    ms = resolve_metrics(metrics, "images")
    a_spec, split = reference_name(cfg.data.name, ref)
    b_spec, _ = reference_name(cfg.data.name_b, ref)
    A, B = load_source(a_spec, cfg.data), load_source(b_spec, cfg.data)
    a, labels = _nhwc(A, min(n or len(A.x), len(A.x)))
    b, _ = _nhwc(B, min(n_ref or len(B.x), len(B.x)))
    out = gen.translate(a, direction="a2b")
    back = gen.translate(out, direction="b2a")
    ex_name = features if features not in (None, "auto") else ("mnist" if b_shape == (1, 28, 28) else "inception")
    base = {"direction": "a2b", "domain_a": a_spec, "domain_b": b_spec, "split": split, "n": len(a), "n_b": len(b),
            "images": "the first n of each split, in order", "seed": seed, "ganforge_version": __version__,
            **(extra or {})}
    as_b = a if a.shape[-1] == b.shape[-1] else np.repeat(a, b.shape[-1], -1)  # A shown as B's channels
    results = []
    feats: dict[str, np.ndarray] = {}
    for name, m in ms.items():
        if name == "accuracy":
            from .metrics.paired import classifier_accuracy
            if labels is None or b_shape != (1, 28, 28) or a.shape[1:] != (28, 28, 1):
                raise ConfigError("metric 'accuracy' (label preservation) needs labelled 28x28 grey digits in A and B")
            values = {"accuracy": classifier_accuracy(out, labels), "input_accuracy": classifier_accuracy(a, labels)}
            proto = {**base, "labels": f"domain A's ({a_spec})", "classifier": "ganforge's MNIST classifier"}
        elif name == "cycle":
            values = m.compute(back, a, None)
            proto = {**base, "what": "F(G(a)) against a; PSNR data range 255, capped at 100 dB"}
        elif m.needs == "features":
            check_counts({name: m}, len(out), len(b))
            ex = get_extractor(ex_name)
            for key, imgs in (("b", b), ("out", out), ("a", as_b)):
                if key not in feats:
                    feats[key] = ex(imgs, what=key, progress=progress)
            values = {**m.compute(feats["b"], feats["out"], seed)}
            values.update({f"input_{k}": v for k, v in m.compute(feats["b"], feats["a"], seed).items() if k in m.values})
            proto = {**base, **ex.protocol(), "reference": f"domain B ({b_spec})"}
        else:
            raise ConfigError(f"metric '{name}' does not apply to CycleGAN runs; use fid, kid, pr, dc, cycle or accuracy")
        results.append({"metric": name, **values, "protocol": proto})
    return results


def better(name: str) -> Callable[[float, float], bool]:
    """better(name)(a, b): is value a better than b for this value name."""
    if name not in HIGHER_IS_BETTER:
        raise ConfigError(f"cannot rank by '{name}': choose one of {', '.join(sorted(HIGHER_IS_BETTER))}")
    return (lambda a, b: a > b) if HIGHER_IS_BETTER[name] else (lambda a, b: a < b)
