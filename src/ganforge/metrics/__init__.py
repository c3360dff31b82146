"""Metrics: pure functions over feature arrays or samples (stats, modes), feature extractors
(features, registered in FEATURES) and the metric registry entries that tie them together (catalog)."""
from . import catalog, codes, features  # noqa: F401  (register fid, kid, pr, dc, is, modes, codes; inception, mnist, identity)
