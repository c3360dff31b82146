"""The flat registries: every name the CLI, `ganforge list` and the tests enumerate comes from here."""
from __future__ import annotations

from .registry import Registry, RegistryError

NETWORKS = Registry("network")        # arch -> build(model_cfg, shape, num_classes, kind) -> (G, D)
OBJECTIVES = Registry("objective")    # name -> Objective
PENALTIES = Registry("penalty")       # name -> Penalty
DATASETS = Registry("dataset")        # name -> load(arg, seed) -> Source
METRICS = Registry("metric")          # name -> metrics.catalog.Metric
FEATURES = Registry("feature extractor")  # name -> metrics.features.Extractor class


def lookup_error(reg: Registry, name: str) -> str:
    """The message a failed lookup would raise, as text."""
    try:
        reg.get(name)
    except RegistryError as e:
        return str(e)
    return ""


# Populate the registries (each module registers its own entries on import).
from . import data as _data  # noqa: E402,F401
from . import losses as _losses  # noqa: E402,F401
from . import metrics as _metrics  # noqa: E402,F401
from . import nets as _nets  # noqa: E402,F401
