"""Reliability: kills, signals, interrupted saves, full disks, corrupt and hostile files, NaNs, bad
configs and concurrent runs (issue 5). The same trials run many more times in benchmarks/reliability.py."""
import errno
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import ganforge
from ganforge import checkpoint
from ganforge.errors import CheckpointError
from ganforge.train.rundir import RunDir, append_line
import reliability  # tests/reliability.py, the fault-injection harness
from conftest import run_cli, states_equal

TOY = ["model.g_hidden=[32,32]", "model.d_hidden=[32,32]", "data.batch_size=64", "train.ckpt_every=10",
       "train.sample_every=1000"]


def test_kill_9_at_random_steps_then_resume_is_exact(tmp_path):
    res = reliability.kill_resume_trials(tmp_path, "ring8-r1", TOY + ["train.steps=150"], kills=3, seed=1)
    assert res.kills == 3
    assert res.identical  # G, D, EMA, both optimisers, sampler, RNG: bit for bit


def test_signals_exit_codes_latency_and_exact_resume(tmp_path):
    res = reliability.signal_trials(tmp_path, "ring8-r1", TOY + ["train.steps=300"], trials=5, seed=0)
    assert res.unexpected == []
    assert res.startup_trials == 2 and res.trials == 3 and res.clean_exits == 3
    assert res.worst_latency_s < 5.0
    assert res.identical


def test_kill_9_during_checkpoint_writes(tmp_path):
    res = reliability.kill_during_save_trials(tmp_path, trials=6, seed=0)
    assert res.newest_loadable == res.trials == 6
    assert res.partial_taken == 0  # a half-written file is never listed as a checkpoint
    run = RunDir(tmp_path / "saves")  # a kill mid-write leaves a temp file; the run's next start removes them
    (run.ckpt_dir / ".step_00000099.safetensors.tmp-12345").write_bytes(b"partial")
    run.start("name: x\n", 1)
    assert not [p for p in run.ckpt_dir.iterdir() if ".tmp-" in p.name]
    assert run.checkpoints()  # the complete checkpoints are still there


def test_truncations_and_bit_flips_all_detected(tmp_path):
    run = ganforge.train("ring8-r1", ["train.steps=10", "train.progress=false", *TOY], run_dir=tmp_path / "r")
    detected, n, unnamed = reliability.corruption_trials(RunDir(run.run_dir).checkpoints()[-1], tmp_path, 200)
    assert detected == n == 200 and unnamed == 0


def test_config_fuzz_every_mutation_rejected_cleanly():
    clean, n, failures = reliability.config_fuzz(1000, seed=0)
    assert failures == [] and clean == n == 1000


def test_full_disk_during_a_checkpoint_names_the_file_and_keeps_the_previous(tmp_path, monkeypatch):
    real_fsync, calls = os.fsync, {"n": 0}

    def fsync(fd):
        calls["n"] += 1
        if calls["n"] > 6:  # the first checkpoint and export (and config/log) are written, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(CheckpointError, match=r"could not write '.*step_00000020\.safetensors': No space left"):
        ganforge.train("ring8-r1", ["train.steps=40", "train.progress=false", *TOY], run_dir=tmp_path / "r")
    monkeypatch.setattr(os, "fsync", real_fsync)
    run = RunDir(tmp_path / "r")
    assert [p.name for p in run.checkpoints()] == ["step_00000010.safetensors"]
    assert checkpoint.load(run.checkpoints()[-1])["step"] == 10
    assert not [p for p in run.ckpt_dir.iterdir() if ".tmp-" in p.name]  # no temp file left behind
    resumed = ganforge.train("ring8-r1", ["train.steps=40", "train.progress=false", *TOY], run_dir=tmp_path / "r",
                             resume="auto")
    assert resumed.step == 40


def test_full_disk_on_a_log_append_names_the_file():
    with pytest.raises(CheckpointError, match=r"could not append to '/dev/full': No space left on device"):
        append_line(Path("/dev/full"), "{}")


def test_malicious_pickles_are_refused_everywhere(tmp_path, cli_env):
    res = reliability.pickle_trials(tmp_path, TOY)
    assert res.unexpected == [] and res.refused == res.attempts == 8
    victim = tmp_path / "victim"
    for args in (["generate", str(victim), "-n", "5", "--out", "g.npz"],
                 ["generate", str(tmp_path / "exported.pt"), "-n", "5", "--out", "g.npz"],
                 ["evaluate", str(victim), "--metrics", "modes"],
                 ["train", "ring8-r1", "--run-dir", str(victim), "--resume", "auto"]):
        r = run_cli(args, cli_env, tmp_path)
        assert r.returncode == 2 and "Traceback" not in r.stderr, (args, r.stderr)
    assert not res.executed and not (tmp_path / "SENTINEL").exists()  # no payload ever ran


def test_nan_gradient_caught_at_its_step(tmp_path):
    results = reliability.nonfinite_trials(tmp_path, [(17, "discriminator"), (17, "generator"), (3, "generator")])
    for injected, which, named, msg in results:
        assert named == injected, msg  # detection latency: 0 steps
        assert f"non-finite gradient of the {which}" in msg
    assert "step_00000010" in results[0][3] and "untouched" in results[0][3]
    assert "no checkpoint was written yet" in results[2][3]
    ckpts = RunDir(tmp_path / "nan0").checkpoints()
    assert [checkpoint.load(p)["step"] for p in ckpts] == [10]  # the good checkpoint is kept as it was


def test_device_side_check_skips_the_update_and_stops_at_the_next_write(tmp_path):
    """train.finite_check=device (the default on CUDA), run here on the CPU: no host sync per update; the
    fused optimiser skips non-finite updates and the run stops before its next write, naming the step."""
    results = reliability.nonfinite_trials(tmp_path, [(17, "discriminator"), (3, "generator")],
                                           ["train.finite_check=device"])
    for (injected, which, named, msg), seen in zip(results, (20, 10)):
        assert named == injected, msg
        assert f"non-finite {which} loss or gradient at step {injected}; seen at step {seen}" in msg
    assert "step_00000010" in results[0][3] and "untouched" in results[0][3]
    ckpts = RunDir(tmp_path / "nan0").checkpoints()
    assert [checkpoint.load(p)["step"] for p in ckpts] == [10]


def test_device_side_check_trains_exactly_like_the_step_check(tmp_path):
    small = ["data.batch_size=16", "model.width=8", "train.steps=12", "train.ckpt_every=6", "train.progress=false"]
    a = ganforge.train("digits-gan", small + ["train.finite_check=step"], run_dir=tmp_path / "a")
    b = ganforge.train("digits-gan", small + ["train.finite_check=device"], run_dir=tmp_path / "b")
    assert a.state.nonfinite is None and b.state.nonfinite is not None
    assert states_equal(a.state.state_dict()["G"], b.state.state_dict()["G"])
    assert states_equal(a.state.state_dict()["opt_D"], b.state.state_dict()["opt_D"])


def test_device_side_check_rolls_back(tmp_path, capsys):
    torch.manual_seed(0)
    run = ganforge.fit(reliability.user_generator(), reliability.FaultyD(reliability.FaultyD.call_for(25, "discriminator")),
                       data=torch.randn(256, 2), z_dim=4, steps=40, progress=False, run_dir=tmp_path / "r",
                       overrides=["train.ckpt_every=10", "train.on_nonfinite=rollback", "train.finite_check=device"])
    assert run.step == 40 and all(torch.isfinite(p).all() for p in run.state.G.parameters())
    err = capsys.readouterr().err
    assert "at step 25; seen at step 30" in err and "rolled back to" in err and "step_00000020" in err


def test_device_side_check_needs_adam_and_not_fp16():
    for bad in (["optim.name=rmsprop"], ["train.precision=fp16", "loss.penalty=none"]):
        with pytest.raises(ganforge.ConfigError, match="train.finite_check"):
            ganforge.resolve("mnist-dcgan", bad + ["train.finite_check=device"])


def test_nan_gradient_rollback_lowers_learning_rates_and_finishes(tmp_path, capsys):
    torch.manual_seed(0)
    run = ganforge.fit(reliability.user_generator(), reliability.FaultyD(reliability.FaultyD.call_for(25, "discriminator")),
                       data=torch.randn(256, 2), z_dim=4, steps=40, progress=False, run_dir=tmp_path / "r",
                       overrides=["train.ckpt_every=10", "train.on_nonfinite=rollback"])
    assert run.step == 40
    err = capsys.readouterr().err
    assert "non-finite gradient of the discriminator" in err and "at step 25" in err
    assert "rolled back to" in err and "step_00000020" in err and "G 0.0001, D 0.0001" in err
    final = checkpoint.load(RunDir(tmp_path / "r").checkpoints()[-1])
    assert final["opt_D"]["param_groups"][0]["lr"] == pytest.approx(1e-4)  # kept by later checkpoints


def test_second_process_on_a_run_directory_is_refused_and_dead_locks_do_not_block(tmp_path):
    run_dir = tmp_path / "r"
    holder = RunDir(run_dir)
    holder.lock()
    try:
        with pytest.raises(CheckpointError, match=rf"in use by another ganforge process \(pid {os.getpid()}\)"):
            ganforge.train("ring8-r1", ["train.steps=10", "train.progress=false", *TOY], run_dir=run_dir)
        assert not (run_dir / "config.yaml").exists()  # nothing was written
    finally:
        holder.close()
    refused, untouched, resumed = reliability.lock_trial(tmp_path, TOY)  # holder in another process, then kill -9
    assert refused and untouched and resumed


def test_full_disk_on_a_real_small_filesystem_or_injected(tmp_path):
    res = reliability.disk_full_trial(tmp_path, TOY)
    assert res["error"] is not None and res["names_path"] and res["names_cause"], res
    assert res["newest_loads"] and res["newest_step"] >= 10, res


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_start_up_signal_a_library_swallows_still_stops_the_run(tmp_path, monkeypatch, capsys, request, sig, code):
    """numpy's compiled random module, imported lazily by torch while the optimisers are built, was seen to
    swallow the KeyboardInterrupt of a Ctrl-C: the run then trained to its end. Reproduced in process: the
    signal arrives inside a call that catches everything; the run must still stop before its first step."""
    from ganforge import cli
    from ganforge.train import state

    real = state.make_optimizer

    def swallowing(*args, **kwargs):
        try:
            os.kill(os.getpid(), sig)
            time.sleep(1.0)  # the handler runs here and raises
        except BaseException:  # noqa: BLE001  (what the library did)
            pass
        return real(*args, **kwargs)

    monkeypatch.setattr(state, "make_optimizer", swallowing)
    # a suite started in the background (nohup, `&`) inherits SIGINT ignored, and the CLI keeps an ignored
    # Ctrl-C ignored: give this process Python's own Ctrl-C handling, as a terminal would
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, inherited))
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    rc = cli.main(["train", "ring8-r1", "--run-dir", str(tmp_path / "r"), "--no-progress",
                   "--set", "train.steps=20", "--set", "train.ckpt_every=5"])
    err = capsys.readouterr().err
    assert rc == code, err
    assert f"{signal.Signals(sig).name} during start-up, before step 1" in err
    assert not (tmp_path / "r" / "log.jsonl").exists() or not (tmp_path / "r" / "log.jsonl").read_text().strip()
    assert RunDir(tmp_path / "r").checkpoints() == []
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before  # handlers restored
    monkeypatch.setattr(state, "make_optimizer", real)
    rc = cli.main(["train", "ring8-r1", "--run-dir", str(tmp_path / "r"), "--no-progress", "--resume", "auto",
                   "--set", "train.steps=20", "--set", "train.ckpt_every=5"])
    assert rc == 0, capsys.readouterr().err  # nothing was left over: the next command trains normally
    assert checkpoint.load(RunDir(tmp_path / "r").checkpoints()[-1])["step"] == 20


def test_a_second_signal_while_the_stopped_run_closes_keeps_the_stop(tmp_path, monkeypatch, capsys, request):
    """In process (cli.main with argv, as a notebook or a wrapper calls it): a SIGINT stops the loop at a step
    boundary, and a second one arrives while the run closes (log, lock). The stop's message and code stand,
    the run directory is unlocked (the resume below would be refused otherwise), and the caller's handlers
    are back afterwards. Without the loop ignoring later signals until the command ends, the second one
    raised KeyboardInterrupt out of the closing: "interrupted outside the training loop: no checkpoint was
    written", which was false."""
    from ganforge import cli
    from ganforge.train import dist, loop

    real_step, real_shutdown = loop.train_step, dist.shutdown

    def step_then_signal(st):
        out = real_step(st)
        if st.step == 6:
            os.kill(os.getpid(), signal.SIGINT)  # the loop's handler notes it; the loop stops at this boundary
        return out

    def signalled_shutdown(d):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)  # a handler that raises would raise here
        return real_shutdown(d)

    monkeypatch.setattr(loop, "train_step", step_then_signal)
    monkeypatch.setattr(dist, "shutdown", signalled_shutdown)
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)  # as from a terminal (see above)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, inherited))
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    rc = cli.main(["train", "ring8-r1", "--run-dir", str(tmp_path / "r"), "--no-progress",
                   "--set", "train.steps=40", "--set", "train.ckpt_every=100"])
    err = capsys.readouterr().err
    assert rc == 130, err
    assert re.search(r"interrupted: SIGINT at step \d+; checkpoint .* written", err), err
    assert "outside the training loop" not in err and "Traceback" not in err, err
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before  # handlers restored
    monkeypatch.setattr(loop, "train_step", real_step)
    monkeypatch.setattr(dist, "shutdown", real_shutdown)
    rc = cli.main(["train", "ring8-r1", "--run-dir", str(tmp_path / "r"), "--no-progress", "--resume", "auto",
                   "--set", "train.steps=40", "--set", "train.ckpt_every=100"])
    assert rc == 0, capsys.readouterr().err
    assert checkpoint.load(RunDir(tmp_path / "r").checkpoints()[-1])["step"] == 40


def test_a_start_up_note_does_not_outlive_its_command(monkeypatch):
    """A signal noted during a command that never reached a training loop (swallowed, say, during an
    evaluation) is forgotten when the command ends: a later run in the same process trains normally."""
    from ganforge import cli, interrupts

    monkeypatch.setitem(cli.COMMANDS, "list", lambda a: (interrupts.note(signal.SIGINT), 0)[1])
    assert cli.main(["list", "presets"]) == 0
    assert interrupts.take() is None


def test_sigterm_before_training_leaves_a_resumable_directory(tmp_path, cli_env):
    """SIGTERM while the data and networks are being built: exit 143, and --resume auto starts cleanly."""
    proc = subprocess.Popen([sys.executable, "-m", "ganforge", "train", "mnist-dcgan", "--run-dir", "r",
                             "--set", "train.steps=300", "--no-progress"], cwd=tmp_path, env=cli_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(2.5)  # past the imports, inside data loading / network building (or early in training)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (143, -signal.SIGTERM), err
    assert "Traceback" not in err
    r = run_cli(["train", "mnist-dcgan", "--run-dir", "r", "--set", "train.steps=30", "--no-progress",
                 "--resume", "auto"], cli_env, tmp_path)
    assert r.returncode == 0, r.stderr
