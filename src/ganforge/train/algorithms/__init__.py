"""Registered algorithms (ALGORITHMS): each declares its networks, optimisers, state, prior and step."""
from . import began, gan, infogan, translate, vae  # noqa: F401  (register gan, began, infogan, pix2pix, regression,
#                                                     cyclegan, vae, vaegan)
from .base import Algorithm, OptimizerSpec  # noqa: F401
