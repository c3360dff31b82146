"""Run under torchrun by tests/test_dist.py: train, then every rank writes its own G and D weights."""
import os
import sys
from pathlib import Path

import torch.distributed as td

import ganforge
from ganforge import checkpoint

from ganforge.metrics.features import IdentityExtractor

rows = []  # samples whose features this rank extracted (evaluation shares them out over the ranks)
_call = IdentityExtractor.__call__
IdentityExtractor.__call__ = lambda self, x, *a, **k: (rows.append(len(x)), _call(self, x, *a, **k))[1]

if os.environ.get("NAN_AT"):  # "RANK:CALL": that rank's discriminator gives a NaN gradient at that call
    from ganforge.nets.mlp import MLPDiscriminator
    from reliability import NanGrad  # tests/reliability.py: this script's directory is on sys.path
    nan_rank, nan_call = map(int, os.environ["NAN_AT"].split(":"))
    _forward, calls = MLPDiscriminator.forward, []

    def forward(self, x, y=None):
        calls.append(1)
        out = _forward(self, x, y)
        return NanGrad.apply(out) if int(os.environ["RANK"]) == nan_rank and len(calls) == nan_call else out
    MLPDiscriminator.forward = forward

out, run_dir, resume, *overrides = sys.argv[1:]
run = ganforge.train(os.environ.get("PRESET", "ring8-r1"), overrides, run_dir=run_dir,
                     resume=None if resume == "-" else resume)
rank = int(os.environ.get("RANK", "0"))
checkpoint.save(Path(out) / f"rank{rank}.safetensors",
                {"G": run.state.G.state_dict(), "D": run.state.D.state_dict(), "step": run.step,
                 "feature_rows": rows, "algorithm": run.state.algorithm.state_dict()}, "checkpoint")
assert not td.is_initialized()  # train() leaves no process group behind
