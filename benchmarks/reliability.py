#!/usr/bin/env python
"""The README's reliability table: every promise of issue 5 tried many times, one figure each.

    python benchmarks/reliability.py [--quick]

Takes about 10 minutes on 2 CPU cores (--quick: a few trials each, about 3 minutes). Runs in a
temporary directory; the full-disk trial mounts a small tmpfs when run as root (else it injects
ENOSPC into os.fsync, and says so). The trials themselves are in tests/reliability.py, the
fault-injection harness that tests/test_reliability.py also runs.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the harness is a test helper, not shipped
import reliability  # noqa: E402  (tests/reliability.py: tests/ comes before this file's own directory)
from ganforge.config import Config
from ganforge.data.source import load_source
from ganforge.train.rundir import RunDir
from ganforge.train.run import train

TOY = ["model.g_hidden=[32,32]", "model.d_hidden=[32,32]", "data.batch_size=64", "train.ckpt_every=10",
       "train.sample_every=1000"]
IMAGE = ["model.width=8", "data.batch_size=16", "train.ckpt_every=10", "train.sample_every=1000"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    q = a.quick
    rows: list[tuple[str, str, str]] = []
    work = Path(tempfile.mkdtemp(prefix="ganforge-reliability-"))
    os.environ["GANFORGE_CACHE"] = str(work / "cache")

    def add(item: str, figure: str, note: str = "") -> None:
        rows.append((item, figure, note))
        print(f"  {item}: {figure} {note}", file=sys.stderr, flush=True)

    t0 = time.time()
    # 1. kill -9 anywhere
    for name, preset, extra, steps in (("toy (ring8-r1)", "ring8-r1", TOY, 300), ("image (digits-gan)", "digits-gan",
                                                                                IMAGE, 150)):
        chains, identical, kills = 1 if q else 2, 0, 0
        for c in range(chains):
            res = reliability.kill_resume_trials(work / f"kill-{preset}-{c}", preset, extra + [f"train.steps={steps}"],
                                                 kills=3 if q else 10, seed=c)
            identical += res.identical
            kills += res.kills
        add(f"1. kill -9 at random steps, --resume auto: {name}", f"{identical} of {chains} runs bit-identical",
            f"({kills} kills in all; no data-loader worker processes exist to kill)")
    # 2. signals
    res = reliability.signal_trials(work / "signals", "ring8-r1", TOY + ["train.steps=2000"], trials=4 if q else 12)
    add("2. SIGTERM/SIGINT while training", f"{res.clean_exits}/{res.trials} saved and exited 143/130",
        f"worst latency {res.worst_latency_s:.2f} s; {res.startup_trials} more during start-up; final state "
        f"bit-identical: {res.identical}; unexpected: {len(res.unexpected)}")
    # 3. kill -9 during saves
    res3 = reliability.kill_during_save_trials(work / "saves", trials=10 if q else 50)
    add("3. kill -9 during checkpoint writes", f"{res3.newest_loadable}/{res3.trials} newest checkpoint loads",
        f"partial files taken as valid: {res3.partial_taken}; {res3.temp_left} temp files left by the kills "
        f"(never read; removed when the run next starts)")
    # 4. disk full
    res4 = reliability.disk_full_trial(work, TOY)
    add("4. disk full", f"error names file and cause: {res4['names_path'] and res4['names_cause']}",
        f"newest checkpoint loads: {res4['newest_loads']} (step {res4['newest_step']}); "
        f"{'real 600 KB tmpfs' if res4['real_tmpfs'] else 'ENOSPC injected (no mount permission)'}")
    # 5. corruption
    src = train("ring8-r1", ["train.steps=10", "train.progress=false", *TOY], run_dir=work / "corrupt-src")
    det, n, unnamed = reliability.corruption_trials(RunDir(src.run_dir).checkpoints()[-1], work, 200 if q else 1000)
    add("5. truncations + single bit flips", f"{det}/{n} detected", f"errors not naming the file: {unnamed}")
    # 6. hostile pickles
    res6 = reliability.pickle_trials(work / "pickles", TOY)
    add("6. malicious pickles on every load path", f"{res6.refused}/{res6.attempts} refused",
        f"payload executed: {res6.executed}")
    # 7. bad data
    folder = work / "faulty"
    good, bad = reliability.make_faulty_folder(folder)
    cfg = Config().data
    cfg.resolution = 8
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        src7 = load_source(f"folder:{folder}", cfg)
    detected = sum(name in err.getvalue() for name in bad)
    false_pos = sum(name in err.getvalue() for name in good)
    add("7. faulty image folder (on_error=skip)", f"{detected}/{len(bad)} faults detected",
        f"false positives {false_pos}; {len(src7.x)}/{len(good)} odd-but-valid images decoded; symlink loop: no hang")
    # 8. config fuzz
    clean, n8, failures = reliability.config_fuzz(1000, seed=0)
    add("8. random invalid config mutations", f"{clean}/{n8} rejected cleanly", f"tracebacks/accepted: {len(failures)}")
    # 9. non-finite
    inj = [(s, w) for s in ((5, 17, 33) if not q else (17,)) for w in ("discriminator", "generator")]
    res9 = reliability.nonfinite_trials(work / "nan", inj)
    lat = [named - step for step, _, named, _ in res9 if named is not None]
    add("9. NaN gradient injected", f"{len(lat)}/{len(res9)} caught", f"detection latency {max(lat, default=-1)} steps")
    # 10. locks
    refused, untouched, resumed = reliability.lock_trial(work / "lock", TOY)
    add("10. second process on one run directory", f"refused: {refused}, nothing written: {untouched}",
        f"resume after the holder was killed with SIGKILL: {resumed}")

    print("\n| promise | figure | detail |\n|---|---|---|")
    for item, figure, note in rows:
        print(f"| {item} | {figure} | {note} |")
    print(f"\n{time.time() - t0:.0f} s; work directory {work}")


if __name__ == "__main__":
    main()
