"""Time and peak memory of the default `ganforge train` job (config.DEFAULT_PRESET: mnist-cgan-w64-demo since 2026-12-05), data loading included.

Usage: python benchmarks/default_job.py [PRESET] [--set k=v ...]
Runs the CLI in a fresh temporary directory and prints wall time, peak resident memory of the
training process and the last log line. Issue 18's goal: at most 6 minutes and under 2 GiB on
2 CPU cores (issue 2's: 10 minutes).
"""
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    args = sys.argv[1:] or []
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "ganforge", "train", *args, "--run-dir", f"{tmp}/run",
                               "--no-progress"], capture_output=True, text=True)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            sys.exit(f"training failed ({proc.returncode}):\n{proc.stderr}")
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        last = json.loads(Path(tmp, "run", "log.jsonl").read_text().splitlines()[-1])
    print(f"job: ganforge train {' '.join(args) or '(default preset)'}")
    print(f"wall time:        {wall:7.1f} s   (goal <= 360 s)")
    print(f"peak RSS:         {peak_mib:7.0f} MiB (goal < 2048 MiB)")
    print(f"last log line:    step {last['step']}, d_loss {last['d_loss']:.3f}, g_loss {last['g_loss']:.3f}, "
          f"{last['samples_per_s']:.0f} samples/s")


if __name__ == "__main__":
    main()
