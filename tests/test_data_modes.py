"""Toy datasets (protocol constants) and the mode-coverage metric on constructed samples."""
import math

import numpy as np
import pytest
import torch

from ganforge.data.source import TensorSource, load_source
from ganforge.errors import DataError
from ganforge.metrics.catalog import toy_modes
from ganforge.metrics.modes import mode_coverage
from ganforge.registries import METRICS


def test_ring8_constants():
    src = load_source("ring8")
    c = src.centers.numpy()
    assert c.shape == (8, 2) and src.std == 0.01
    assert np.allclose(np.linalg.norm(c, axis=1), 1.0)
    angles = np.sort(np.mod(np.arctan2(c[:, 1], c[:, 0]), 2 * math.pi))
    assert np.allclose(angles, 2 * math.pi * np.arange(8) / 8)  # 8 distinct modes


def test_grid25_and_gauss1d_constants():
    g = load_source("grid25")
    assert g.std == 0.05 and sorted(set(g.centers[:, 0].tolist())) == [-4, -2, 0, 2, 4] and len(g.centers) == 25
    x = load_source("gauss1d").sample(200_000, torch.Generator().manual_seed(0))
    assert x.shape == (200_000, 1)
    assert x.mean().item() == pytest.approx(4.0, abs=0.01) and x.std().item() == pytest.approx(1.25, abs=0.01)


def test_toy_samples_lie_on_modes():
    src = load_source("grid25")
    r = mode_coverage(src.sample(2500, torch.Generator().manual_seed(1)).numpy(), src.centers.numpy(), src.std)
    assert r["modes"] == 25 and r["hq_pct"] > 99.0 and r["reverse_kl"] < 0.02


def test_mode_coverage_constructed_cases():
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    # 3 samples on mode 0, 1 on mode 1, 1 far away (not HQ); modes 2, 3 missed
    x = np.array([[0, 0], [0.1, 0], [0, -0.1], [10, 0.2], [5, 5]], dtype=float)
    r = mode_coverage(x, centers, std=0.1, threshold=3.0)
    assert r["modes"] == 2 and r["per_mode"] == [3, 1, 0, 0]
    assert r["hq_pct"] == pytest.approx(80.0)
    p = np.array([0.75, 0.25])
    assert r["reverse_kl"] == pytest.approx(float((p * np.log(p * 4)).sum()))
    uniform = mode_coverage(centers, centers, 0.1)
    assert uniform["reverse_kl"] == pytest.approx(0.0) and uniform["modes"] == 4
    none = mode_coverage(np.full((3, 2), 5.0), centers, 0.1)
    assert none["modes"] == 0 and none["hq_pct"] == 0 and math.isinf(none["reverse_kl"])


def test_toy_modes_returns_kl_like_stacked_mnist():
    """Issue 12: the `modes` metric declares (modes, kl), but on toy data it returned only reverse_kl, so
    train.eval_best=kl passed validation and never wrote best.safetensors. Both are KL(mode histogram ||
    uniform); toy data now returns it as `kl` too (reverse_kl, the same number, kept for compatibility)."""
    src = load_source("ring8")
    c = src.centers.numpy()
    uniform = toy_modes(np.repeat(c, 10, axis=0), c, src.std)
    assert set(METRICS.get("modes").values) <= set(uniform)
    assert uniform["kl"] == uniform["reverse_kl"] == pytest.approx(0.0) and uniform["modes"] == 8
    skewed = toy_modes(np.concatenate([np.repeat(c[:1], 30, axis=0), np.repeat(c[1:2], 10, axis=0)]), c, src.std)
    p = np.array([0.75, 0.25])
    assert skewed["kl"] == skewed["reverse_kl"] == pytest.approx(float((p * np.log(p * 8)).sum()))
    assert skewed["modes"] == 2 and skewed["hq_pct"] == 100.0


def test_sampler_resumes_exactly():
    src = TensorSource(torch.randn(50, 3))
    a = src.sampler(8, seed=3)
    for _ in range(9):  # crosses an epoch boundary (6 batches per epoch)
        a.next()
    b = src.sampler(8, seed=3)
    b.load_state_dict(a.state_dict())
    for _ in range(10):
        assert torch.equal(a.next()[0], b.next()[0])
    t = load_source("ring8")
    a, b = t.sampler(4, 0), t.sampler(4, 0)
    a.next()
    b.load_state_dict(a.state_dict())
    assert torch.equal(a.next()[0], b.next()[0])


def test_tensor_source_errors():
    with pytest.raises(DataError, match="NaN"):
        TensorSource(torch.tensor([[1.0], [float("nan")]]))
    with pytest.raises(DataError, match="floating point"):
        TensorSource(torch.arange(4))
    with pytest.raises(DataError, match="differ"):
        TensorSource(torch.randn(4, 2), y=[0, 1])
    with pytest.raises(DataError, match="larger than the dataset"):
        TensorSource(torch.randn(4, 2)).sampler(8, 0)


def test_dataset_moves_to_the_device_only_when_it_fits():
    """The whole dataset goes to an accelerator once when it fits the budget ('meta' stands in for a
    GPU here); batches then come from there, and the position (the checkpointed state) moves as before."""
    x = torch.arange(40, dtype=torch.float32).view(20, 2)
    s = TensorSource(x, torch.arange(20) % 2).sampler(4, seed=0)
    assert not s.keep_on(torch.device("cpu"), 1 << 30)  # nothing to do on the CPU
    assert not s.keep_on(torch.device("meta"), x.numel() * 4)  # data and labels exceed the budget
    assert s.x.device.type == "cpu"
    assert s.keep_on(torch.device("meta"), 1 << 20)
    xb, yb = s.next()
    assert xb.device.type == "meta" and yb.device.type == "meta" and xb.shape == (4, 2)
    assert s.state_dict() == {"epoch": 0, "pos": 4}
