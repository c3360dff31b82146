"""Metrics: pure functions over samples or feature arrays, registered by name."""
from . import modes  # noqa: F401  (registers 'modes')
