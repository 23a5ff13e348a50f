"""Word-tagging throughput: AttentionTokenClassifier.predict vs transformers' pipeline.

Both sides run the same weights: an ``AttentionTokenClassifier`` on
all-MiniLM-L6-v2 (fitted briefly on CoNLL-2003; its accuracy does not matter
here), exported with ``export_pretrained`` and loaded by
``transformers.pipeline("token-classification", aggregation_strategy="first",
ignore_labels=[])``, which also tags every word from its first word piece. Same
CoNLL-2003 test sentences (the pipeline gets them joined by spaces, as raw text),
same batch size, float32 on the CPU. The goal: sklattn tags at least 1.5x as many
words per second.

Each side runs ``--repeats`` times, interleaved, and keeps its fastest run; runs
during which other processes used more than 10% of the CPU are flagged NOISY
(see ``_timing.py``), and the table says so.

Run (about 5 minutes on 2 idle cores)::

    python benchmarks/token_throughput.py
    python benchmarks/token_throughput.py --quick    # tiny sizes, for development
"""

from __future__ import annotations

import argparse
import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from _timing import Row, compare, describe_cpu, markdown_table  # noqa: E402

from sklattn import AttentionTokenClassifier  # noqa: E402
from sklattn.datasets import load_conll2003, minilm_path  # noqa: E402

GOAL = 1.5


def pipeline_tagger(path: str, batch_size: int):
    """``transformers``' token-classification pipeline on an exported model, words tagged by first piece."""
    from transformers import pipeline

    pipe = pipeline("token-classification", model=path, aggregation_strategy="first",
                    ignore_labels=[], batch_size=batch_size, device="cpu")
    return lambda sentences: pipe([" ".join(words) for words in sentences])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=int, default=1000, help="CoNLL-2003 test sentences to tag")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="64 sentences, 1 repeat (ratios meaningless)")
    args = parser.parse_args()
    if args.quick:
        args.sentences, args.repeats = 64, 1

    train, test = load_conll2003("train"), load_conll2003("test")
    sentences = test.data[: args.sentences]
    n_words = sum(map(len, sentences))
    print(describe_cpu())
    print(f"{len(sentences)} test sentences, {n_words} words, batch size {args.batch_size}")

    tagger = AttentionTokenClassifier(minilm_path(), max_length=128, max_epochs=1, batch_size=args.batch_size,
                                      precision="fp32", random_state=0)
    tagger.fit(train.data[:64], train.target[:64])
    with tempfile.TemporaryDirectory() as folder:
        tagger.export_pretrained(folder)
        run_pipeline = pipeline_tagger(folder, args.batch_size)
        assert len(run_pipeline(sentences[:4])) == 4  # warm up both sides
        tagger.predict(sentences[:4])
        sides = compare({
            "sklattn AttentionTokenClassifier.predict": lambda: tagger.predict(sentences),
            "transformers token-classification pipeline": lambda: run_pipeline(sentences),
        }, repeats=args.repeats)
    ours, theirs = sides.values()
    for side in sides.values():
        print(side.summary())
    ours_rate, theirs_rate = n_words / ours.best.seconds, n_words / theirs.best.seconds
    row = Row("predict words/s (MiniLM, fp32)", f"{ours_rate:,.0f}", f"{theirs_rate:,.0f}",
              ours_rate / theirs_rate, GOAL, max(ours.best.others_share, theirs.best.others_share))
    print()
    print(markdown_table([row]))


if __name__ == "__main__":
    main()
