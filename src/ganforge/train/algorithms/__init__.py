"""Registered algorithms (ALGORITHMS): each declares its networks, optimisers, state, prior and step."""
from . import began, gan, infogan, translate  # noqa: F401  (register gan, began, infogan, pix2pix, regression)
from .base import Algorithm, OptimizerSpec  # noqa: F401
