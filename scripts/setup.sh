#!/usr/bin/env bash
# Create .venv and install latentbridge with its plugins. Idempotent; safe to re-run.
#   bash scripts/setup.sh          # runtime: latentbridge[bench] + plugins (enough for `latentbridge bench`)
#   bash scripts/setup.sh --dev    # + test and lint tools
# torch is pinned to 2.13.0 and installed FIRST: on these machines that resolves to a local CPU wheel,
# whereas an unpinned torch (or a range its newest release satisfies) would download a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."

extra="bench,train"
[[ "${1:-}" == "--dev" ]] && extra="dev"
PYTHON="${PYTHON:-python3}"
pip_install() { .venv/bin/python -m pip install -q --disable-pip-version-check "$@"; }

[[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
pip_install "torch==2.13.0"
pip_install -e ".[${extra}]"
# facenet-pytorch pins torch<2.3 and numpy<2: install it WITHOUT its dependencies, never letting it touch torch.
pip_install --no-deps "facenet-pytorch==2.6.0"
pip_install --no-deps -e plugins/latentbridge-stylegan2 -e plugins/latentbridge-facenet
.venv/bin/python - <<'PY'
import torch, numpy
assert torch.__version__.startswith("2.13.0"), f"torch was replaced: {torch.__version__}"
print(f"latentbridge environment ready: torch {torch.__version__}, numpy {numpy.__version__}")
PY
