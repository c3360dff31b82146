"""The throughput benchmark's floor loop does exactly ganforge's arithmetic, and the script runs."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ganforge.config import resolve
from ganforge.train.loop import train_step
from ganforge.train.state import build_state

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.throughput import build, floor_batch, floor_step  # noqa: E402
from conftest import needs_mnist  # noqa: E402


@pytest.mark.parametrize("preset,sets", [("ring8-gan", ["data.batch_size=128"]),
                                         ("mnist-dcgan", ["data.batch_size=16"]),
                                         ("mnist-dcgan", ["data.batch_size=16", "train.precision=bf16"])])
def test_floor_step_is_ganforge_arithmetic(preset, sets):
    # the floor is ganforge's step without its data pipeline, checks and EMA: given the batch ganforge's
    # sampler draws and the same noise, both leave identical weights (this checks the results, not the cost)
    cfg = resolve(preset, sets + ["train.progress=false"])
    a, b = build_state(cfg), build_state(cfg)
    real = floor_batch(b)
    before = {k: v.clone() for k, v in a.D.state_dict().items()}
    torch.manual_seed(1)
    train_step(a)
    torch.manual_seed(1)
    floor_step(b, real)
    for part in ("G", "D"):
        sa, sb = getattr(a, part).state_dict(), getattr(b, part).state_dict()
        for k in sa:
            assert torch.equal(sa[k], sb[k]), (part, k)
    assert any(not torch.equal(before[k], a.D.state_dict()[k]) for k in before)  # a step was taken


def test_throughput_script_prints_its_table():
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "throughput.py"), "--only", "MLP, ring8, batch 512",
                        "--steps", "2", "--reps", "1"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    row = next(line for line in r.stdout.splitlines() if line.startswith("| MLP, ring8, batch 512 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert len(cells) == 7
    assert float(cells[1].replace(",", "")) > 0 and float(cells[2].replace(",", "")) > 0
    assert re.fullmatch(r"[0-9.]+x \([0-9.]+-[0-9.]+\)", cells[4]) and float(cells[5]) > 0  # the floor's columns


@pytest.mark.parametrize("change", ["train.reuse_fake=false", "loss.n_critic=2"])
def test_floor_refuses_what_it_does_not_compute(change):
    with pytest.raises(SystemExit, match="floor loop covers"):
        build("floor", "MLP, ring8, batch 512", "", [change])


def test_quality_script_measures_and_judges_each_seed(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "quality.py"), "ring8-gan", "--seeds", "0,1",
                        "--set", "train.steps=30", "--set", "model.g_hidden=[16]", "--set", "model.d_hidden=[16]",
                        "--root", str(tmp_path)], capture_output=True, text=True, timeout=300,
                       env={**__import__("os").environ, "PYTHONPATH": str(ROOT / "src")})
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [__import__("json").loads(line.split(" ", 1)[1]) for line in r.stdout.splitlines()
            if line.startswith("ring8-gan {")]
    assert [row["seed"] for row in rows] == [0, 1]
    assert all(0 <= row["modes"] <= 8 and 0 <= row["hq_pct"] <= 100 and row["train_s"] > 0 for row in rows)
    assert "ring8-gan: target 8 modes / >= 98.0% HQ on every seed: MISSED" in r.stdout  # 30 steps cannot


def test_width_speed_script_counts_macs():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from width_speed import macs_per_sample
    conv = torch.nn.Conv2d(2, 3, 3, padding=1)
    assert macs_per_sample(conv, torch.zeros(2, 2, 5, 5)) == 5 * 5 * 3 * 2 * 9
    tconv = torch.nn.ConvTranspose2d(2, 3, 4, 2, 1)
    assert macs_per_sample(tconv, torch.zeros(2, 2, 5, 5)) == 5 * 5 * 2 * 3 * 16
    assert macs_per_sample(torch.nn.Linear(4, 6), torch.zeros(2, 4)) == 24


def _width_speed_rows(flag: str, values: str) -> tuple[str, list[list[str]]]:
    """benchmarks/width_speed.py on mnist-cgan at width 8, one fp32 contiguous step, with `flag values` added:
    its output and the cells of its table's rows."""
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "width_speed.py"), "--preset", "mnist-cgan",
                        "--widths", "8", flag, values, "--precisions", "fp32", "--layouts", "contiguous",
                        "--steps", "1", "--rounds", "1"], capture_output=True, text=True, timeout=300,
                       env={**__import__("os").environ, "PYTHONPATH": str(ROOT / "src")})
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout, [[c.strip() for c in line.split("|")[1:-1]] for line in r.stdout.splitlines()
                      if line.startswith("| 8 ")]


@needs_mnist
def test_width_speed_script_times_a_wider_generator_alone():
    """--g-widths adds rows with model.g_width set: the same D, more multiply-accumulates in G."""
    _, rows = _width_speed_rows("--g-widths", "0,12")
    assert [(row[0], row[1]) for row in rows] == [("8", "8"), ("8", "12")]
    assert float(rows[1][7]) > float(rows[0][7]) > 0  # GMAC/step: the wider G does more arithmetic


@needs_mnist
def test_width_speed_script_times_both_label_maps():
    """--label-maps adds a column and one row per value; both rows count the same arithmetic (the built maps')."""
    out, rows = _width_speed_rows("--label-maps", "built,implicit")
    assert "| label maps |" in out
    assert [row[5] for row in rows] == ["built", "implicit"]
    assert rows[0][8] == rows[1][8] and float(rows[0][8]) > 0  # GMAC/step


@needs_mnist
def test_width_speed_script_times_minibatch_std_rows():
    """--mbstd adds a column and one row per value; the linear layer reading the extra channel adds a little
    arithmetic (49 more inputs: below the table's rounding at width 8)."""
    out, rows = _width_speed_rows("--mbstd", "0,4")
    assert "| mbstd |" in out
    assert [row[5] for row in rows] == ["0", "4"]
    assert float(rows[1][8]) >= float(rows[0][8]) > 0 and float(rows[1][6]) > 0  # GMAC/step, ms/step


@needs_mnist
def test_width_speed_script_times_g_upsample_rows():
    """--g-upsample adds a column and one row per value; nearest upsampling + a 3x3 conv does more arithmetic
    than the 4x4 stride-2 transposed conv it replaces (9 taps per output against 4)."""
    out, rows = _width_speed_rows("--g-upsample", "transpose,nearest")
    assert "| G upsampling |" in out
    assert [row[5] for row in rows] == ["transpose", "nearest"]
    assert float(rows[1][8]) > float(rows[0][8]) > 0 and float(rows[1][6]) > 0  # GMAC/step, ms/step


@needs_mnist
def test_stacked_real_kl_counts_modes_and_scores_real_digits_near_the_floor():
    """stacked_modes (what the script counts with): every mode equally often is KL 0, one mode is log 1000;
    real test digits read by
    the shipped classifier score about the sampling floor of 26,000 triples (0.019), well under the 0.1 of
    our best generator: the stacked-MNIST goal of 0.03 is measured against this."""
    import math

    import numpy as np

    from ganforge.metrics.modes import stacked_modes

    every = stacked_modes(np.array([[m // 100, m // 10 % 10, m % 10] for m in range(1000)] * 3))
    assert (every["modes"], every["kl"]) == (1000, 0.0)
    one = stacked_modes(np.zeros((50, 3), dtype=np.int64))
    assert one["modes"] == 1 and math.isclose(one["kl"], math.log(1000))

    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "stacked_real_kl.py"), "--draws", "1",
                        "--split", "test"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    real = re.search(r"real draw 0: 26000 triples, (\d+) of 1000 modes, KL ([\d.]+)", r.stdout)
    floor = re.search(r"ideal uniform labels: 26000 triples, 1000 of 1000 modes, KL ([\d.]+)", r.stdout)
    assert real and floor, r.stdout
    assert int(real.group(1)) == 1000
    assert 0.015 < float(floor.group(1)) < 0.024
    assert float(floor.group(1)) < float(real.group(2)) < 0.035  # measured 0.0248-0.0258 (3 draws)
