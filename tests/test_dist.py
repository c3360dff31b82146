"""torchrun with 2 CPU processes (gloo): identical parameters on every rank, exact resume, and the same
result as one process with the same global batch (a network without batch norm)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import ganforge
from ganforge import checkpoint
from ganforge.errors import ConfigError
from ganforge.evaluate import reference_set
from ganforge.metrics.features import get_extractor
from ganforge.train.rundir import read_jsonl

WORKER = Path(__file__).with_name("dist_worker.py")
SETS = ["model.g_hidden=[32,32]", "model.d_hidden=[32,32]", "data.batch_size=64", "train.log_every=10",
        "train.ckpt_every=10", "train.sample_every=1000", "train.progress=false", "train.eval_every=20",
        "train.eval_n=500", "train.eval_metrics=fid,pr"]


def torchrun(tmp_path, name, resume, *overrides, nproc=2, env_extra=None, check=True):
    out = tmp_path / f"out-{name}"
    out.mkdir(exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", **(env_extra or {}))
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1] / "src") + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "--standalone",
           str(WORKER), str(out), str(tmp_path / name), resume, *SETS, *overrides]
    r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    if not check:
        return None, r
    assert r.returncode == 0, r.stderr[-3000:]
    return [checkpoint.load(out / f"rank{i}.safetensors") for i in range(nproc)], r


def test_two_processes_match_one_and_resume_exactly(tmp_path):
    (rank0, rank1), r = torchrun(tmp_path, "ddp", "-", "train.steps=40")
    for part in ("G", "D"):
        for k in rank0[part]:
            assert torch.equal(rank0[part][k], rank1[part][k]), k  # every rank holds the same weights
    assert not (tmp_path / "out-ddp" / "rank1").exists()
    run_files = {p.name for p in (tmp_path / "ddp").iterdir()}
    assert {"checkpoints", "log.jsonl", "generator.safetensors"} <= run_files  # written by rank 0 only

    # the same global batch in one process: equal up to float summation order
    single = ganforge.train("ring8-r1", SETS + ["train.steps=40"], run_dir=tmp_path / "single")
    diffs = [float((single.state.G.state_dict()[k] - rank0["G"][k]).abs().max()) for k in rank0["G"]]
    print("max |G(1 process) - G(2 processes)|:", max(diffs))
    assert max(diffs) < 1e-4  # measured 2.5e-7 after 40 steps

    # evaluation: each rank extracted the features of half the generated samples at both evaluations and
    # half the reference samples at the first (cached by rank 0 then), and the metrics match the single
    # process's
    assert rank0["feature_rows"] == rank1["feature_rows"] == [250, 250, 250]  # fake, reference, fake
    cached, = (tmp_path / "cache" / "reference").glob("identity-*.npz")
    with np.load(cached) as f:  # gathered in row order: the features one process extracts
        reference = reference_set("ring8", "", "points", 500, single.state.cfg)
        assert np.array_equal(f["features"], get_extractor("identity")(reference.data).astype(np.float32))
    two, one = (read_jsonl(p / "metrics.jsonl") for p in (tmp_path / "ddp", tmp_path / "single"))
    assert [r["step"] for r in two] == [r["step"] for r in one] == [20, 40]
    for a, b in zip(two, one):
        for k in ("fid", "precision", "recall"):
            assert a[k] == pytest.approx(b[k], rel=1e-3, abs=1e-4), (k, a[k], b[k])

    # interrupted at step 20 and resumed under torchrun: bit-identical to the uninterrupted 2-process run
    torchrun(tmp_path, "cut", "-", "train.steps=20")
    (resumed0, _), _ = torchrun(tmp_path, "cut", "auto", "train.steps=40")
    for part in ("G", "D"):
        for k in rank0[part]:
            assert torch.equal(resumed0[part][k], rank0[part][k]), k


def test_global_batch_must_divide_over_processes(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(ConfigError, match="data.batch_size=64 is the global batch .* multiple of 3"):
        ganforge.train("ring8-r1", SETS + ["train.steps=5"], run_dir=None)


@pytest.mark.parametrize("sets,seen", [(["model.d_mbstd=16"], 24), (["model.d_pack=2", "model.d_mbstd=8"], 16)])
def test_each_processes_batch_must_divide_into_packs_and_groups(monkeypatch, sets, seen):
    """data.batch_size 48 passes the global checks (48 = 3 x 16, = 2 x 3 x 8); over 2 processes each D sees 24."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(ConfigError, match="over 2 processes gives each process's D 24 samples.*model.d_mbstd"):
        ganforge.train("digits-gan", ["data.batch_size=48", "train.steps=5", "train.progress=false", *sets],
                       run_dir=None)


@pytest.mark.parametrize("check", ["step", "device"])
def test_nan_on_one_rank_stops_every_rank(tmp_path, check):
    """A NaN on rank 1 only (its discriminator's 44th call: step 11 with the R1 penalty's extra call)
    reaches every rank through DDP's gradient average, since the loss is checked after the backward:
    both ranks stop at the same step, nothing hangs, and the last good checkpoint is untouched."""
    _, r = torchrun(tmp_path, "nan", "-", "train.steps=40", f"train.finite_check={check}", env_extra={"NAN_AT": "1:44"},
                    check=False)
    assert r.returncode != 0
    steps = {rank: re.findall(rf"\[rank{rank}\]: ganforge.errors.TrainingError: non-finite .*? at step (\d+)", r.stderr)
             for rank in (0, 1)}
    assert steps[0] == steps[1] == ["11"], (steps, r.stderr[-3000:])
    ckpts = sorted(p.name for p in (tmp_path / "nan" / "checkpoints").glob("*.safetensors"))
    assert ckpts == ["step_00000010.safetensors"]


def test_began_and_infogan_under_torchrun(tmp_path):
    """BEGAN: k_t is updated from losses averaged over the ranks, so every rank keeps the same k_t and a
    2-process run matches one process with the same global batch (no batch norm in BEGAN's nets).
    InfoGAN: every rank holds the same weights, and the codes metric is evaluated during training."""
    began = ["model.algorithm=began", "model.arch=began", "model.width=8", "model.z_dim=8", "train.eval_every=0",
             "began.k0=0.05", "train.steps=12"]
    (r0, r1), _ = torchrun(tmp_path, "began", "-", *began, env_extra={"PRESET": "digits-gan"})
    assert torch.equal(r0["algorithm"]["k"], r1["algorithm"]["k"]) and float(r0["algorithm"]["k"]) != 0.05
    for k in r0["G"]:
        assert torch.equal(r0["G"][k], r1["G"][k]), k
    single = ganforge.train("digits-gan", SETS + began, run_dir=tmp_path / "single")
    assert float(single.state.algorithm.k) == pytest.approx(float(r0["algorithm"]["k"]), abs=1e-6)
    assert max(float((single.state.G.state_dict()[k] - r0["G"][k]).abs().max()) for k in r0["G"]) < 1e-4

    info = ["model.algorithm=infogan", "infogan.categorical=8", "infogan.continuous=1", "train.steps=20",
            "train.eval_metrics=codes", "train.eval_n=200"]
    (r0, r1), _ = torchrun(tmp_path, "info", "-", *info)
    for part in ("G", "D"):
        for k in r0[part]:  # batch-norm statistics (Q's head) are per shard unless train.sync_batchnorm
            if "running_" not in k and "num_batches" not in k:
                assert torch.equal(r0[part][k], r1[part][k]), (part, k)
    (rec,) = read_jsonl(tmp_path / "info" / "metrics.jsonl")
    assert 0 <= rec["q_acc"] <= 1 and "gen_acc" in rec
