#!/usr/bin/env bash
# Build the documentation offline: HTML into docs/_build/html with warnings as
# errors (broken references fail), then run every doctest in the pages and the
# API docstrings. Needs the docs extra, which scripts/setup.sh installs (dev).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
export HF_HUB_OFFLINE=1 MPLBACKEND=Agg
"$PYTHON" -m sphinx -b html -W --keep-going -E -q docs docs/_build/html
"$PYTHON" -m sphinx -b doctest -W --keep-going -q docs docs/_build/doctest
echo "documentation: docs/_build/html/index.html"
