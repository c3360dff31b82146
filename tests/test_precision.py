"""train.precision (bf16, fp16 with gradient scalers), channels_last, torch.compile and device choice."""
import pytest
import torch

import ganforge
from ganforge import checkpoint
from ganforge.errors import ConfigError
from ganforge.train.rundir import RunDir, read_jsonl
from conftest import run_cli, states_equal

SMALL = ["data.batch_size=16", "model.width=8", "train.log_every=5", "train.ckpt_every=10",
         "train.sample_every=1000", "train.progress=false"]


def losses(run_dir):
    return [(r["d_loss"], r["g_loss"]) for r in read_jsonl(run_dir / "log.jsonl")]


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_reduced_precision_trains_and_resumes_exactly(tmp_path, precision):
    args = SMALL + [f"train.precision={precision}"]
    full = ganforge.train("digits-gan", args + ["train.steps=20"], run_dir=tmp_path / "full")
    assert all(torch.isfinite(torch.tensor(x)).all() for x in losses(tmp_path / "full"))
    ganforge.train("digits-gan", args + ["train.steps=10"], run_dir=tmp_path / "cut")
    ganforge.train("digits-gan", args + ["train.steps=20"], run_dir=tmp_path / "cut", resume="auto")
    a = checkpoint.load(RunDir(tmp_path / "full").checkpoints()[-1])
    b = checkpoint.load(RunDir(tmp_path / "cut").checkpoints()[-1])
    keys = ["G", "D", "G_ema", "opt_G", "opt_D"] + (["scaler_G", "scaler_D"] if precision == "fp16" else [])
    assert states_equal({k: a[k] for k in keys}, {k: b[k] for k in keys})
    if precision == "fp16":
        assert a["scaler_G"]["scale"] > 0  # the gradient scalers' state is saved and restored
    else:
        assert "scaler_G" not in a
    assert full.step == 20


def test_fp16_with_gradient_penalty_is_refused():
    with pytest.raises(ConfigError, match="fp16 with a gradient penalty"):
        ganforge.resolve("mnist-wgan-gp", ["train.precision=fp16"])


def test_channels_last_matches_contiguous(tmp_path):
    a = ganforge.train("digits-gan", SMALL + ["train.steps=5"], run_dir=tmp_path / "a")
    b = ganforge.train("digits-gan", SMALL + ["train.steps=5", "train.channels_last=true"], run_dir=tmp_path / "b")
    for k, v in a.state.G.state_dict().items():
        assert torch.allclose(v, b.state.G.state_dict()[k], atol=1e-4), k


def test_absent_device_is_named(cli_env, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    r = run_cli(["train", "ring8-r1", "--device", "cuda"], cli_env, tmp_path)
    assert r.returncode == 2 and "no CUDA device is available" in r.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_compiled_training_matches_eager(tmp_path):
    """torch.compile of G and D (about a minute of compilation on 2 CPU cores)."""
    a = ganforge.train("digits-gan", SMALL + ["train.steps=10"], run_dir=tmp_path / "a")
    b = ganforge.train("digits-gan", SMALL + ["train.steps=10", "train.compile=true"], run_dir=tmp_path / "b")
    for k, v in a.state.G.state_dict().items():
        assert torch.allclose(v, b.state.G.state_dict()[k], atol=1e-3), k


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_gpu_training_modes(tmp_path, precision):
    run = ganforge.train("mnist-dcgan", ["train.steps=50", "train.progress=false", f"train.precision={precision}",
                                         "train.channels_last=true"], run_dir=tmp_path / "g")
    assert run.state.device.type == "cuda" and run.step == 50
    assert all(torch.isfinite(torch.tensor(x)).all() for x in losses(tmp_path / "g"))
