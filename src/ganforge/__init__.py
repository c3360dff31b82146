"""ganforge: build, train, evaluate and use Generative Adversarial Networks on PyTorch."""
__version__ = "0.1.0"

from . import registries  # noqa: E402,F401  (populates the registries)
from .config import Config, resolve  # noqa: E402
from .errors import (CheckpointError, ConfigError, DataError, GanforgeError,  # noqa: E402
                     TrainingError, TrainingInterrupted)
from .evaluate import evaluate  # noqa: E402
from .sample import Generator, load_generator  # noqa: E402
from .train.run import Run, fit, train  # noqa: E402


def generate(source: str, n: int, seed: int | None = 0, y: object = None):
    """n samples from SOURCE (run dir, checkpoint or export), in the data's own units (numpy)."""
    gen = load_generator(source)
    return gen.decode(gen.sample(n, seed=seed, y=y))


__all__ = ["Config", "resolve", "train", "fit", "load_generator", "generate", "evaluate", "Generator", "Run",
           "GanforgeError", "ConfigError", "DataError", "CheckpointError", "TrainingError",
           "TrainingInterrupted", "__version__"]
