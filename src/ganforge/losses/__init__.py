"""Objectives (pure functions of D's logits) and penalties."""
from . import objectives, penalties  # noqa: F401  (register entries)
from .objectives import Objective  # noqa: F401
from .penalties import Penalty, clip_weights, gradient_penalty, r1_penalty  # noqa: F401
