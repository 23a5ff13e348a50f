"""Semi-supervised tabular learning: pretrain on all rows, fine-tune on 1% / 5% of them labelled.

For each table of ``_tables.py``, a fixed 20% of the rows is held out for
testing. From the other 80% (the pool), each seed draws a labelled subset
(stratified for classification) of 1% and 5% of the pool; the rest of the
pool keeps no labels. Two models are fitted on each labelled subset, at
their defaults and with the same seed:

- scratch: ``TabularAttentionClassifier``/``Regressor`` on the labelled rows;
- pretrained: the same, with ``init_from`` a ``TabularAttentionPretrainer``
  fitted on the whole pool without labels (masked-feature reconstruction).

The pretrainer is fitted once per table (seed 0) and shared by the seeds
(``--pretrain-per-seed`` refits it for each seed): it never sees a label, so
sharing it does not leak between the seeds' labelled subsets. Scores on the
test rows (ROC AUC for binary tables, R² for regression); the table prints
mean ± sd over seeds, the mean paired difference and how many seeds
pretraining won, plus fit seconds.

Run: python benchmarks/tabular_semi_supervised.py [--tables hi diamonds] [--seeds 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import get_scorer
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _tables import TABLES  # noqa: E402
from _timing import describe_cpu, timed  # noqa: E402

from sklattn import (  # noqa: E402
    TabularAttentionClassifier,
    TabularAttentionPretrainer,
    TabularAttentionRegressor,
)

METRICS = {"binary": "roc_auc", "regression": "r2"}


def labelled_subset(y, fraction: float, seed: int, classification: bool) -> np.ndarray:
    """Indices of a seeded ``fraction`` of the pool (stratified for classification)."""
    rows = np.arange(len(y))
    chosen, _ = train_test_split(
        rows, train_size=fraction, random_state=seed, stratify=y if classification else None
    )
    return np.sort(chosen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", nargs="*", default=["hi", "diamonds"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--fractions", nargs="*", type=float, default=[0.01, 0.05])
    parser.add_argument("--pretrain-per-seed", action="store_true")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{describe_cpu()}\ntorch threads {args.threads}")
    summary = []
    for name in args.tables:
        X, y, task = TABLES[name]()
        classification = task != "regression"
        estimator = TabularAttentionClassifier if classification else TabularAttentionRegressor
        scorer = get_scorer(METRICS[task])
        X_pool, X_test, y_pool, y_test = train_test_split(
            X, y, test_size=0.2, random_state=0, stratify=y if classification else None
        )
        print(f"\n{name}: pool {len(X_pool)} rows, test {len(X_test)}, {METRICS[task]}", flush=True)
        pretrainers = {}
        for seed in range(args.seeds):
            key = seed if args.pretrain_per_seed else 0
            if key not in pretrainers:
                run = timed(lambda key=key: TabularAttentionPretrainer(random_state=key).fit(X_pool))
                pretrainers[key] = run.result
                print(f"  pretrained (seed {key}) in {run.seconds:.0f} s, "
                      f"{len(run.result.history_)} epochs, others used {run.others_share:.0%} of the CPU",
                      flush=True)
            for fraction in args.fractions:
                rows = labelled_subset(y_pool, fraction, seed, classification)
                X_lab, y_lab = X_pool.iloc[rows], y_pool[rows]
                scores, seconds = {}, {}
                for label, init_from in (("scratch", None), ("pretrained", pretrainers[key])):
                    start = time.perf_counter()
                    model = estimator(init_from=init_from, random_state=seed).fit(X_lab, y_lab)
                    seconds[label] = time.perf_counter() - start
                    scores[label] = scorer(model, X_test, y_test)
                summary.append((name, fraction, seed, scores["scratch"], scores["pretrained"],
                                seconds["scratch"], seconds["pretrained"]))
                print(f"  seed {seed} {fraction:.0%} ({len(rows)} labelled): scratch "
                      f"{scores['scratch']:.4f} ({seconds['scratch']:.0f} s), pretrained "
                      f"{scores['pretrained']:.4f} ({seconds['pretrained']:.0f} s)", flush=True)
    print("\n| table | labelled | scratch | pretrained | pretrained - scratch | seeds won | fit s (scratch / pretrained) |")
    print("|---|---|---|---|---|---|---|")
    for name in args.tables:
        for fraction in args.fractions:
            cell = np.array([row[3:] for row in summary if row[0] == name and row[1] == fraction])
            if not len(cell):
                continue
            diff = cell[:, 1] - cell[:, 0]
            print(f"| {name} | {fraction:.0%} | {cell[:, 0].mean():.4f} ± {cell[:, 0].std():.4f} | "
                  f"{cell[:, 1].mean():.4f} ± {cell[:, 1].std():.4f} | {diff.mean():+.4f} ± "
                  f"{diff.std():.4f} | {(diff > 0).sum()}/{len(diff)} | "
                  f"{cell[:, 2].mean():.0f} / {cell[:, 3].mean():.0f} |")


if __name__ == "__main__":
    main()
