"""Learning-rate schedules: the multiplier of an optimiser's base rate at a step (optim.lr_schedule, CycleGAN's)."""
from __future__ import annotations

import math


def lr_factor(schedule: str, step: int, total: int, decay_from: float) -> float:
    """The multiplier at step (0-based): 1 until decay_from x total, then linearly or along half a cosine down to
    0 at total (and 0 after it); 1 throughout for constant."""
    start = int(decay_from * total)
    if schedule == "constant" or step < start or total <= start:
        return 1.0
    if schedule == "linear":
        return max(0.0, (total - step) / (total - start))
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - start) / (total - start))))
