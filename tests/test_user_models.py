"""Your own torch networks as written: image-shaped arrays in fit, layouts, noise shapes, model.g factories,
and the simultaneous update schedule (keras-adversarial's simultaneous player optimiser)."""
import numpy as np
import pytest
import torch
from torch import nn

import ganforge
from ganforge.train.loop import update_together
from ganforge.train.state import build_state


def test_fit_treats_image_arrays_as_images(tmp_path):
    """The issue's reproduction: [N, 1, 28, 28] arrays with run_dir= crashed at the first sample picture."""
    G = nn.Sequential(nn.Linear(8, 784), nn.Tanh(), nn.Unflatten(1, (1, 28, 28)))
    D = nn.Sequential(nn.Flatten(), nn.Linear(784, 1))
    run = ganforge.fit(G, D, data=np.zeros((1000, 1, 28, 28), np.float32), z_dim=8, steps=8, run_dir=tmp_path / "r",
                       progress=False)
    assert run.state.source.kind == "images" and run.config.model.layout == "nchw"
    assert (tmp_path / "r" / "real_vs_fake.png").is_file() and (tmp_path / "r" / "samples").is_dir()
    # [N, H, W] (no channel axis) and [N, H, W, C]: images too, samples back in the model's layout
    G3 = nn.Sequential(nn.Linear(8, 256), nn.Tanh(), nn.Unflatten(1, (16, 16)))
    run = ganforge.fit(G3, nn.Sequential(nn.Flatten(), nn.Linear(256, 1)), data=np.zeros((64, 16, 16), np.float32),
                       z_dim=8, steps=2, batch_size=16, progress=False)
    assert run.config.model.layout == "nhw" and run.generator.sample(3, seed=0).shape == (3, 16, 16)
    assert run.generator.decode(run.generator.sample(3, seed=0)).shape == (3, 16, 16, 1)
    Gc = nn.Sequential(nn.Linear(8, 768), nn.Tanh(), nn.Unflatten(1, (16, 16, 3)))
    run = ganforge.fit(Gc, nn.Sequential(nn.Flatten(), nn.Linear(768, 1)), data=np.zeros((64, 16, 16, 3), np.float32),
                       z_dim=8, steps=2, batch_size=16, progress=False)
    assert run.state.source.shape == (3, 16, 16) and run.config.model.layout == "nhwc"
    assert run.generator.sample(2, seed=0).shape == (2, 16, 16, 3)
    # points stay points
    run = ganforge.fit(nn.Linear(4, 2), nn.Linear(2, 1), data=np.zeros((64, 2), np.float32), z_dim=4, steps=2,
                       batch_size=16, progress=False)
    assert run.state.source.kind == "points"


def test_noise_shape_for_a_convtranspose_generator_and_z_shape():
    G = nn.Sequential(nn.ConvTranspose2d(16, 8, 4, 1, 0), nn.ReLU(), nn.ConvTranspose2d(8, 1, 4, 2, 1), nn.Tanh())
    D = nn.Sequential(nn.Conv2d(1, 8, 4, 2, 1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(8 * 4 * 4, 1))
    data = np.zeros((64, 1, 8, 8), np.float32)
    run = ganforge.fit(G, D, data=data, z_dim=16, steps=2, batch_size=16, progress=False)
    assert run.config.model.z_shape == [16, 1, 1] and run.generator.sample(2, seed=0).shape == (2, 1, 8, 8)
    G2 = nn.Sequential(nn.Conv2d(4, 1, 3, 1, 1), nn.Upsample(scale_factor=4), nn.Tanh())  # noise as 4 x 2 x 2
    run = ganforge.fit(G2, D, data=data, z_dim=16, z_shape=(4, 2, 2), steps=2, batch_size=16, progress=False)
    assert run.config.model.z_shape == [4, 2, 2]
    with pytest.raises(ganforge.ConfigError, match=r"model.z_shape' = \[4, 2, 3\] holds 24 values but the noise has 16"):
        ganforge.fit(G2, D, data=data, z_dim=16, z_shape=(4, 2, 3), steps=2, batch_size=16, progress=False)


def test_update_together_takes_each_gradient_at_the_same_parameters():
    cfg = ganforge.resolve("ring8-gan", ["model.g_hidden=[8]", "model.d_hidden=[8]", "loss.schedule=simultaneous",
                                         "optim.lr_g=0.1", "optim.lr_d=0.1"])
    st = build_state(cfg)
    G, D = st.nets["G"], st.nets["D"]
    D.requires_grad_(True)
    z = torch.randn(32, cfg.model.z_dim)
    real = torch.randn(32, 2)
    fake = G(z, None)
    d_loss = nn.functional.softplus(-D(real, None)).mean() + nn.functional.softplus(D(fake, None)).mean()
    g_loss = nn.functional.softplus(-D(fake, None)).mean()
    g_params, d_params = list(G.parameters()), list(D.parameters())
    want_d = torch.autograd.grad(d_loss, d_params, retain_graph=True)
    want_g = torch.autograd.grad(g_loss, g_params, retain_graph=True)
    before = [p.detach().clone() for p in g_params + d_params]
    update_together(st, {"D": d_loss, "G": g_loss})
    assert all(torch.equal(p.grad, w) for p, w in zip(d_params, want_d))  # D's gradient of its own loss only
    assert all(torch.equal(p.grad, w) for p, w in zip(g_params, want_g))  # G's, through D before D's step
    assert all(not torch.equal(p, b) for p, b in zip(g_params + d_params, before))  # both stepped


def test_simultaneous_schedule_learns_and_differs_from_alternating(tmp_path):
    ov = ["train.progress=false", "train.steps=1500"]
    sim = ganforge.train("gauss1d-gan", ov + ["loss.schedule=simultaneous"], run_dir=tmp_path / "s")
    alt = ganforge.train("gauss1d-gan", ov, run_dir=tmp_path / "a")
    x = sim.generator.sample(20_000, seed=0).numpy()
    print(f"simultaneous: mean {x.mean():.3f} std {x.std():.3f}")
    # target N(4, 1.25^2); measured at seed 0 after 1500 steps: mean 4.00, std 1.25 (untrained G: mean ~0)
    assert abs(x.mean() - 4.0) < 0.25 and abs(x.std() - 1.25) < 0.25
    assert not torch.equal(sim.generator.sample(100, seed=0), alt.generator.sample(100, seed=0))
    with pytest.raises(ganforge.ConfigError, match="loss.n_critic"):
        ganforge.train("gauss1d-gan", ["loss.schedule=simultaneous", "loss.n_critic=2"], run_dir=tmp_path / "x")
    with pytest.raises(ganforge.ConfigError, match="loss.schedule"):
        ganforge.train("mnist-began", ["loss.schedule=simultaneous"], run_dir=tmp_path / "x")


def test_model_g_factories_from_the_command_line(tmp_path, cli_env):
    from conftest import run_cli

    (tmp_path / "models.py").write_text(
        "import math\nfrom torch import nn\n"
        "def build_generator(z_dim, shape):\n"
        "    return nn.Sequential(nn.Linear(z_dim, 64), nn.ReLU(), nn.Linear(64, math.prod(shape)), nn.Tanh(),\n"
        "                         nn.Unflatten(1, shape))\n"
        "def build_discriminator(shape):\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))\n")
    ov = ["--set", "model.g=models.py:build_generator", "--set", "model.d=models.py:build_discriminator",
          "--set", "train.steps=6", "--set", "data.batch_size=16", "--no-progress", "--run-dir", "r"]
    out = run_cli(["train", "digits-gan", *ov], cli_env, tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    out = run_cli(["train", "digits-gan", *ov[:-2], "--set", "train.steps=9", "--run-dir", "r", "--resume", "auto"],
                  cli_env, tmp_path)
    assert out.returncode == 0 and "resumed from" in out.stderr, out.stderr[-2000:]
    out = run_cli(["generate", "r", "-n", "4", "--out", "s.npz", "--g", "models.py:build_generator"], cli_env, tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert np.load(tmp_path / "s.npz")["x"].shape == (4, 16, 16, 1)
