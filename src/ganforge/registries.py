"""The flat registries: every name the CLI, `ganforge list` and the tests enumerate comes from here.

A leaf: it imports nothing of ganforge's but the Registry class. Each module registers its own entries
when imported; `ganforge.entries` imports them all, and `import ganforge` imports it first."""
from __future__ import annotations

from .registry import Registry, RegistryError

NETWORKS = Registry("network")        # arch -> build(model_cfg, shape, num_classes, kind) -> (G, D)
OBJECTIVES = Registry("objective")    # name -> Objective
PENALTIES = Registry("penalty")       # name -> Penalty
DATASETS = Registry("dataset")        # name -> load(arg, seed) -> Source
METRICS = Registry("metric")          # name -> metrics.catalog.Metric
FEATURES = Registry("feature extractor")  # name -> metrics.features.Extractor class
ALGORITHMS = Registry("algorithm")    # name -> train.algorithms Algorithm class
AUGMENTS = Registry("augmentation")   # name -> factory() -> nn.Module on [-1, 1] image batches (train.augment)


def lookup_error(reg: Registry, name: str) -> str:
    """The message a failed lookup would raise, as text."""
    try:
        reg.get(name)
    except RegistryError as e:
        return str(e)
    return ""
