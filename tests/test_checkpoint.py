"""Checkpoint files: exact round trip, verification, atomicity, and no unpickling."""
import os
import pickle
import random

import pytest
import torch

from ganforge import checkpoint
from ganforge.errors import CheckpointError
from conftest import states_equal


def sample_tree():
    opt_state = {0: {"step": torch.tensor(3.0), "exp_avg": torch.randn(4)}, 1: {"momentum": None}}
    return {"G": {"w": torch.randn(3, 4), "b": torch.arange(4, dtype=torch.int64), "half": torch.randn(2).half()},
            "opt": {"state": opt_state, "param_groups": [{"lr": 2e-4, "betas": (0.5, 0.999), "params": [0, 1]}]},
            "step": 7, "rng": torch.get_rng_state(), "config": {"name": "x", "list": [1, 2.5, "a", None, True]},
            "empty": torch.zeros(0)}


def test_round_trip_exact(tmp_path):
    tree = sample_tree()
    path = tmp_path / "a.safetensors"
    checkpoint.save(path, tree, "checkpoint")
    back = checkpoint.load(path, kind="checkpoint")
    assert back.pop("__kind__") == "checkpoint"
    assert states_equal(tree, back)
    assert isinstance(back["opt"]["param_groups"][0]["betas"], tuple)
    assert list(back["opt"]["state"]) == [0, 1]


def test_wrong_kind_rejected(tmp_path):
    path = tmp_path / "g.safetensors"
    checkpoint.save(path, {"x": torch.ones(1)}, "generator")
    with pytest.raises(CheckpointError, match="expected a checkpoint"):
        checkpoint.load(path, kind="checkpoint")


def test_truncation_and_bit_flips_detected(tmp_path):
    path = tmp_path / "c.safetensors"
    checkpoint.save(path, sample_tree(), "checkpoint")
    blob = path.read_bytes()
    rng = random.Random(0)
    bad = tmp_path / "bad.safetensors"
    trials = 0
    for cut in sorted(rng.sample(range(len(blob)), 25)) + [0, 7, len(blob) - 1]:
        bad.write_bytes(blob[:cut])
        with pytest.raises(CheckpointError, match="bad.safetensors"):
            checkpoint.load(bad)
        trials += 1
    for pos in rng.sample(range(len(blob)), 60):
        flipped = bytearray(blob)
        flipped[pos] ^= 1 << rng.randrange(8)
        bad.write_bytes(bytes(flipped))
        with pytest.raises(CheckpointError, match="bad.safetensors"):
            checkpoint.load(bad)
        trials += 1
    assert trials == 88


def test_pickle_is_refused_and_never_executed(tmp_path):
    sentinel = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {sentinel}",))

    for name, data in (("evil.safetensors", pickle.dumps(Payload())), ("evil.pt", None)):
        path = tmp_path / name
        if data is None:
            torch.save({"x": Payload()}, path)
        else:
            path.write_bytes(data)
        with pytest.raises(CheckpointError, match="never unpickles"):
            checkpoint.load(path)
    assert not sentinel.exists()


def test_missing_and_directory_named(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        checkpoint.load(tmp_path / "nope.safetensors")
    with pytest.raises(CheckpointError, match="is a directory"):
        checkpoint.load(tmp_path)


def test_failed_write_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "c.safetensors"
    checkpoint.save(path, {"v": torch.ones(3)}, "checkpoint")

    def no_space(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(CheckpointError, match="No space left on device"):
        checkpoint.save(path, {"v": torch.zeros(3)}, "checkpoint")
    monkeypatch.undo()
    assert torch.equal(checkpoint.load(path)["v"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["c.safetensors"]  # no temp file left behind
