"""Image datasets (made-up and packaged data), every preset's first steps, and DCGAN / CGAN on MNIST
judged by an independent classifier (scikit-learn logistic regression on pixels)."""
import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

import ganforge
from ganforge.config import preset_names
from ganforge.data.images import FASHION_DIR, mnist_arrays, read_idx
from ganforge.data.source import load_source
from ganforge.errors import DataError
from ganforge.train.rundir import read_jsonl


def write_idx(path: Path, arr: np.ndarray, gz: bool = False) -> Path:
    head = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    data = head + arr.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def test_idx_and_fashion_dir_loader(tmp_path):
    rng = np.random.default_rng(0)
    imgs, labels = rng.integers(0, 256, (20, 6, 6), dtype=np.uint8), rng.integers(0, 3, 20, dtype=np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", imgs, gz=True)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    assert np.array_equal(read_idx(tmp_path / "train-images-idx3-ubyte.gz"), imgs)
    src = load_source(f"fashion-mnist:{tmp_path}")
    assert src.shape == (1, 6, 6) and src.num_classes == 3 and torch.equal(src.x[:, 0], torch.from_numpy(imgs))
    x, y = src.sampler(4, seed=0).next()
    assert x.dtype == torch.float32 and x.min() >= -1 and x.max() <= 1 and y.shape == (4,)
    src2 = load_source(f"idx:{tmp_path / 'train-images-idx3-ubyte.gz'},{tmp_path / 'train-labels-idx1-ubyte'}")
    assert src2.num_classes == 3 and len(src2.x) == 20
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte"):
        load_source(f"fashion-mnist:{tmp_path}@test")
    with pytest.raises(DataError, match="does not exist"):
        load_source(f"fashion-mnist:{tmp_path / 'nope'}")
    (tmp_path / "bad").write_bytes(b"\x00\x00\x08\x03" + (20).to_bytes(4, "big") * 3 + b"\x01")
    with pytest.raises(DataError, match="truncated"):
        read_idx(tmp_path / "bad")


def test_npz_loader(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (10, 8, 8, 3), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(10) % 2)
    src = load_source(f"npz:{tmp_path / 'd.npz'}")
    assert src.shape == (3, 8, 8) and src.num_classes == 2
    assert np.array_equal(src.decode(src.sampler(10, 0).next()[0]).shape, (10, 8, 8, 3))
    np.savez(tmp_path / "e.npz", images=x)
    with pytest.raises(DataError, match="has no array 'x'"):
        load_source(f"npz:{tmp_path / 'e.npz'}")


def test_decode_inverts_scaling():
    src = load_source("digits")
    x, _ = src.sampler(16, 0).next()
    back = src.decode(x)
    assert back.dtype == np.uint8 and back.shape == (16, 16, 16, 1)
    assert set(np.unique(src.x.numpy())) <= set(np.unique(back)) | set(range(256))


def test_mnist_official_splits():
    xtr, ytr = mnist_arrays("train")
    xte, yte = mnist_arrays("test")
    assert xtr.shape == (60000, 28, 28) and xte.shape == (10000, 28, 28) and xtr.dtype == np.uint8
    assert np.bincount(ytr).tolist()[:3] == [5923, 6742, 5958]  # official train class counts
    assert np.bincount(yte).tolist()[:3] == [980, 1135, 1032]   # official test class counts
    assert xtr.max() == 255 and xtr.min() == 0


def test_digits_and_stacked_mnist():
    d = load_source("digits")
    assert d.shape == (1, 16, 16) and len(d.x) == 1797 and d.num_classes == 10
    s = load_source("stacked-mnist:3000")
    assert s.shape == (3, 28, 28) and s.num_classes == 0 and len(s.modes) == 3000
    assert 0 <= s.modes.min() and s.modes.max() < 1000 and len(np.unique(s.modes)) > 900


@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_fashion_mnist_packaged():
    src = load_source("fashion-mnist")
    assert len(src.x) == 60000 and src.num_classes == 10 and src.shape == (1, 28, 28)
    assert len(load_source("fashion-mnist@test").x) == 10000


# fashion-edges builds the Canny edges of 60,000 items first (about 2 minutes on 2 cores; each test has its own
# cache): slow; its edge maps and loader are checked in test_translate.py and test_registries.py
@pytest.mark.parametrize("preset", [pytest.param(p, marks=pytest.mark.slow) if p.startswith("fashion-edges") else p
                                    for p in preset_names()])
def test_every_preset_trains_a_few_steps(tmp_path, preset):
    run = ganforge.train(preset, ["train.steps=2", "train.progress=false", "data.batch_size=8"],
                         run_dir=tmp_path / "r")
    assert run.step == 2 and (tmp_path / "r" / "generator.safetensors").is_file()
    final = "translations.png" if run.state.algorithm.translates else "real_vs_fake.png"  # input | output rows
    assert (tmp_path / "r" / "losses.png").is_file() and (tmp_path / "r" / final).is_file()


def test_pictures_survive_degenerate_samples(tmp_path):
    from ganforge.report import histogram_png, loss_plot_png, scatter_png

    histogram_png(np.full(100, 1e9), tmp_path / "h.png", real=np.random.randn(100))  # all outside the range
    histogram_png(np.array([np.nan, 1.0]), tmp_path / "h2.png")
    scatter_png(np.array([[np.nan, 0.0], [np.inf, 1.0]]), tmp_path / "s.png", real=np.random.randn(50, 2))
    loss_plot_png([{"step": 1, "d_loss": float("nan"), "g_loss": 1.0}], tmp_path / "l.png")
    assert all((tmp_path / f).stat().st_size > 0 for f in ("h.png", "h2.png", "s.png", "l.png"))


def test_conditional_preset_on_unlabelled_data_fails_early(tmp_path):
    with pytest.raises(ganforge.ConfigError, match="has no labels"):
        ganforge.train("mnist-cgan", ["data.name=stacked-mnist:100", "train.progress=false"], run_dir=tmp_path / "r")
    assert not (tmp_path / "r").exists()


@pytest.fixture(scope="module")
def pixel_classifier():
    from sklearn.linear_model import LogisticRegression

    x, y = mnist_arrays("train")
    clf = LogisticRegression(max_iter=300, C=0.05).fit(x[:12000].reshape(-1, 784) / 255.0, y[:12000])
    xt, yt = mnist_arrays("test")
    assert clf.score(xt[:2000].reshape(-1, 784) / 255.0, yt[:2000]) > 0.85  # measured 0.88
    return clf


def test_dcgan_mnist_makes_recognisable_digits(tmp_path, pixel_classifier):
    run = ganforge.train("mnist-dcgan", ["train.steps=1200", "train.progress=false", "train.eval_every=400",
                                         "train.eval_metrics=fid,is", "train.eval_n=2000"], run_dir=tmp_path / "r")
    evals = read_jsonl(tmp_path / "r" / "metrics.jsonl")
    print("eval:", [(r["step"], round(r["fid"], 2), round(r["is"], 2)) for r in evals])
    assert [r["step"] for r in evals] == [400, 800, 1200] and evals[0]["protocol"]["extractor"] == "mnist"
    # measured at seed 0 (MNIST-classifier features, 2,000 vs 2,000 mnist@test): FID 57.7 -> 45.0 -> 39.2,
    # IS 3.36 -> 4.11 -> 4.56 (real test digits: FID ~1.5, IS ~9.6 at this n)
    assert evals[-1]["fid"] < 0.8 * evals[0]["fid"] and evals[-1]["fid"] < 45
    assert evals[-1]["is"] > evals[0]["is"] + 0.5 and evals[-1]["is"] > 4.0
    imgs = run.generator.decode(run.generator.sample(1000, seed=0))
    p = pixel_classifier.predict_proba(imgs.reshape(1000, -1) / 255.0)
    real = pixel_classifier.predict_proba(mnist_arrays("test")[0][:1000].reshape(1000, -1) / 255.0)
    confident, real_confident = (p.max(1) > 0.5).mean(), (real.max(1) > 0.5).mean()
    classes = np.bincount(p.argmax(1), minlength=10)
    print(f"confident {confident:.3f} (real {real_confident:.3f}) classes {classes.tolist()}")
    # measured at seed 0 after 1200 steps: 78.5% of samples with p > 0.5 (real test digits: 93.3%),
    # fewest samples in a class: 49 of 1000
    assert confident > 0.65
    assert (classes >= 20).all()  # every class present (>= 2% of samples each)


def test_default_job_makes_legible_digits_of_every_class(tmp_path, pixel_classifier):
    """The default job (`make demo`: DEFAULT_PRESET, the conditional DCGAN at width 64 in bf16) after 1,500 of its
    8,500 steps (its schedule is fixed at 8,500 and decays from 4,250, so this is the job's first part, unchanged),
    read by two classifiers: the shipped CNN (metric legible) and an independent pixel logistic regression. Its
    thresholds are measured on it and sit at or above what the previous defaults met here."""
    from ganforge.config import DEFAULT_PRESET
    from ganforge.evaluate import evaluate

    run = ganforge.train(None, ["train.steps=1500", "train.progress=false"], run_dir=tmp_path / "r")
    assert run.state.cfg.name == DEFAULT_PRESET == "mnist-cgan-w64-demo"
    assert run.state.cfg.model.width == 64 and run.state.cfg.train.precision == "auto"  # bf16 on this CI's CPUs
    leg = evaluate(str(tmp_path / "r"), ["legible"], n=1000, progress=False)[0]
    imgs = run.generator.decode(run.generator.sample(1000, seed=0))
    p = pixel_classifier.predict_proba(imgs.reshape(1000, -1) / 255.0)
    confident, classes = (p.max(1) > 0.5).mean(), np.bincount(p.argmax(1), minlength=10)
    print(f"legible {leg['legible']:.3f} shares [{leg['class_min']:.3f}, {leg['class_max']:.3f}]; pixel classifier "
          f"confident {confident:.3f} classes {classes.tolist()}")
    # measured at seed 0 after 1,500 steps (2026-12-05): legible 0.782, class shares 0.076 .. 0.169, pixel classifier
    # confident 0.954, fewest 88 of 1000 in a class. The previous default (mnist-cgan, width 32, fp32) met 0.664,
    # 0.064 .. 0.181, 0.945 and 76 here; each bound below is at or above what it met, with room for the chaotic
    # run's drift between CPUs (0.188 -> 0.215 in class_max at 1,200 steps between two machines)
    assert leg["legible"] > 0.68
    assert leg["class_min"] >= 0.05 and leg["class_max"] <= 0.20
    assert confident > 0.9
    assert (classes >= 70).all()


def test_cgan_mnist_follows_requested_class(tmp_path, pixel_classifier):
    run = ganforge.train("mnist-cgan", ["train.steps=800", "train.progress=false"], run_dir=tmp_path / "r")
    y = torch.arange(1000) % 10
    imgs = run.generator.decode(run.generator.sample(1000, seed=0, y=y))
    match = (pixel_classifier.predict(imgs.reshape(1000, -1) / 255.0) == y.numpy()).mean()
    print(f"class match {match:.3f}")
    assert match > 0.75  # measured 0.92 after 800 steps (seed 0)


def test_tensorboard_scalars_and_images(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ganforge.train("digits-gan", ["train.steps=4", "train.log_every=2", "train.sample_every=2", "data.batch_size=8",
                                  "train.progress=false", "train.tensorboard=true"], run_dir=tmp_path / "r")
    acc = EventAccumulator(str(tmp_path / "r" / "tensorboard"))
    acc.Reload()
    assert [e.step for e in acc.Scalars("d_loss")] == [2, 4]
    assert set(acc.Tags()["scalars"]) >= {"d_loss", "g_loss", "D_x", "D_G_z", "samples_per_s"}
    assert [e.step for e in acc.Images("samples")] == [2, 4]
