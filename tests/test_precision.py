"""train.precision (bf16, fp16 with gradient scalers), channels_last, torch.compile and device choice."""
import pytest
import torch

import ganforge
from ganforge import checkpoint
from ganforge.errors import ConfigError
from ganforge.train.rundir import RunDir, read_jsonl
from ganforge.registries import NETWORKS
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


def test_auto_precision_is_bf16_only_where_native(tmp_path, monkeypatch):
    """train.precision=auto: bf16 on a CPU with AVX-512 BF16 or AMX (as measured for the default job), fp32
    elsewhere; the run then trains exactly as the resolved precision does."""
    from ganforge.train.state import native_bf16, resolve_precision
    cpu = torch.device("cpu")
    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    assert native_bf16(cpu) == native
    assert resolve_precision("auto", cpu) == ("bf16" if native else "fp32")
    assert [resolve_precision(p, cpu) for p in ("fp32", "bf16", "fp16")] == ["fp32", "bf16", "fp16"]
    assert resolve_precision("auto", torch.device("mps")) == "fp32"
    args = SMALL + ["train.steps=3", "train.ckpt_every=3"]
    for flag in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        monkeypatch.setattr(torch.cpu, flag, lambda: False)
    assert resolve_precision("auto", cpu) == "fp32"
    auto = ganforge.train("digits-gan", args + ["train.precision=auto"], run_dir=tmp_path / "auto")
    ganforge.train("digits-gan", args + ["train.precision=fp32"], run_dir=tmp_path / "fp32")
    assert auto.config.train.precision == "auto" and auto.state.precision == "fp32"
    a, b = (checkpoint.load(RunDir(tmp_path / r).checkpoints()[-1]) for r in ("auto", "fp32"))
    assert states_equal({k: a[k] for k in ("G", "D")}, {k: b[k] for k in ("G", "D")})
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert resolve_precision("auto", cpu) == "bf16"
    auto = ganforge.train("digits-gan", args + ["train.precision=auto"], run_dir=tmp_path / "auto16")
    assert auto.state.precision == "bf16"
    bf16 = ganforge.train("digits-gan", args + ["train.precision=bf16"], run_dir=tmp_path / "bf16")
    a, b = (checkpoint.load(RunDir(tmp_path / r).checkpoints()[-1]) for r in ("auto16", "bf16"))
    assert states_equal({k: a[k] for k in ("G", "D")}, {k: b[k] for k in ("G", "D")})
    assert not states_equal(a["G"], checkpoint.load(RunDir(tmp_path / "fp32").checkpoints()[-1])["G"])  # bf16 ran
    with pytest.raises(ConfigError, match="train.precision"):
        ganforge.resolve("digits-gan", ["train.precision=bf32"])


def test_fp16_with_gradient_penalty_is_refused():
    with pytest.raises(ConfigError, match="fp16 with a gradient penalty"):
        ganforge.resolve("mnist-wgan-gp", ["train.precision=fp16"])


def test_channels_last_matches_contiguous(tmp_path):
    a = ganforge.train("digits-gan", SMALL + ["train.steps=5", "train.channels_last=false"], run_dir=tmp_path / "a")
    b = ganforge.train("digits-gan", SMALL + ["train.steps=5", "train.channels_last=true"], run_dir=tmp_path / "b")
    assert b.state.D.features[2].weight.is_contiguous(memory_format=torch.channels_last)
    assert not a.state.D.features[2].weight.is_contiguous(memory_format=torch.channels_last)
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


def count_generator_calls(st):
    calls = []
    st.G.register_forward_hook(lambda *_: calls.append(1))
    return calls


@pytest.mark.parametrize("overrides, per_step", [([], 1), (["train.reuse_fake=false"], 2),
                                                  (["loss.n_critic=3"], 4)])
def test_generator_forwards_per_step(overrides, per_step):
    """With n_critic=1 the generator update reuses the discriminator step's fake batch (one G forward);
    otherwise, or with train.reuse_fake=false, it draws fresh noise (one more)."""
    from ganforge.train.loop import train_step
    from ganforge.train.state import build_state
    st = build_state(ganforge.resolve("digits-gan", SMALL + overrides))
    calls = count_generator_calls(st)
    for _ in range(3):
        train_step(st)
    assert len(calls) == 3 * per_step


def test_reused_fake_batch_gets_generator_gradients():
    """The reused batch must carry G's graph into the generator update: every G parameter gets a gradient
    and moves, and D is unchanged by the generator update."""
    from ganforge.train.loop import train_step
    from ganforge.train.state import build_state
    st = build_state(ganforge.resolve("digits-gan", SMALL + ["train.ema=0"]))
    train_step(st)
    before_G = {k: v.clone() for k, v in st.G.state_dict().items()}
    st.opt_D.step = lambda *a, **k: None  # freeze D to see what the generator update alone does
    before_D = {k: v.clone() for k, v in st.D.named_parameters()}
    train_step(st)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in st.G.parameters())
    assert all(not torch.equal(before_G[k], v) for k, v in st.G.named_parameters())
    assert all(torch.equal(before_D[k], v) for k, v in st.D.named_parameters())


def test_custom_modules_keep_their_layout():
    from ganforge.train.state import build_state
    from ganforge.data.source import load_source
    cfg = ganforge.resolve("digits-gan", SMALL)
    source = load_source(cfg.data.name, cfg.data)
    G, D = NETWORKS.get("dcgan")(cfg.model, source.shape, 0, "tanh")
    st = build_state(cfg, source, G=G, D=D)
    assert not st.channels_last
    assert all(p.is_contiguous() for p in list(st.G.parameters()) + list(st.D.parameters()))


def test_fused_adam_survives_a_checkpoint_from_an_unfused_optimiser(tmp_path):
    """A checkpoint whose optimiser groups say fused=None (another version or device) still resumes with
    fused kernels, its state tensors in the parameters' layout, and the same hyperparameters."""
    from ganforge.train.state import build_state
    cfg = ganforge.resolve("digits-gan", SMALL)
    st = build_state(cfg)
    assert st.opt_G.param_groups[0]["fused"] is True
    from ganforge.train.loop import train_step
    train_step(st)
    tree = st.state_dict()
    for key in ("opt_G", "opt_D"):
        for g in tree[key]["param_groups"]:
            g["fused"] = None
        for v in tree[key]["state"].values():
            for k, t in v.items():
                if t.dim() == 4:
                    v[k] = t.contiguous()
    other = build_state(cfg)
    other.load_state_dict(tree)
    assert other.opt_G.param_groups[0]["fused"] is True and other.opt_G.param_groups[0]["lr"] == cfg.optim.lr_g
    for p in other.D.parameters():
        assert other.opt_D.state[p]["exp_avg"].stride() == p.stride()


def test_gradient_check_fast_path_tolerates_an_overflowing_sum():
    """Huge but finite gradients overflow the one-norm fast path; the per-tensor fallback clears them."""
    from ganforge.train.loop import NonFiniteStep, check_step
    from ganforge.train.state import build_state
    st = build_state(ganforge.resolve("digits-gan", SMALL))
    for p in st.D.parameters():
        p.grad = torch.full_like(p, 3e38)
    check_step(torch.tensor(1.0), st.D, "discriminator", st)  # finite: no error
    next(st.D.parameters()).grad.view(-1)[0] = float("nan")
    with pytest.raises(NonFiniteStep, match="gradient of the discriminator"):
        check_step(torch.tensor(1.0), st.D, "discriminator", st)
