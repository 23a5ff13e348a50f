"""Entity-level scores of tag sequences, as seqeval (and CoNLL's conlleval.pl) compute them.

An entity is a maximal chunk of words sharing a type, read from IOB1, IOB2,
IOE or IOBES tags (``B-PER``, ``I-PER``, ``E-PER``, ``S-PER``, ``O``) with
conlleval's rules, exactly like ``seqeval.metrics`` in its default mode.
A predicted entity counts only when its type, first and last word all match.
"""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np

_ENTITY_TAG = re.compile(r"^(?:O|[BIES](?:-.+)?)$")
_BILOU_TAG = re.compile(r"^[LU]-.+$")


def tag_scheme(tags) -> str:
    """``"entity"`` when every tag is ``O`` or ``B-``/``I-``/``E-``/``S-`` prefixed, else ``"plain"``.

    BILOU tags (``L-``/``U-``) raise a ``ValueError``: conlleval (and
    seqeval's default mode) does not read them.
    """
    tags = set(tags)
    if all(_ENTITY_TAG.match(tag) for tag in tags):
        return "entity"
    bilou = sorted(tag for tag in tags if _BILOU_TAG.match(tag))
    if bilou and all(_ENTITY_TAG.match(tag) or _BILOU_TAG.match(tag) for tag in tags):
        raise ValueError(
            f"the tags {bilou[:4]} look like BILOU, which entity-level F1 (seqeval, "
            "conlleval) does not read; rename L- to E- and U- to S- (IOBES, the same "
            "scheme under other letters) before fitting."
        )
    return "plain"


def _parse(tag: str) -> tuple[str, str]:
    """``(prefix, type)`` of a tag: ``"B-PER"`` -> ``("B", "PER")``; a bare ``"B"`` has type ``"_"``."""
    prefix, _, type_ = tag.partition("-")
    return prefix[:1], type_ or "_"


def entities(tag_lists: list[list[str]]) -> list[tuple[str, int, int]]:
    """``(type, first, last)`` of every entity; positions count across sentences.

    A word extends the open entity only when it continues it explicitly: the
    previous word was a ``B``/``I`` word of the entity, and this one is an ``I``
    or ``E`` word of the same type. Any other word closes the open entity, and
    opens a new one unless it is ``O`` (so a stray ``I-LOC`` starts an entity,
    as conlleval reads IOB1). Sentences never share an entity; positions leave
    a gap between sentences, as seqeval's "O" separator does.
    """
    spans = []
    offset = 0
    for tags in tag_lists:
        open_type, begin, previous = None, 0, "O"
        for i, tag in enumerate(tags):
            prefix, type_ = _parse(tag)
            extends = (open_type == type_ and previous in ("B", "I") and prefix in ("I", "E"))
            if not extends:
                if open_type is not None:
                    spans.append((open_type, offset + begin, offset + i - 1))
                open_type, begin = (None, 0) if prefix == "O" else (type_, i)
            previous = prefix
        if open_type is not None:
            spans.append((open_type, offset + begin, offset + len(tags) - 1))
        offset += len(tags) + 1
    return spans


def _divide(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def _prf(correct: int, predicted: int, true: int) -> tuple[float, float, float]:
    precision, recall = _divide(correct, predicted), _divide(correct, true)
    denominator = precision + recall
    f1 = 2.0 * precision * recall / (denominator if denominator else 1.0)
    return precision, recall, f1


def entity_scores(y_true: list[list[str]], y_pred: list[list[str]]) -> dict[str, dict[str, float]]:
    """Entity-level precision, recall, F1 and support, per type and micro-averaged.

    Parameters
    ----------
    y_true, y_pred : list of list of str
        Tags per sentence, of equal lengths.

    Returns
    -------
    dict
        ``{type: {"precision", "recall", "f1", "support"}}`` for every entity
        type in either side, sorted, plus ``"micro avg"``. Undefined ratios
        (nothing predicted or nothing true) are 0, as in seqeval.
    """
    by_type_true: dict[str, set] = defaultdict(set)
    by_type_pred: dict[str, set] = defaultdict(set)
    for type_, start, end in entities(y_true):
        by_type_true[type_].add((start, end))
    for type_, start, end in entities(y_pred):
        by_type_pred[type_].add((start, end))
    report = {}
    totals = np.zeros(3, dtype=np.int64)
    for type_ in sorted(set(by_type_true) | set(by_type_pred)):
        true, pred = by_type_true[type_], by_type_pred[type_]
        counts = np.array([len(true & pred), len(pred), len(true)])
        totals += counts
        precision, recall, f1 = _prf(*counts.tolist())
        report[type_] = {"precision": precision, "recall": recall, "f1": f1, "support": len(true)}
    precision, recall, f1 = _prf(*totals.tolist())
    report["micro avg"] = {"precision": precision, "recall": recall, "f1": f1, "support": int(totals[2])}
    return report


def entity_f1(y_true: list[list[str]], y_pred: list[list[str]]) -> float:
    """Micro-averaged entity-level F1: ``seqeval.metrics.f1_score(y_true, y_pred)``."""
    return entity_scores(y_true, y_pred)["micro avg"]["f1"]
