#!/usr/bin/env bash
# Create .venv and install latentbridge with its plugins. Idempotent; safe to re-run.
#   bash scripts/setup.sh          # runtime: latentbridge[bench,train] + plugins (enough for `latentbridge bench`)
#   bash scripts/setup.sh --dev    # + test and lint tools
# torch is pinned to 2.13.0 and installed FIRST: on these machines that resolves to a local CPU wheel,
# whereas an unpinned torch (or a range its newest release satisfies) would download a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."

extra="bench,train"
[[ "${1:-}" == "--dev" ]] && extra="dev"
PYTHON="${PYTHON:-python3}"
pip_install() { .venv/bin/python -m pip install -q --disable-pip-version-check "$@"; }
step() { printf '[setup %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

if [[ -x .venv/bin/python ]]; then
  step "using the existing virtual environment .venv"
else
  step "creating the virtual environment .venv with $("$PYTHON" --version 2>&1)"
  "$PYTHON" -m venv .venv
fi
step "installing torch 2.13.0 first (the CPU build; ~1 minute the first time, seconds when already installed)"
pip_install "torch==2.13.0"
step "installing latentbridge[${extra}] and its dependencies (nevergrad, pymoo, pyribs, dask, ...; ~1 minute the first time)"
pip_install -e ".[${extra}]"
# facenet-pytorch pins torch<2.3 and numpy<2: install it WITHOUT its dependencies, never letting it touch torch.
step "installing facenet-pytorch 2.6.0 without its dependencies (it must not replace torch)"
pip_install --no-deps "facenet-pytorch==2.6.0"
step "installing the plugins latentbridge-stylegan2 and latentbridge-facenet"
pip_install --no-deps -e plugins/latentbridge-stylegan2 -e plugins/latentbridge-facenet
step "checking the environment"
.venv/bin/python - <<'PY'
import torch, numpy
assert torch.__version__.startswith("2.13.0"), f"torch was replaced: {torch.__version__}"
print(f"latentbridge environment ready: torch {torch.__version__}, numpy {numpy.__version__}")
PY
