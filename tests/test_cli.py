"""The CLI through a subprocess: listing, dry runs, train/generate/evaluate, errors, Ctrl-C and resume."""
import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from ganforge import checkpoint
from ganforge.registries import DATASETS, NETWORKS, OBJECTIVES, PENALTIES
from ganforge.train.rundir import RunDir
from conftest import run_cli, states_equal

SMALL = ["--set", "model.g_hidden=[32,32]", "--set", "model.d_hidden=[32,32]", "--set", "data.batch_size=64",
         "--set", "train.log_every=5", "--set", "train.sample_every=50", "--set", "train.ckpt_every=50"]


def test_list_shows_every_registry_entry(cli_env, tmp_path):
    r = run_cli(["list"], cli_env, tmp_path)
    assert r.returncode == 0
    for name in NETWORKS.names() + OBJECTIVES.names() + PENALTIES.names() + DATASETS.names() + ["ring8-wgan-gp"]:
        assert f"  {name} " in r.stdout
    keys = run_cli(["list", "keys"], cli_env, tmp_path)
    assert "train.ckpt_every" in keys.stdout and "Save a full training checkpoint" in keys.stdout


def test_dry_run_prints_resolved_config(cli_env, tmp_path):
    r = run_cli(["train", "ring8-wgan-gp", "--set", "train.steps=77", "--dry-run"], cli_env, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "steps: 77" in r.stdout and "name: wgan-gp" in r.stdout and "runs/ring8-wgan-gp" in r.stdout
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("args,message", [
    (["train", "ring8-gam"], "unknown preset 'ring8-gam'. Did you mean 'ring8-gan'?"),
    (["train", "--set", "train.stepz=5"], "Did you mean 'train.steps'?"),
    (["train", "--set", "data.batch_size=0"], "data.batch_size"),
    (["train", "--set", "optim.lr_d=-1"], "optim.lr_d"),
    (["train", "--set", "loss.name=wgangp"], "Did you mean 'wgan-gp'?"),
    (["generate", "nowhere", "-n", "5", "--out", "x.png"], "'nowhere' does not exist"),
    (["generate", ".", "-n", "5", "--out", "x.png"], "not a ganforge run"),
    (["generate", ".", "-n", "5", "--out", "x.jpg"], "must end in .png or .npz"),
    (["evaluate", ".", "--metrics", "fidd"], "unknown metric 'fidd'"),
    (["train", "--set", "train.eval_metrics=fid,kdi"], "Did you mean 'kid'?"),
    (["train", "--set", "train.eval_every=10", "--set", "train.eval_best=recall"], "must be a value of"),
    (["train", "--set", "train.eval_features=incepton"], "Did you mean 'inception'?"),
    (["evaluate", "--real", "mnist:test", "--fake", "x.npz", "--out", "no/such/dir/r.json"], "does not exist"),
])
def test_bad_input_gets_one_clear_error(cli_env, tmp_path, args, message):
    r = run_cli(args, cli_env, tmp_path)
    assert r.returncode == 2
    assert message in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "runs").exists()  # nothing was started


def test_evaluate_output_is_strict_json():
    from ganforge.cli import finite_or_null

    out = json.dumps(finite_or_null([{"reverse_kl": float("inf"), "x": [1.0, float("nan")]}]), allow_nan=False)
    assert json.loads(out) == [{"reverse_kl": None, "x": [1.0, None]}]


def test_dry_run_run_dir_follows_name_override(cli_env, tmp_path):
    r = run_cli(["train", "ring8-gan", "--set", "name=exp7", "--dry-run"], cli_env, tmp_path)
    assert r.returncode == 0 and "# run directory: runs/exp7" in r.stdout


def test_corrupt_checkpoint_source_is_named(cli_env, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x80\x04garbage-pickle")
    r = run_cli(["generate", str(bad), "-n", "3", "--out", "o.npz"], cli_env, tmp_path)
    assert r.returncode == 2 and "bad.safetensors" in r.stderr and "never unpickles" in r.stderr


def test_train_generate_evaluate(cli_env, tmp_path):
    r = run_cli(["train", "ring8-r1", "--set", "train.steps=20", "--no-progress", *SMALL], cli_env, tmp_path)
    assert r.returncode == 0, r.stderr
    run = tmp_path / "runs" / "ring8-r1"
    assert {p.name for p in run.iterdir()} >= {"config.yaml", "log.jsonl", "samples", "checkpoints",
                                               "generator.safetensors"}
    lines = [json.loads(s) for s in (run / "log.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [5, 10, 15, 20]
    assert set(lines[0]) >= {"step", "d_loss", "g_loss", "D(x)", "D(G(z))", "samples_per_s"}
    assert (run / "samples" / "step_00000020.png").is_file()

    again = run_cli(["train", "ring8-r1", "--set", "train.steps=20", *SMALL], cli_env, tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr and "--resume auto" in again.stderr

    for source in (run, run / "generator.safetensors", RunDir(run).checkpoints()[-1]):
        r = run_cli(["generate", str(source), "-n", "300", "--seed", "1", "--out", "g.npz"], cli_env, tmp_path)
        assert r.returncode == 0, r.stderr
        x = np.load(tmp_path / "g.npz")["x"]
        assert x.shape == (300, 2) and x.dtype == np.float32 and np.isfinite(x).all()
    r = run_cli(["generate", str(run), "-n", "500", "--out", "g.png"], cli_env, tmp_path)
    assert r.returncode == 0 and Image.open(tmp_path / "g.png").size == (512, 512)

    (run / "losses.png").unlink()
    r = run_cli(["report", str(run)], cli_env, tmp_path)
    assert r.returncode == 0 and (run / "losses.png").is_file() and (run / "samples.gif").is_file()
    assert Image.open(run / "samples.gif").n_frames == 1  # one sample picture (step 20)

    r = run_cli(["evaluate", str(run), "--metrics", "modes", "--n", "2500", "--out", "m.json"], cli_env, tmp_path)
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path / "m.json").read_text())[0]
    assert res["metric"] == "modes" and res["n_modes"] == 8 and res["protocol"]["n_generated"] == 2500


def test_ctrl_c_then_resume_is_bit_identical(cli_env, tmp_path):
    steps = ["--set", "train.steps=300", "--no-progress", *SMALL]
    full = run_cli(["train", "ring8-gan", "--run-dir", "full", *steps], cli_env, tmp_path)
    assert full.returncode == 0, full.stderr

    proc = subprocess.Popen([sys.executable, "-m", "ganforge", "train", "ring8-gan", "--run-dir", "cut", *steps],
                            env=cli_env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = tmp_path / "cut" / "log.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (log.is_file() and log.read_text().count("\n") >= 3):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    sent = time.time()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert time.time() - sent < 10
    assert "SIGINT at step" in err and "--resume auto" in err
    interrupted_at = checkpoint.load(RunDir(tmp_path / "cut").checkpoints()[-1])["step"]
    assert 15 <= interrupted_at < 300

    r = run_cli(["train", "ring8-gan", "--run-dir", "cut", "--resume", "auto", *steps], cli_env, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "resumed from" in r.stderr and f"at step {interrupted_at} of 300" in r.stderr
    a = RunDir(tmp_path / "full").newest_valid()[0]
    b = RunDir(tmp_path / "cut").newest_valid()[0]
    keys = ("G", "D", "G_ema", "opt_G", "opt_D", "step", "sampler")
    assert states_equal({k: a[k] for k in keys}, {k: b[k] for k in keys})
