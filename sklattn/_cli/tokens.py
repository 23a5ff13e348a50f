"""Word tagging on the command line (``--task tokens``): CoNLL files and columns of token lists.

A CoNLL-style file (``.conll``, ``.bio`` or ``.iob``) holds one word per line,
its tag in the last whitespace-separated field, a blank line between sentences
and ``-DOCSTART-`` lines that are skipped. It is read as a table with the columns
``tokens`` and ``tags`` (one list per sentence). In a CSV/TSV table, a token or
tag cell is a whitespace-separated string; in Parquet, a list.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .tables import CLIError, check_columns

CONLL_SUFFIXES = (".conll", ".bio", ".iob")
TOKENS, TAGS = "tokens", "tags"


def is_conll(path: Path) -> bool:
    """Whether ``path`` names a CoNLL-style file (by its suffix)."""
    return Path(path).suffix.lower() in CONLL_SUFFIXES


def read_conll(path: Path):
    """A DataFrame with ``tokens`` and ``tags`` (lists of str), one row per sentence."""
    import pandas as pd

    if not Path(path).is_file():
        raise CLIError(f"{path} does not exist.")
    sentences: list[list[str]] = []
    tags: list[list[str]] = []
    words: list[str] = []
    labels: list[str] = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            fields = line.split()
            if not fields or fields[0] == "-DOCSTART-":
                if words:
                    sentences.append(words)
                    tags.append(labels)
                words, labels = [], []
                continue
            if len(fields) < 2:
                raise CLIError(f"{path}, line {number}: expected a word and its tag separated by "
                               f"whitespace, got {line.strip()!r}.")
            words.append(fields[0])
            labels.append(fields[-1])
    if words:
        sentences.append(words)
        tags.append(labels)
    if not sentences:
        raise CLIError(f"{path} holds no sentences (one 'word ... tag' line per word, a blank "
                       "line between sentences).")
    return pd.DataFrame({TOKENS: sentences, TAGS: tags})


def write_conll(path: Path, sentences: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> None:
    """Write ``word<TAB>predicted tag`` lines, a blank line after each sentence."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for words, tags in zip(sentences, predicted):
            fh.writelines(f"{word}\t{tag}\n" for word, tag in zip(words, tags))
            fh.write("\n")


def token_column(frame, column: str, path: Path, what: str) -> list[list[str]]:
    """The lists held by ``column`` (lists, arrays, or whitespace-separated strings)."""
    check_columns(frame, [column], path, what)
    out = []
    for row, cell in enumerate(frame[column].tolist()):
        if isinstance(cell, str):
            out.append(cell.split())
        elif isinstance(cell, (list, tuple, np.ndarray)):
            out.append([str(item) for item in cell])
        else:
            raise CLIError(f"{path}, row {row}: column {column!r} holds {type(cell).__name__} "
                           f"({cell!r}), not a list of {what}s or a whitespace-separated string.")
    return out


def one_column(columns: Sequence[str] | None, default: str, option: str) -> str:
    """The single column given for ``option`` (the CoNLL default when none is given)."""
    if not columns:
        return default
    if len(columns) != 1:
        raise CLIError(f"--task tokens takes one {option} (a column of token or tag lists), "
                       f"got {list(columns)}.")
    return columns[0]


def token_scores(tagger, sentences, y_true) -> dict:
    """Entity-level precision, recall and F1 per type and micro-averaged, and word accuracy."""
    from .._text.tagging_metrics import entity_scores, tag_scheme

    predicted = tagger.predict(sentences)
    flat_true = [tag for tags in y_true for tag in tags]
    flat_pred = [tag for tags in predicted for tag in tags]
    scores: dict = {"word_accuracy": float(np.mean([a == b for a, b in zip(flat_true, flat_pred)]))}
    if tag_scheme(tagger.classes_.tolist()) == "entity":
        report = entity_scores(y_true, predicted)
        micro = report.pop("micro avg")
        scores.update({"entity_f1": micro["f1"], "entity_precision": micro["precision"],
                       "entity_recall": micro["recall"]})
        scores.update({f"f1_{name}": values["f1"] for name, values in report.items()})
    return scores
