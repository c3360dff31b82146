"""Your own networks from the command line: `--set model.g=models.py:build_generator` (and model.d).

A spec is FILE.py:FACTORY: the file is imported as a module (once per process and path), and the
factory called with those of `z_dim`, `shape` (C, H, W of the data) and `num_classes` that its
signature names. It must return a torch nn.Module or a Keras 3 model (KERAS_BACKEND=torch). The
config records the spec; checkpoints hold weights only and never run code: `generate` and
`evaluate` on such a run take the factory again (`--g models.py:build_generator`).
"""
from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError
from .keras import check_module, is_keras

_MODULES: dict[str, Any] = {}


def load_factory(spec: str, key: str = "model.g") -> Callable[..., Any]:
    """FILE.py:FACTORY -> the callable, with one clear error for a missing file, a file that fails to
    import, or a missing or non-callable name."""
    path_s, _, name = spec.rpartition(":")
    if not path_s or not name:
        raise ConfigError(f"config key '{key}' = {spec!r}: write FILE.py:FACTORY, e.g. models.py:build_generator")
    path = Path(path_s).expanduser()
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise ConfigError(f"config key '{key}' = {spec!r}: the file '{path}' {what}; give the path of a Python file "
                          f"(relative to the directory you run ganforge in, {Path.cwd()})")
    resolved = str(path.resolve())
    module = _MODULES.get(resolved)
    if module is None:
        mod_name = f"ganforge_user_{abs(hash(resolved))}"
        loader_spec = importlib.util.spec_from_file_location(mod_name, resolved)
        if loader_spec is None or loader_spec.loader is None:
            raise ConfigError(f"config key '{key}' = {spec!r}: '{path}' cannot be imported as Python (name it *.py)")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[mod_name] = module
        try:
            loader_spec.loader.exec_module(module)
        except Exception as e:  # noqa: BLE001  (whatever the user's file raises, named once)
            sys.modules.pop(mod_name, None)
            raise ConfigError(f"config key '{key}' = {spec!r}: importing '{path}' failed: {type(e).__name__}: {e}") \
                from None
        _MODULES[resolved] = module
    factory = getattr(module, name, None)
    if factory is None:
        found = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
                       and getattr(v, "__module__", None) == module.__name__)
        raise ConfigError(f"config key '{key}' = {spec!r}: '{path}' defines no {name!r}"
                          + (f"; it defines {', '.join(found)}" if found else ""))
    if not callable(factory):
        raise ConfigError(f"config key '{key}' = {spec!r}: {name!r} in '{path}' is a {type(factory).__name__}, "
                          f"not a function that returns a model")
    return factory


def call_factory(spec: str, key: str, seed: int, **context: Any) -> Any:
    """Call the factory of spec with the arguments of context it names, Keras's and torch's RNGs seeded with
    seed first (so that the models' initial weights are reproducible); check that it returned a model."""
    factory = load_factory(spec, key)
    try:
        params = inspect.signature(factory).parameters
        takes_all = any(p.kind == p.VAR_KEYWORD for p in params.values())
        kwargs = {k: v for k, v in context.items() if takes_all or k in params}
    except (TypeError, ValueError):
        kwargs = {}
    seed_everything(seed)
    try:
        net = factory(**kwargs)
    except Exception as e:  # noqa: BLE001
        raise ConfigError(f"config key '{key}' = {spec!r}: the factory raised {type(e).__name__}: {e}") from None
    if not (is_keras(net) or hasattr(net, "parameters")):
        raise ConfigError(f"config key '{key}' = {spec!r}: the factory returned {type(net).__name__}, not a model "
                          f"(return a torch nn.Module or a Keras model)")
    check_module(net, f"config key '{key}' = {spec!r}: the model returned")
    return net


def seed_everything(seed: int) -> None:
    """torch's RNG, and Keras's when Keras is loaded (its initialisers draw from its own seed)."""
    import torch

    torch.manual_seed(seed)
    keras = sys.modules.get("keras")
    if keras is not None:
        keras.utils.set_random_seed(seed % 2**32)
        torch.manual_seed(seed)  # set_random_seed seeds torch too, with the reduced seed: ours wins
