"""Run under torchrun by tests/test_dist.py: train, then every rank writes its own G and D weights."""
import sys
from pathlib import Path

import torch.distributed as td

import ganforge
from ganforge import checkpoint

out, run_dir, resume, *overrides = sys.argv[1:]
run = ganforge.train("ring8-r1", overrides, run_dir=run_dir, resume=None if resume == "-" else resume)
rank = int(__import__("os").environ.get("RANK", "0"))
checkpoint.save(Path(out) / f"rank{rank}.safetensors",
                {"G": run.state.G.state_dict(), "D": run.state.D.state_dict(), "step": run.step}, "checkpoint")
assert not td.is_initialized()  # train() leaves no process group behind
