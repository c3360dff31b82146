"""ganforge: build, train, evaluate and use Generative Adversarial Networks on PyTorch."""
__version__ = "0.1.0"

from . import entries  # noqa: E402,F401  (registers every built-in entry)
from .config import Config, resolve  # noqa: E402
from .errors import (CheckpointError, ConfigError, DataError, GanforgeError,  # noqa: E402
                     TrainingError, TrainingInterrupted)
from .evaluate import evaluate  # noqa: E402
from .sample import Generator, load_generator  # noqa: E402
from .train.run import Run, fit, train  # noqa: E402


def generate(source: str, n: int, seed: int | None = 0, y: object = None, code: int | None = None):
    """n samples from SOURCE (run dir, checkpoint or export), in the data's own units (numpy); code fixes
    the categorical latent code of an InfoGAN generator."""
    gen = load_generator(source)
    return gen.decode(gen.sample(n, seed=seed, y=y, code=code))


__all__ = ["Config", "resolve", "train", "fit", "load_generator", "generate", "evaluate", "Generator", "Run",
           "GanforgeError", "ConfigError", "DataError", "CheckpointError", "TrainingError",
           "TrainingInterrupted", "__version__"]
