"""`--labels` (evaluate): the class mix of a conditional generator's evaluation samples, balanced (the default) or
in the training split's class shares, what it refuses, and that the protocol records it."""
import numpy as np
import pytest

import ganforge
from ganforge.config import Config
from ganforge.data.source import load_source
from ganforge.errors import ConfigError
from ganforge.evaluate import LABEL_MIXES, evaluate, generated_set, label_mix
from ganforge.sample import load_generator


@pytest.fixture(scope="module")
def digits_cgan(tmp_path_factory):
    """A conditional DCGAN on scikit-learn's digits (class counts 174-183 of 1,797), two steps."""
    run = ganforge.train("digits-gan", ["model.num_classes=10", "train.steps=2", "train.progress=false",
                                        "train.device=cpu"], run_dir=tmp_path_factory.mktemp("r") / "cgan")
    return run.run_dir


@pytest.mark.parametrize("n", [10, 997, 10_000])
def test_data_mix_follows_the_training_class_shares_in_whole_samples(digits_cgan, n):
    gen = load_generator(digits_cgan)
    cfg = Config.from_dict(gen.config)
    y = label_mix(gen, n, "data", cfg)
    counts = np.bincount(y, minlength=10)
    train = np.bincount(load_source("digits").y, minlength=10)
    assert counts.sum() == n and len(y) == n
    assert np.all(np.abs(counts - train / train.sum() * n) < 1)  # largest remainder: within one of the exact share
    assert np.all(np.diff(y) >= 0)  # in blocks, as the balanced labels
    if n == 10_000:  # the digits' classes are not equal (174-183), so this mix is not the balanced one
        assert counts.min() < 1000 < counts.max()
    np.testing.assert_array_equal(np.bincount(label_mix(gen, n, "balanced", cfg), minlength=10),
                                  np.bincount(gen.labels(n).numpy(), minlength=10))


def test_the_samples_carry_the_mix(digits_cgan):
    """generated_set draws with the labels given: the same noise, so a balanced and a data-mix set share every
    sample whose label is the same (here the first block, class 0, is 97 vs 96 long)."""
    gen = load_generator(digits_cgan)
    y = label_mix(gen, 970, "data", Config.from_dict(gen.config))
    a = generated_set(gen, 970, seed=3).data
    b = generated_set(gen, 970, seed=3, y=y).data
    same = int(min(np.sum(y == 0), 97))
    np.testing.assert_array_equal(a[:same], b[:same])
    assert not np.array_equal(a, b)


def test_evaluate_records_the_mix_in_the_protocol(digits_cgan):
    r = evaluate(str(digits_cgan), ["fid"], n=300, features="identity", labels="data", progress=False)[0]
    assert r["protocol"]["labels"] == f"data: {LABEL_MIXES['data']}"
    plain = evaluate(str(digits_cgan), ["fid"], n=300, features="identity", progress=False)[0]
    assert "labels" not in plain["protocol"] and plain["fid"] != r["fid"]


def test_bad_mixes_are_refused_by_name(digits_cgan, tmp_path):
    with pytest.raises(ConfigError, match="--labels must be one of balanced, data, got 'prior'"):
        evaluate(str(digits_cgan), ["fid"], n=20, labels="prior", progress=False)
    with pytest.raises(ConfigError, match="--labels applies to a conditional generator SOURCE"):
        evaluate(None, ["fid"], real="digits", fake="digits", labels="data", progress=False)
    plain = ganforge.train("digits-gan", ["train.steps=1", "train.progress=false", "train.device=cpu"],
                           run_dir=tmp_path / "u")
    with pytest.raises(ConfigError, match="takes no class: drop it"):
        evaluate(str(plain.run_dir), ["fid"], n=20, labels="data", progress=False)


def test_cli_passes_labels(digits_cgan, capsys):
    from ganforge.cli import main
    assert main(["evaluate", str(digits_cgan), "--metrics", "fid", "--features", "identity", "--n", "300",
                 "--labels", "data", "--json", "--no-progress"]) == 0
    assert '"labels": "data: ' in capsys.readouterr().out
