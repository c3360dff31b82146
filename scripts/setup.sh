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
"$PY" -c "import torch, ganforge; print(f'setup: ganforge {ganforge.__version__}, torch {torch.__version__}, cuda={torch.cuda.is_available()}')"
