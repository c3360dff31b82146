"""Registered algorithms (ALGORITHMS): each declares its networks, optimisers, state, prior and step."""
from . import began, gan, infogan  # noqa: F401  (register gan, began, infogan)
from .base import Algorithm, OptimizerSpec  # noqa: F401
