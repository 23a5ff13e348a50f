"""Few-shot text classification: sklattn defaults vs TF-IDF + LogisticRegression vs SetFit.

Every side trains on the same texts (``shots`` per class, drawn with each seed
from the training split, balanced) and is scored on the same held-out test
texts (balanced accuracy). sklattn and SetFit start from the same checkpoint,
all-MiniLM-L6-v2 unless ``--checkpoint`` names another (a local directory of a
sentence-transformers model, so that SetFit can load it too). SetFit runs with
its documented defaults and ``num_iterations=20`` (contrastive pairs),
``num_epochs=1``, ``batch_size=16``.
Fit seconds are wall time, with the share of the CPU other processes used
meanwhile (``NOISY`` above 10%, see ``_timing.py``); each line also gives the
seconds to predict the test texts.

``--datasets spam_assassin`` adds the SpamAssassin emails (ham or spam, subject
and body; see ``_spam_assassin.py``), a set the defaults were not tuned on:
unpack it first with ``bash benchmarks/fetch_spam_assassin.sh`` (npm).

``--regression`` runs the same grid for ``AttentionRegressor`` on tweets
(``log1p(favorite_count)``, R² on held-out tweets) against TF-IDF + Ridge.

Usage::

    python benchmarks/few_shot.py --shots 8 16 32 64 --seeds 0 1 2 \
        --datasets rotten_tomatoes bbc_news tweets --setfit-shots 8 --setfit-datasets rotten_tomatoes
    python benchmarks/few_shot.py --regression --shots 32 128 --seeds 0 1 2
    python benchmarks/few_shot.py --variant max_epochs=3   # any estimator parameters, as k=v

SetFit (``pip install setfit``) takes minutes per fit even at 8 texts per
class on 2 cores and grows with the number of texts (pairs); ``--no-setfit``
or ``--setfit-shots`` limit it.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import NOISY_SHARE, describe_cpu, timed  # noqa: E402

DATASETS = ("rotten_tomatoes", "bbc_news", "tweets", "rotten_tomatoes_3class", "spam_assassin")
# spam_assassin needs `bash benchmarks/fetch_spam_assassin.sh` (npm) first, so it runs when named.
DEFAULT_DATASETS = DATASETS[:-1]


# -------------------------------------------------------------------- data
def load_dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Texts and labels of one benchmark dataset."""
    from sklattn import datasets

    if name == "rotten_tomatoes":
        data = datasets.load_rotten_tomatoes()
        return data.data, data.target
    if name == "bbc_news":
        data = datasets.load_bbc_news()
        return data.data, data.target
    if name == "rotten_tomatoes_3class":  # fresh review, rotten review, or plot summary
        data = datasets.load_rotten_tomatoes(include_plot=True)
        return data.data, data.target
    if name == "tweets":  # which app posted the tweet (Android = the man himself, iPhone = staff)
        frame = datasets.load_trump_tweets()
        frame = frame[frame["source"].isin(["Twitter for Android", "Twitter for iPhone"])]
        frame = frame[~frame["is_retweet"].astype(bool)]
        return frame["text"].to_numpy(dtype=object), frame["source"].to_numpy(dtype=object)
    if name == "spam_assassin":  # ham or spam; bash benchmarks/fetch_spam_assassin.sh first
        from _spam_assassin import load_spam_assassin

        return load_spam_assassin()
    if name == "tweets_favorites":
        frame = datasets.load_trump_tweets()
        frame = frame[~frame["is_retweet"].astype(bool)]
        return frame["text"].to_numpy(dtype=object), np.log1p(frame["favorite_count"].to_numpy(float))
    raise ValueError(f"unknown dataset {name!r}; choose from {DATASETS}")


def split(y: np.ndarray, n_test: int, seed: int = 12345) -> tuple[np.ndarray, np.ndarray]:
    """A fixed pool to draw training texts from and a fixed (stratified for labels) test set."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    return order[n_test:], order[:n_test]


def draw_train(pool: np.ndarray, y: np.ndarray, shots: int, seed: int, regression: bool) -> np.ndarray:
    """``shots`` texts per class (``shots`` texts in all for regression), drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    if regression:
        return rng.choice(pool, size=shots, replace=False)
    picked = [rng.choice(pool[y[pool] == label], size=shots, replace=False)
              for label in np.unique(y[pool])]
    return rng.permutation(np.concatenate(picked))


# ------------------------------------------------------------------- sides
def fit_sklattn(X, y, checkpoint: str, seed: int, regression: bool, params: dict):
    from sklattn import AttentionClassifier, AttentionRegressor

    cls = AttentionRegressor if regression else AttentionClassifier
    # The estimator's own defaults (max_length="auto" among them); a --variant changes any.
    model = cls(checkpoint, **params, random_state=seed)
    return model.fit(X, y)


def fit_lpft(X, y, checkpoint: str, seed: int, regression: bool, params: dict):
    """Linear probe, then fine-tune (Kumar et al. 2022): the full fine-tuning starts from the
    head a ``finetune="head"`` fit trained on the frozen encoder, instead of a random head."""
    from skorch.callbacks import Callback

    probe = fit_sklattn(X, y, checkpoint, seed, regression, {"finetune": "head"})
    head = {name: value.clone() for name, value in probe.module_.head.state_dict().items()}

    class HeadFromProbe(Callback):
        def on_train_begin(self, net, **kwargs):
            net.module_.head.load_state_dict(head)

    return fit_sklattn(X, y, checkpoint, seed, regression,
                       {**params, "callbacks": [("head_from_probe", HeadFromProbe())]})


def fit_tfidf(X, y, seed: int, regression: bool):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.pipeline import make_pipeline

    head = RidgeCV() if regression else LogisticRegression(max_iter=2000)
    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), head)
    return model.fit(X, y)


def fit_setfit(X, y, checkpoint: str, seed: int):
    import tempfile

    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    classes, encoded = np.unique(y, return_inverse=True)
    model = SetFitModel.from_pretrained(checkpoint)
    with tempfile.TemporaryDirectory() as output_dir:  # its trainer writes checkpoints/ otherwise
        args = TrainingArguments(output_dir=output_dir, num_iterations=20, num_epochs=1,
                                 batch_size=16, seed=seed, report_to="none",
                                 show_progress_bar=False)
        train = Dataset.from_dict({"text": list(X), "label": encoded.tolist()})
        Trainer(model=model, args=args, train_dataset=train).train()

    class Wrapped:
        def predict(self, texts):
            return classes[np.asarray(model.predict(list(texts)))]

    return Wrapped()


def score(model, X, y, regression: bool) -> float:
    from sklearn.metrics import balanced_accuracy_score, r2_score

    predictions = np.asarray(model.predict(X))
    return float(r2_score(y, predictions) if regression else balanced_accuracy_score(y, predictions))


# -------------------------------------------------------------------- main
def parse_variant(text: str) -> tuple[str, dict]:
    """``"max_epochs=10,finetune=head"`` -> its name and the parameters."""
    params = {}
    for item in filter(None, text.split(",")):
        key, value = item.split("=", 1)
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    return text, params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shots", type=int, nargs="+", default=[8, 16, 32, 64, 128],
                        help="texts per class (texts in all with --regression)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--datasets", nargs="+", default=list(DEFAULT_DATASETS), choices=DATASETS)
    parser.add_argument("--n-test", type=int, default=1000, help="held-out texts per dataset")
    parser.add_argument("--no-setfit", action="store_true")
    parser.add_argument("--setfit-shots", type=int, nargs="*", help="shot counts SetFit runs at (default all)")
    parser.add_argument("--setfit-datasets", nargs="*", help="datasets SetFit runs on (default all)")
    parser.add_argument("--setfit-seeds", type=int, nargs="*", help="seeds SetFit runs with (default all)")
    parser.add_argument("--variant", action="append", default=[],
                        help="extra sklattn side: estimator parameters as k=v[,k=v]")
    parser.add_argument("--no-defaults", action="store_true", help="skip the sklattn defaults side")
    parser.add_argument("--lpft", action="store_true",
                        help="also LP-FT: the default fine-tuning started from a linear-probe head")
    parser.add_argument("--regression", action="store_true",
                        help="AttentionRegressor on tweets, log1p(favorite_count), R²")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checkpoint", help="encoder directory or hub id for every side "
                        "(default: all-MiniLM-L6-v2 from its pip package)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from sklattn.datasets import minilm_path

    checkpoint = args.checkpoint or minilm_path()
    print(f"checkpoint {checkpoint}", flush=True)
    datasets = ["tweets_favorites"] if args.regression else args.datasets
    sklattn_sides = ([] if args.no_defaults else [("sklattn defaults", {})]) + [
        (f"sklattn {name}", params) for name, params in map(parse_variant, args.variant)
    ]
    results: dict[tuple, list] = defaultdict(list)  # (dataset, shots, side) -> [(score, seconds, noisy)]
    fitted_epochs: dict[tuple, list] = defaultdict(list)
    from sklattn._core.precision import auto_precision

    print(f"{describe_cpu()}\nCPU threads {args.threads}; precision='auto' trains in "
          f"{auto_precision('cpu')} here", flush=True)
    for dataset in datasets:
        X_all, y_all = load_dataset(dataset)
        pool, test = split(y_all, args.n_test)
        X_test, y_test = X_all[test], y_all[test]
        for shots in args.shots:
            for seed in args.seeds:
                train = draw_train(pool, y_all, shots, seed, args.regression)
                X, y = X_all[train], y_all[train]
                sides = [(name, lambda p=params: fit_sklattn(X, y, checkpoint, seed, args.regression, p))
                         for name, params in sklattn_sides]
                if args.lpft:
                    sides.append(("sklattn LP-FT", lambda: fit_lpft(X, y, checkpoint, seed, args.regression, {})))
                sides.append(("TF-IDF + " + ("Ridge" if args.regression else "LR"),
                              lambda: fit_tfidf(X, y, seed, args.regression)))
                if (not args.no_setfit and not args.regression
                        and (args.setfit_shots is None or shots in args.setfit_shots)
                        and (args.setfit_datasets is None or dataset in args.setfit_datasets)
                        and (args.setfit_seeds is None or seed in args.setfit_seeds)):
                    sides.append(("SetFit", lambda: fit_setfit(X, y, checkpoint, seed)))
                for name, fit in sides:
                    run = timed(fit)
                    scoring = timed(lambda: score(run.result, X_test, y_test, args.regression))
                    value = scoring.result
                    results[(dataset, shots, name)].append((value, run.seconds, run.noisy))
                    extra = ""
                    if hasattr(run.result, "max_epochs_"):
                        fitted_epochs[(dataset, shots, name)].append(run.result.max_epochs_)
                        extra = f" epochs {run.result.max_epochs_}"
                    if hasattr(run.result, "tfidf_blend_"):
                        extra += f", tfidf_blend {'on' if run.result.tfidf_blend_ else 'off'}"
                    print(f"{dataset} shots={shots} seed={seed} {name}: {value:.3f} "
                          f"{run.seconds:.1f} s ({run.others_share:.0%} others"
                          f"{' NOISY' if run.noisy else ''}), predict {scoring.seconds:.1f} s{extra}",
                          flush=True)
    print()
    print(markdown(results, fitted_epochs, "R²" if args.regression else "balanced accuracy"))


def markdown(results: dict, fitted_epochs: dict, metric: str) -> str:
    """One row per dataset and shot count, one cell per side: mean ± sd (fit seconds)."""
    sides = list(dict.fromkeys(side for _, _, side in results))
    lines = ["| dataset | per class | " + " | ".join(sides) + " |",
             "|---|---|" + "---|" * len(sides)]
    for dataset, shots in dict.fromkeys((d, s) for d, s, _ in results):
        cells = []
        for side in sides:
            runs = results.get((dataset, shots, side))
            if not runs:
                cells.append("")
                continue
            values = np.array([value for value, _, _ in runs])
            seconds = np.mean([sec for _, sec, _ in runs])
            noisy = sum(flag for _, _, flag in runs)
            cell = f"{values.mean():.3f} ± {values.std():.3f} ({seconds:.0f} s, n={len(runs)})"
            if noisy:
                cell += f" {noisy} noisy"
            epochs = fitted_epochs.get((dataset, shots, side))
            if epochs:
                cell += f" [{'/'.join(map(str, sorted(set(epochs))))} ep]"
            cells.append(cell)
        lines.append(f"| {dataset} | {shots} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"{metric}, mean ± sd over seeds; fit seconds (mean wall time); 'noisy': runs "
                 f"in which other processes used over {NOISY_SHARE:.0%} of the CPU.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
