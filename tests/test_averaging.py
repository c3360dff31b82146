"""Checkpoint averaging: train.average_ckpts and `ganforge average` export the mean of G_ema over the newest
checkpoints, recorded in every evaluation protocol; bad requests fail before anything is trained or written."""
import subprocess
import sys

import pytest
import torch
from torch import nn

import ganforge
from ganforge import checkpoint
from ganforge.errors import ConfigError
from ganforge.train.rundir import RunDir, average_run

SMALL = ["model.g_hidden=[32, 32]", "model.d_hidden=[32, 32]", "data.batch_size=64", "train.progress=false",
         "train.log_every=2", "train.sample_every=100", "train.ckpt_every=3", "train.steps=9"]


def _ema_of(path):
    return checkpoint.load(path, kind="checkpoint")["G_ema"]


def test_average_ckpts_exports_the_mean_of_the_newest_checkpoints(tmp_path):
    run = ganforge.train("ring8-gan", SMALL + ["train.average_ckpts=3", "train.keep_ckpts=3"], run_dir=tmp_path / "r")
    ckpts = RunDir(run.run_dir).checkpoints()
    assert [p.name for p in ckpts] == ["step_00000003.safetensors", "step_00000006.safetensors",
                                       "step_00000009.safetensors"]
    emas = [_ema_of(p) for p in ckpts]
    export = checkpoint.load(run.run_dir / "generator.safetensors", kind="generator")
    assert export["averaged_steps"] == [3, 6, 9] and export["step"] == 9
    for k, v in export["G"].items():
        assert torch.equal(v, torch.stack([e[k].float() for e in emas]).mean(0).to(v.dtype)), k
    w = "net.0.weight" if "net.0.weight" in export["G"] else next(iter(export["G"]))
    assert not torch.equal(export["G"][w], emas[-1][w])  # an average, not the newest copy
    # G_ema itself and the newest checkpoint are as without averaging
    plain = ganforge.train("ring8-gan", SMALL, run_dir=tmp_path / "plain")
    assert torch.equal(_ema_of(RunDir(plain.run_dir).checkpoints()[-1])[w], emas[-1][w])
    assert "averaged_steps" not in checkpoint.load(plain.run_dir / "generator.safetensors", kind="generator")
    # the protocol says which weights were measured
    r = ganforge.evaluate(run.run_dir, ["modes"], n=500, progress=False)[0]
    assert r["protocol"]["weights"] == "mean of G_ema at steps 3, 6, 9"
    r = ganforge.evaluate(plain.run_dir, ["modes"], n=500, progress=False)[0]
    assert r["protocol"]["weights"] == "G_ema"


def test_average_command_matches_training_time_averaging(tmp_path):
    """`ganforge average` on a finished run writes what train.average_ckpts would have exported; the run is only read."""
    ganforge.train("ring8-gan", SMALL + ["train.average_ckpts=2"], run_dir=tmp_path / "during")
    plain = ganforge.train("ring8-gan", SMALL, run_dir=tmp_path / "after")
    before = (plain.run_dir / "generator.safetensors").read_bytes()
    out = tmp_path / "avg.safetensors"
    proc = subprocess.run([sys.executable, "-m", "ganforge", "average", str(plain.run_dir), "--last", "2",
                           "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    a = checkpoint.load(out, kind="generator")
    b = checkpoint.load(tmp_path / "during" / "generator.safetensors", kind="generator")
    assert a["averaged_steps"] == b["averaged_steps"] == [6, 9]
    assert all(torch.equal(a["G"][k], b["G"][k]) for k in b["G"])
    assert (plain.run_dir / "generator.safetensors").read_bytes() == before
    x = ganforge.load_generator(out).sample(64, seed=0)
    assert x.shape == (64, 2) and torch.isfinite(x).all()


def test_average_of_your_own_networks(tmp_path):
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2))
    D = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
    run = ganforge.fit(G, D, data=torch.randn(256, 2), z_dim=4, steps=8, progress=False, run_dir=tmp_path / "r",
                       overrides=["train.ckpt_every=4", "train.average_ckpts=2"])
    export = checkpoint.load(run.run_dir / "generator.safetensors", kind="generator")
    emas = [_ema_of(p) for p in RunDir(run.run_dir).checkpoints()]
    assert export["averaged_steps"] == [4, 8] and set(export["G"]) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert torch.equal(export["G"]["2.bias"], (emas[0]["net.2.bias"] + emas[1]["net.2.bias"]) / 2)
    g = ganforge.load_generator(run.run_dir, G=nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2)))
    assert g.weights == "mean of G_ema at steps 4, 8" and g.sample(8, seed=0).shape == (8, 2)


def test_bad_averaging_requests_fail_before_anything_is_written(tmp_path):
    with pytest.raises(ConfigError, match=r"train.average_ckpts.*train.keep_ckpts to at least 5"):
        ganforge.train("ring8-gan", SMALL + ["train.average_ckpts=5"], run_dir=tmp_path / "r")
    assert not (tmp_path / "r").exists()
    with pytest.raises(ConfigError, match="train.average_ckpts"):
        ganforge.resolve("ring8-gan", ["train.average_ckpts=-1"])
    run = ganforge.train("ring8-gan", SMALL + ["train.keep_ckpts=1"], run_dir=tmp_path / "one")
    with pytest.raises(ConfigError, match=r"has 1 checkpoint\(s\).*train.keep_ckpts >= 3"):
        average_run(run.run_dir, tmp_path / "a.safetensors")
    with pytest.raises(ConfigError, match="--last 1"):
        average_run(run.run_dir, tmp_path / "a.safetensors", last=1)
    with pytest.raises(ConfigError, match="not a run directory"):
        average_run(tmp_path / "missing", tmp_path / "a.safetensors")
    with pytest.raises(ConfigError, match="the run's own export"):
        average_run(run.run_dir, run.run_dir / "generator.safetensors", last=2)
    with pytest.raises(ConfigError, match="directory of --out"):
        average_run(run.run_dir, tmp_path / "no" / "such" / "a.safetensors")
    assert not (tmp_path / "a.safetensors").exists()


def test_a_resumed_run_exports_the_same_average(tmp_path):
    """The average is read from the checkpoints on disk, so "train 9 steps" and "train 6, resume to 9" export the
    same weights bit for bit."""
    ov = SMALL + ["train.average_ckpts=3"]
    full = ganforge.train("ring8-gan", ov, run_dir=tmp_path / "full")
    ganforge.train("ring8-gan", [o for o in ov if o != "train.steps=9"] + ["train.steps=6"], run_dir=tmp_path / "half")
    half = ganforge.train("ring8-gan", ov, run_dir=tmp_path / "half", resume="auto")
    a = checkpoint.load(full.run_dir / "generator.safetensors", kind="generator")
    b = checkpoint.load(half.run_dir / "generator.safetensors", kind="generator")
    assert half.step == 9 and a["averaged_steps"] == b["averaged_steps"] == [3, 6, 9]
    assert all(torch.equal(a["G"][k], b["G"][k]) for k in a["G"])


@pytest.mark.parametrize("preset,role", [("mnist-infogan", "D"), ("mnist-vaegan", "E"),
                                         ("mnist-colour-cyclegan", "F")])
def test_exports_with_more_than_g_are_not_averaged(preset, role):
    """Averaging G alone would pair it with the newest of the other exported networks (InfoGAN's Q, an encoder, the
    second translator): refused by name, in training before it starts, and by `ganforge average`."""
    from ganforge.errors import CheckpointError
    from ganforge.train.averaging import average_export
    with pytest.raises(ConfigError, match=rf"train.average_ckpts.*exports {role} beside G"):
        ganforge.resolve(preset, ["train.average_ckpts=2"])
    ganforge.resolve(preset, ["train.average_ckpts=1"])  # 1: no averaging, allowed
    export = {"G": {}, "nets": {role: {}}, "algorithm": preset.split("-")[-1]}
    with pytest.raises(CheckpointError, match=rf"carries {role} beside G"):
        average_export(export, [{"G_ema": {}, "step": 1}, {"G_ema": {}, "step": 2}])
