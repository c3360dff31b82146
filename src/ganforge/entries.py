"""Importing this module registers every built-in entry of every registry (see registries.py)."""
from . import augment, data, losses, metrics, nets  # noqa: F401  (augmentations, datasets, objectives, penalties, metrics, networks)
from .train import algorithms  # noqa: F401  (gan, began, infogan)
