"""Objectives at known logits, penalties on known functions, and numerical stability. The contract of
every registered objective and penalty (finite scalars, gradients, extreme logits) is in test_registries.py."""
import math

import pytest
import torch
from torch import nn

from ganforge.losses.penalties import clip_weights, gradient_penalty, r1_penalty
from ganforge.registries import OBJECTIVES, PENALTIES

LOG2 = math.log(2.0)


@pytest.mark.parametrize("name,d_expected,g_expected", [
    # at logits 0 (D = 1/2 everywhere)
    ("bce", 2 * LOG2, -LOG2),
    ("ns", 2 * LOG2, LOG2),
    ("lsgan", 0.5, 0.5),
    ("wgan", 0.0, 0.0),
    ("wgan-gp", 0.0, 0.0),
    ("hinge", 2.0, 0.0),
])
def test_objectives_at_zero_logits(name, d_expected, g_expected):
    obj = OBJECTIVES.get(name)
    z = torch.zeros(8)
    assert obj.d_loss(z, z).item() == pytest.approx(d_expected, abs=1e-6)
    assert obj.g_loss(z).item() == pytest.approx(g_expected, abs=1e-6)


def test_rpgan_pairs_each_generated_score_with_a_real_one():
    """RpGAN's losses are softplus of the paired score gaps (so at equal scores both are log 2) and depend on
    the pairing, unlike the batch-mean objectives; with r1r2 the penalty adds R2 on generated samples."""
    obj = OBJECTIVES.get("rpgan")
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.0, 1.0])
    assert obj.relativistic and not obj.probabilistic
    assert obj.d_loss(real, real).item() == pytest.approx(LOG2) and obj.g_loss(fake, fake).item() == pytest.approx(LOG2)
    gap = real - fake  # 2, -2
    assert obj.d_loss(real, fake).item() == pytest.approx(torch.log1p(torch.exp(-gap)).mean().item(), rel=1e-6)
    assert obj.g_loss(fake, real).item() == pytest.approx(torch.log1p(torch.exp(gap)).mean().item(), rel=1e-6)
    assert obj.d_loss(real, fake.flip(0)).item() != pytest.approx(obj.d_loss(real, fake).item())  # pairs matter
    D_sq = lambda x, y=None: x.pow(2).sum(1)  # noqa: E731  grad = 2x, so 1/2 E||grad||^2 = 2 E||x||^2
    real_x, fake_x = torch.randn(5, 2), 3 * torch.randn(5, 2)
    c = type("C", (), {"gp_weight": 0.5})()
    both = PENALTIES.get("r1r2").term(D_sq, real_x, fake_x, None, c).item()
    r1, r2 = 2 * real_x.pow(2).sum(1).mean().item(), 2 * fake_x.pow(2).sum(1).mean().item()
    assert both == pytest.approx(0.5 * (r1 + r2)) and both != pytest.approx(r1)  # R2 is on the generated batch


def test_bce_matches_probability_formula():
    real, fake = torch.tensor([2.0, -1.0, 0.5]), torch.tensor([-3.0, 0.0, 1.0])
    p_r, p_f = torch.sigmoid(real), torch.sigmoid(fake)
    expected_d = -(torch.log(p_r).mean() + torch.log(1 - p_f).mean())
    assert OBJECTIVES.get("bce").d_loss(real, fake).item() == pytest.approx(expected_d.item(), rel=1e-6)
    assert OBJECTIVES.get("bce").g_loss(fake).item() == pytest.approx(torch.log(1 - p_f).mean().item(), rel=1e-6)
    assert OBJECTIVES.get("ns").g_loss(fake).item() == pytest.approx(-torch.log(p_f).mean().item(), rel=1e-6)


def test_lsgan_hinge_wgan_values():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([-2.0, 0.5])
    assert OBJECTIVES.get("lsgan").d_loss(real, fake).item() == pytest.approx(0.5 * (2.0 + 2.125))
    assert OBJECTIVES.get("lsgan").g_loss(fake).item() == pytest.approx(0.5 * (9 + 0.25) / 2)
    assert OBJECTIVES.get("wgan").d_loss(real, fake).item() == pytest.approx(-0.75 - 2.0)
    assert OBJECTIVES.get("hinge").d_loss(real, fake).item() == pytest.approx(0.0 + (0 + 1.5) / 2)
    assert OBJECTIVES.get("hinge").g_loss(fake).item() == pytest.approx(0.75)


def test_bce_d_loss_decreases_when_d_improves():
    obj = OBJECTIVES.get("bce")
    assert obj.d_loss(torch.full((4,), 3.0), torch.full((4,), -3.0)) < obj.d_loss(torch.zeros(4), torch.zeros(4))


def test_gradient_penalty_linear_critic_closed_form():
    # D(x) = w.x has gradient w everywhere: penalty = (||w|| - 1)^2
    w = torch.tensor([3.0, 4.0])
    D = lambda x, y=None: x @ w  # noqa: E731
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    assert gradient_penalty(D, real, fake).item() == pytest.approx(16.0, rel=1e-6)
    assert r1_penalty(D, real).item() == pytest.approx(0.5 * 25.0, rel=1e-6)


def test_gradient_penalty_draws_one_epsilon_per_sample(monkeypatch):
    shapes = []
    real_rand = torch.rand

    def spy(*args, **kw):
        shapes.append(tuple(args[0]) if isinstance(args[0], (tuple, torch.Size)) else args)
        return real_rand(*args, **kw)

    monkeypatch.setattr(torch, "rand", spy)
    D = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 1))
    gradient_penalty(lambda x, y=None: D(x).view(-1), torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4))
    assert shapes == [(5, 1, 1, 1)]


def test_gradient_penalty_has_gradient_for_critic_params():
    D = nn.Linear(2, 1)
    gp = gradient_penalty(lambda x, y=None: D(x).view(-1), torch.randn(8, 2), torch.randn(8, 2))
    gp.backward()
    assert D.weight.grad is not None and D.weight.grad.abs().sum() > 0


def test_clip_penalty_clamps_after_step():
    D = nn.Linear(4, 1)
    with torch.no_grad():
        D.weight.fill_(5.0)
    clip_weights(D, 0.01)
    assert D.weight.abs().max().item() == pytest.approx(0.01)


def test_objective_default_penalties():
    assert OBJECTIVES.get("wgan").default_penalty == "clip"
    assert OBJECTIVES.get("wgan-gp").default_penalty == "gp"
    assert set(PENALTIES.names()) >= {"none", "gp", "r1", "clip"}
