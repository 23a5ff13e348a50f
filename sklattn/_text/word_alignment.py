"""Words to word pieces and back, for token classification.

Sentences arrive as lists of words. Each word is tokenized into word pieces;
the first piece of a word carries its tag, the others are ignored by the loss
and by predictions. A sentence longer than one ``max_length`` window is cut
into overlapping windows, and every word is read in the window where its first
piece sits farthest from a window edge (the most context on both sides), so
each word gets exactly one prediction, never zero.

Per sentence the features hold a list of windows (like the chunked long-text
modes), and ``word_index`` says, for every position of every window, which
word of the sentence it stands for (-1: not read).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch

from .._core.keys import SAMPLE_WEIGHT
from .data import _OPTIONAL_ENCODER_INPUTS

# Label of positions the loss ignores (torch's CrossEntropyLoss default ignore_index).
IGNORED = -100

_SENTENCE_HELP = (
    "Pass a list (or pandas Series, or one-column DataFrame) of sentences, each a list "
    "of words (str), e.g. [['John', 'lives', 'in', 'Paris'], ['Hi']]; a sentence given as "
    "one string is split on whitespace."
)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isnan(value)


def _rows(X: Any, what: str) -> list:
    """The items (sentences or tag lists) of any supported container."""
    if X is None:
        raise TypeError(f"{what} is None. {_SENTENCE_HELP}")
    if isinstance(X, (str, bytes)):
        raise TypeError(
            f"{what} is a single string; pass a list of sentences instead, e.g. [{X!r}] "
            "(a string sentence is split on whitespace) or [sentence.split()]."
        )
    if hasattr(X, "columns") and hasattr(X, "iloc"):  # pandas DataFrame
        if len(X.columns) != 1:
            raise ValueError(
                f"{what} is a DataFrame with columns {list(X.columns)}; pass the one column "
                f"that holds the token lists, e.g. {what}['tokens']."
            )
        X = X.iloc[:, 0]
    if hasattr(X, "toarray"):
        raise TypeError(f"{what} is a sparse matrix. {_SENTENCE_HELP}")
    if hasattr(X, "to_numpy"):  # pandas Series
        X = X.to_numpy(dtype=object)
    if isinstance(X, np.ndarray):
        if X.ndim == 2:  # equal-length sentences stacked into a 2-D array
            return [list(row) for row in X]
        if X.ndim != 1:
            raise ValueError(f"{what} must be 1-D (one item per sentence), got shape {X.shape}.")
        return list(X)
    if isinstance(X, (list, tuple)):
        return list(X)
    raise TypeError(f"{what} has unsupported type {type(X).__name__}. {_SENTENCE_HELP}")


def _strings(items: Any, what: str, row: int, kind: str) -> list[str]:
    """One sentence (or tag list) as a list of ``str``, with errors naming the position."""
    if isinstance(items, np.ndarray):
        items = items.tolist()
    if not isinstance(items, (list, tuple)):
        raise TypeError(
            f"{what}[{row}] is {type(items).__name__} ({items!r}), not a list of {kind}s. "
            + (_SENTENCE_HELP if kind == "word" else "Pass one list of tags (str) per sentence.")
        )
    out = []
    for position, item in enumerate(items):
        if isinstance(item, str):
            out.append(str(item))  # np.str_ -> str
            continue
        if _is_missing(item):
            raise ValueError(
                f"{what}[{row}] has a missing {kind} (None/NaN) at position {position}; drop "
                f"or fill it before fitting."
            )
        raise TypeError(
            f"{what}[{row}][{position}] is {type(item).__name__} ({item!r}), but every {kind} "
            f"must be a str; convert with str() first."
        )
    return out


def check_sentences(X: Any, *, allow_empty: bool, what: str = "X") -> list[list[str]]:
    """Validate sentences and return them as lists of words.

    Parameters
    ----------
    X : list, tuple, 1-D or 2-D ndarray, pandas Series or one-column DataFrame
        One item per sentence: a list (tuple, array) of words, or a string,
        which is split on whitespace (``str.split()``).
    allow_empty : bool
        Whether a sentence may have no words (prediction: it gets no tags).
    what : str
        Name used in error messages.

    Returns
    -------
    list of list of str
    """
    rows = _rows(X, what)
    if not rows:
        raise ValueError(f"{what} is empty: at least one sentence is needed.")
    sentences = []
    for row, item in enumerate(rows):
        words = item.split() if isinstance(item, str) else _strings(item, what, row, "word")
        if not words and not allow_empty:
            raise ValueError(
                f"{what}[{row}] is an empty sentence (no words); there is nothing to tag. "
                "Drop empty sentences before fitting (prediction accepts them and returns "
                "an empty tag list)."
            )
        sentences.append(words)
    return sentences


def check_tag_lists(y: Any, sentences: list[list[str]], what: str = "y") -> list[list[str]]:
    """Validate one list of tags per sentence, each as long as its sentence.

    Returns
    -------
    list of list of str
    """
    if y is None:
        raise ValueError(f"{what} is None: pass one list of tags per sentence.")
    if isinstance(y, (str, bytes)):
        raise TypeError(f"{what} is a single string; pass one list of tags per sentence.")
    rows = _rows(y, what)
    if len(rows) != len(sentences):
        raise ValueError(
            f"X has {len(sentences)} sentences but {what} has {len(rows)} tag lists; pass "
            "one tag list per sentence."
        )
    tag_lists = []
    for row, (item, words) in enumerate(zip(rows, sentences)):
        if isinstance(item, str):
            raise TypeError(
                f"{what}[{row}] is a string ({item!r}); pass a list of tags, one per word "
                f"(e.g. {item.split()!r})."
            )
        tags = _strings(item, what, row, "tag")
        if len(tags) != len(words):
            raise ValueError(
                f"sentence {row} has {len(words)} words but {len(tags)} tags; every word "
                f"needs exactly one tag (words: {words[:8]}{' ...' if len(words) > 8 else ''})."
            )
        tag_lists.append(tags)
    return tag_lists


def special_tokens(tokenizer) -> tuple[list[int], list[int]]:
    """Ids the tokenizer puts before and after the pieces of a single sequence.

    ``[CLS]`` / ``[SEP]`` for BERT, ``<s>`` / ``</s>`` for RoBERTa.
    """
    encoded = tokenizer([["a"]], is_split_into_words=True, add_special_tokens=True)
    ids, owners = encoded["input_ids"][0], encoded.word_ids(0)
    content = [i for i, owner in enumerate(owners) if owner is not None]
    return list(ids[: content[0]]), list(ids[content[-1] + 1:])


def window_starts(n_pieces: int, window: int, stride: int) -> list[int]:
    """First piece of each window: ``window`` pieces each, consecutive ones sharing ``stride``."""
    starts = [0]
    while starts[-1] + window < n_pieces:
        starts.append(starts[-1] + window - stride)
    return starts


def align_sentences(
    tokenizer, sentences: list[list[str]], max_length: int, stride: int
) -> dict[str, list[list[np.ndarray]]]:
    """Tokenize sentences into windows of word pieces, recording which word each first piece reads.

    Parameters
    ----------
    tokenizer : transformers fast tokenizer
    sentences : list of list of str
        Output of :func:`check_sentences`.
    max_length : int
        Pieces per window, special tokens included.
    stride : int
        Pieces shared by consecutive windows of one sentence; smaller than the
        content pieces of a window (``max_length`` minus the special tokens).

    Returns
    -------
    dict of str to list
        Per sentence, a list of windows: ``input_ids`` (int64 arrays),
        ``token_type_ids`` when the model uses them (zeros) and
        ``word_index`` (int64 arrays, the word of the sentence a position's
        prediction belongs to, -1 elsewhere). Every word appears exactly once
        across a sentence's windows. A word the tokenizer turns into no piece
        (e.g. a zero-width space) is read as the unknown token.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            "token classification needs a fast (Rust) tokenizer, which maps word pieces to "
            f"words; {type(tokenizer).__name__} is not one. Use a checkpoint with a "
            "tokenizer.json (most hub models have one)."
        )
    prefix, suffix = special_tokens(tokenizer)
    window = max_length - len(prefix) - len(suffix)
    if stride >= window:
        raise ValueError(
            f"stride={stride} must be smaller than the {window} word pieces of each "
            f"max_length={max_length} window; lower stride or raise max_length."
        )
    unknown = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else 0
    wanted = [name for name in _OPTIONAL_ENCODER_INPUTS if name in tokenizer.model_input_names]
    encoded = tokenizer(
        [words if words else [""] for words in sentences], is_split_into_words=True,
        add_special_tokens=False, return_attention_mask=False, return_token_type_ids=False,
    )
    features: dict[str, list] = {"input_ids": [], "word_index": [], **{name: [] for name in wanted}}
    head, tail = np.asarray(prefix, dtype=np.int64), np.asarray(suffix, dtype=np.int64)
    for row, words in enumerate(sentences):
        pieces: list[list[int]] = [[] for _ in words]
        for piece, owner in zip(encoded["input_ids"][row], encoded.word_ids(row)):
            if owner is not None and words:
                pieces[owner].append(piece)
        flat = np.asarray([p for word in pieces for p in (word or [unknown])], dtype=np.int64)
        first = np.cumsum([0] + [max(1, len(word)) for word in pieces])[:-1]  # (n_words,)
        starts = window_starts(len(flat), window, stride)
        ends = [min(start + window, len(flat)) for start in starts]
        # Each word is read in the window that gives its first piece the most context.
        home = np.zeros(len(words), dtype=np.int64)
        if len(starts) > 1:
            starts_a, ends_a = np.asarray(starts), np.asarray(ends)
            inside = (first[:, None] >= starts_a) & (first[:, None] < ends_a)  # (n_words, n_windows)
            margin = np.minimum(first[:, None] - starts_a, ends_a - 1 - first[:, None])
            home = np.where(inside, margin, -1).argmax(axis=1)
        ids_windows, index_windows = [], []
        for k, (start, end) in enumerate(zip(starts, ends)):
            ids_windows.append(np.concatenate([head, flat[start:end], tail]))
            index = np.full(len(head) + end - start + len(tail), -1, dtype=np.int64)
            mine = np.flatnonzero(home == k)
            index[len(head) + first[mine] - start] = mine
            index_windows.append(index)
        features["input_ids"].append(ids_windows)
        features["word_index"].append(index_windows)
        for name in wanted:
            features[name].append([np.zeros(len(ids), dtype=np.int64) for ids in ids_windows])
    return features


class WindowCollate:
    """Collate sentences (lists of windows) into one padded batch of windows.

    Parameters
    ----------
    pad_token_id : int
        Id placed past the end of each window.

    Returns (when called)
    ---------------------
    batch : dict of Tensor
        ``input_ids``, ``attention_mask`` (and ``token_type_ids``) of shape
        (C, T) for the C windows of the batch; ``word_index`` (C, T), -1 where
        no word is read; ``chunk_owner`` (C,), the sentence of each window;
        ``sample_weight`` (C, T) when the items carry per-word weights.
    labels : Tensor of shape (C, T)
        Tag ids at the read positions and -100 elsewhere (all -100 without targets).
    """

    def __init__(self, pad_token_id: int) -> None:
        self.pad_token_id = pad_token_id

    def __call__(self, items: list[tuple[dict[str, Any], Any]]):
        features = [item[0] for item in items]
        names = [name for name in features[0] if name != SAMPLE_WEIGHT]
        owner = [i for i, f in enumerate(features) for _ in f["input_ids"]]
        rows = {name: [window for f in features for window in f[name]] for name in names}
        lengths = [len(ids) for ids in rows["input_ids"]]
        n_rows, longest = len(lengths), max(lengths)
        batch: dict[str, torch.Tensor] = {}
        for name, windows in rows.items():
            fill = {"input_ids": self.pad_token_id, "word_index": -1}.get(name, 0)
            padded = np.full((n_rows, longest), fill, dtype=np.int64)  # (C, T)
            for i, values in enumerate(windows):
                padded[i, : lengths[i]] = values
            batch[name] = torch.from_numpy(padded)
        mask = np.zeros((n_rows, longest), dtype=np.int64)
        for i, length in enumerate(lengths):
            mask[i, :length] = 1
        batch["attention_mask"] = torch.from_numpy(mask)
        batch["chunk_owner"] = torch.tensor(owner, dtype=torch.long)
        word_index = batch["word_index"].numpy()
        read = word_index >= 0
        owners = np.asarray(owner)[:, None].repeat(longest, axis=1)  # (C, T)
        labels = np.full((n_rows, longest), IGNORED, dtype=np.int64)
        if isinstance(items[0][1], np.ndarray):
            labels[read] = [items[o][1][w] for o, w in zip(owners[read], word_index[read])]
        if SAMPLE_WEIGHT in features[0]:
            weights = np.zeros((n_rows, longest), dtype=np.float32)
            weights[read] = [features[o][SAMPLE_WEIGHT][w] for o, w in zip(owners[read], word_index[read])]
            batch[SAMPLE_WEIGHT] = torch.from_numpy(weights)
        return batch, torch.from_numpy(labels)


def gather_word_outputs(outputs: np.ndarray, word_index: np.ndarray, owner: np.ndarray,
                        n_sentences: int) -> list[np.ndarray]:
    """Per sentence, the rows of ``outputs`` at its words' read positions, in word order.

    Parameters
    ----------
    outputs : ndarray of shape (C, T, K)
    word_index, owner : as in the batch of :class:`WindowCollate`
    n_sentences : int
        Sentences in the batch.

    Returns
    -------
    list of ndarray of shape (n_words, K)
    """
    read = word_index >= 0
    owners = np.broadcast_to(owner[:, None], word_index.shape)[read]
    words = word_index[read]
    values = outputs[read]  # (n_read, K)
    result = []
    for sentence in range(n_sentences):
        mine = owners == sentence
        rows = np.empty((int(mine.sum()), outputs.shape[-1]), dtype=outputs.dtype)
        rows[words[mine]] = values[mine]
        result.append(rows)
    return result
