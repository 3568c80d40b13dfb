#!/usr/bin/env bash
# Creates bench/peers/.venv-dspy: a virtual env of its own for DSPy, which is not a
# PromptPilot dependency and must never be installed into the project venv.
# Usage: bash bench/peers/setup_venv.sh [DSPY_SPEC]   (default: dspy[optuna]: MIPROv2 needs optuna)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
VENV="$HERE/.venv-dspy"
SPEC="${1:-dspy[optuna]}"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "$SPEC"
"$VENV/bin/python" -c "import dspy; print('dspy', dspy.__version__, 'in', '$VENV')"
touch "$VENV/.installed"
