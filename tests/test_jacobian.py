"""Jacobian-norm rejection (Generator.draw_smooth, `--jacobian-keep`; Tanielian et al. 2020): the norms it ranks
by, the draws it keeps, what it refuses, and that on a trained toy GAN it removes the samples between modes."""
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import jacrev, vmap

import ganforge
from ganforge.errors import ConfigError
from ganforge.evaluate import evaluate
from ganforge.sample import JACOBIAN_PROBES, Generator, load_generator


class Net(nn.Module):
    """A small MLP generator G(z, y) (y shifts the output when given), float64-exact enough for the checks."""

    def __init__(self, z_dim: int, out: int, classes: int = 0) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Linear(z_dim, 32), nn.Tanh(), nn.Linear(32, out))
        self.emb = nn.Embedding(classes, out) if classes else None

    def forward(self, z, y=None):
        x = self.body(z)
        return x if y is None else x + self.emb(y)


def points_gen(z_dim=6, classes=0):
    return Generator(Net(z_dim, 2, classes), z_dim, classes, {"kind": "points", "shape": [2], "name": "ring8"})


def exact_norms(G, z):
    return vmap(jacrev(lambda v: G(v[None])[0].reshape(-1)))(z).pow(2).sum((1, 2)).sqrt()


def test_norms_of_a_points_generator_match_the_exact_jacobian():
    gen = points_gen()
    z = torch.randn(300, 6, generator=torch.Generator().manual_seed(1))
    got = gen.jacobian_norms(z, batch_size=64)  # small batches: several chunks
    assert got.shape == (300,)
    torch.testing.assert_close(got, exact_norms(gen.G, z).detach(), rtol=2e-3, atol=1e-4)


def test_norms_of_an_image_generator_estimate_the_jacobian_and_rank_like_it():
    """Images (> 16 outputs): JACOBIAN_PROBES random directions. The estimate is unbiased, so its mean over
    many draws is close to the exact mean, and it ranks draws nearly as the exact norm does."""
    z_dim = 10
    G = Net(z_dim, 49)
    gen = Generator(G, z_dim, 0, {"kind": "images", "shape": [1, 7, 7], "name": "mnist"})
    # a spread of norms to rank: scale the draws (tanh saturates at large |z|, so large z stretch less)
    z = torch.randn(400, z_dim, generator=torch.Generator().manual_seed(2)) * torch.linspace(0.1, 4, 400)[:, None]
    est, exact = gen.jacobian_norms(z), exact_norms(G, z).detach()
    assert JACOBIAN_PROBES < z_dim  # an estimate, not the basis
    assert abs(est.pow(2).mean() / exact.pow(2).mean() - 1) < 0.1
    rank = lambda t: t.argsort().argsort().double()  # noqa: E731
    assert torch.corrcoef(torch.stack([rank(est), rank(exact)]))[0, 1] > 0.9


def test_draw_smooth_keeps_the_smallest_norms_in_draw_order():
    gen = points_gen()
    n, keep = 50, 0.8
    m = math.ceil(n / keep)
    all_z = gen.draw(m, seed=5).z
    norms = gen.jacobian_norms(all_z)
    draw, labels = gen.draw_smooth(n, keep, seed=5)
    assert labels is None and draw.z.shape == (n, 6)
    want = norms.argsort()[:n].sort().values
    assert torch.equal(draw.z, all_z[want])
    assert norms[want].max() <= norms[norms.argsort()[n:]].min()
    # sample() returns what G makes of the kept draw; keep 1 (or None) is plain sampling
    torch.testing.assert_close(gen.sample(n, seed=5, jacobian_keep=keep), gen.sample_z(draw.z))
    assert torch.equal(gen.sample(n, seed=5, jacobian_keep=1.0), gen.sample(n, seed=5))
    assert torch.equal(gen.sample(n, seed=5, jacobian_keep=keep), gen.sample(n, seed=5, jacobian_keep=keep))


def test_draw_smooth_keeps_the_class_counts_of_a_conditional_generator():
    gen = points_gen(classes=3)
    y = torch.tensor([0] * 20 + [1] * 5 + [2] * 11)
    draw, labels = gen.draw_smooth(len(y), 0.5, seed=0, y=y)
    assert torch.equal(labels, y)
    # each kept draw is the smallest-norm candidate pool of its class
    m = math.ceil(len(y) / 0.5)
    cand = gen.draw(m, seed=0).z
    cand_y = y[torch.arange(m) % len(y)]
    norms = gen.jacobian_norms(cand, cand_y)
    for c in range(3):
        pool = (cand_y == c).nonzero().reshape(-1)
        best = pool[norms[pool].argsort()[:int((y == c).sum())]].sort().values
        assert torch.equal(draw.z[y == c], cand[best])


@pytest.mark.parametrize("bad", [0.0, -0.5, 1.01, float("nan")])
def test_bad_keep_is_refused_by_name(bad):
    gen = points_gen()
    with pytest.raises(ConfigError, match="jacobian-keep"):
        gen.sample(8, seed=0, jacobian_keep=bad)


def test_evaluate_refuses_keep_without_a_generator():
    with pytest.raises(ConfigError, match="--jacobian-keep applies to a generator SOURCE"):
        evaluate(real="ring8", fake="ring8", metrics=["modes"], n=100, jacobian_keep=0.9)


def test_rejection_drops_the_samples_a_steep_generator_puts_between_two_modes():
    """A hand-made G with two modes at x = -1 and +1, joined through a steep step in z_0 (as a trained G joins
    its modes): the samples between them are those with |z_0| small, where dG/dz_0 is largest."""

    class TwoModes(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(()))

        def forward(self, z, y=None):
            x = torch.tanh(8 * self.w * z[:, :1])  # -1 or +1, except near z_0 = 0
            return torch.cat([x + 0.01 * z[:, 1:2], 0.01 * z[:, 2:3]], 1)

    gen = Generator(TwoModes(), 3, 0, {"kind": "points", "shape": [2], "name": "two"})
    between = lambda x: (x[:, 0].abs() < 0.9).float().mean().item()  # noqa: E731
    plain, kept = gen.sample(4000, seed=0), gen.sample(4000, seed=0, jacobian_keep=0.8)
    assert between(plain) > 0.12  # 14.6% of N(0, 1) has |z_0| < atanh(0.9) / 8 = 0.18: tanh(8 z_0) in (-0.9, 0.9)
    assert between(kept) == 0.0
    assert abs((kept[:, 0] > 0).float().mean().item() - 0.5) < 0.03  # both modes kept, in equal shares


@pytest.mark.slow  # about 60 s; the default run checks the mechanism on the steep two-mode generator above
def test_trained_ring8_loses_its_between_mode_samples(tmp_path):
    """ring8-hq at 6,000 steps (the decay spans 3,000-6,000), seed 0, 2 CPU cores: 8 modes, HQ 79.12% sampled
    plainly, 83.52% with --jacobian-keep 0.95 (KL 0.0030 and 0.0023); the largest of 100 draws' Jacobian norms
    is 115x their median. The full preset's 5-seed figures are in the README (Quality targets) and in
    test_presets_slow.py."""
    run = ganforge.train("ring8-hq", ["train.steps=6000", "train.progress=false", "train.device=cpu"],
                         run_dir=tmp_path / "r").run_dir
    plain = evaluate(str(run), ["modes"], progress=False)[0]
    kept = evaluate(str(run), ["modes"], progress=False, jacobian_keep=0.95)[0]
    assert plain["modes"] == kept["modes"] == 8, (plain, kept)
    assert kept["hq_pct"] >= plain["hq_pct"] + 3.0, (plain["hq_pct"], kept["hq_pct"])
    assert kept["kl"] <= 0.02, kept["kl"]
    assert kept["protocol"]["jacobian_keep"] == 0.95 and "jacobian_keep" not in plain["protocol"]
    norms = load_generator(run).jacobian_norms(load_generator(run).draw(100, seed=0).z)
    assert np.isfinite(norms.numpy()).all() and float(norms.max()) > 10 * float(norms.median())
