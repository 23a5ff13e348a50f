"""sklattn.plotting: training curves, token heat maps (HTML and PNG), feature attention bars."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from sklearn.datasets import load_wine
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from skorch.dataset import ValidSplit

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sklattn import AttentionClassifier, TabularAttentionClassifier  # noqa: E402
from sklattn.plotting import (  # noqa: E402
    AttentionHeatmap,
    _pyplot,
    attention_heatmap,
    plot_attention,
    plot_feature_attention,
    plot_history,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def text_classifier(tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    clf = AttentionClassifier(tiny_checkpoint, max_length=16, batch_size=16, max_epochs=3,
                              train_split=ValidSplit(4), random_state=0)
    return clf.fit(X[:48], y[:48])


@pytest.fixture(scope="module")
def wine_classifier():
    data = load_wine()
    clf = TabularAttentionClassifier(d_model=8, n_heads=2, max_epochs=2, random_state=0)
    return clf.fit(data.data, data.target), data


def test_plot_history_draws_losses_and_scores_per_epoch(text_classifier):
    ax = plot_history(text_classifier)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"train_loss", "valid_loss"}
    np.testing.assert_array_equal(lines["train_loss"].get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(lines["valid_loss"].get_ydata(), text_classifier.history_[:, "valid_loss"])
    (twin,) = [other for other in ax.figure.axes if other is not ax]
    assert [line.get_label() for line in twin.get_lines()] == ["valid_acc"]
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss"
    assert sorted(text.get_text() for text in ax.get_legend().get_texts()) == [
        "train_loss", "valid_acc", "valid_loss"]


def test_plot_history_accepts_pipelines_histories_and_axes(text_classifier):
    _, ax = plt.subplots()
    pipe = make_pipeline(FunctionTransformer(), text_classifier)
    assert plot_history(pipe, ax=ax) is ax
    assert len(plot_history(text_classifier.history_).get_lines()) == 2


def test_plot_history_of_unfitted_estimator_says_fit_first(tiny_checkpoint):
    with pytest.raises(NotFittedError, match="call fit"):
        plot_history(AttentionClassifier(tiny_checkpoint))


def test_heatmap_html_escapes_tokens_and_labels():
    heatmap = AttentionHeatmap(
        [{"tokens": ["<script>", "alert", "(", "1", ")", "</script>"], "weights": np.full(6, 1 / 6)},
         {"tokens": ["play", "##ing", "\"x\"&"], "weights": np.array([0.5, 0.25, 0.25])}],
        labels=["<b>pos</b>", "neg"],
    )
    html = heatmap._repr_html_()
    assert "<script>" not in html and "</script>" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html and "&lt;/script&gt;" in html and "&lt;b&gt;pos" in html
    assert "&quot;x&quot;&amp;" in html
    assert ">play</span><span" in html  # a ## piece is glued to its word, without "##"
    assert "##" not in html
    # Colour opacity follows the weight, relative to the text's top token.
    assert 'title="0.500" style="background-color: rgba(220, 38, 38, 0.850)' in html
    assert 'title="0.250" style="background-color: rgba(220, 38, 38, 0.425)' in html


def test_heatmap_rejects_mismatched_input():
    with pytest.raises(ValueError, match="one weight per token"):
        AttentionHeatmap([{"tokens": ["a", "b"], "weights": [1.0]}])
    with pytest.raises(ValueError, match="2 labels for 1 texts"):
        AttentionHeatmap([{"tokens": ["a"], "weights": [1.0]}], labels=["x", "y"])


def test_attention_heatmap_of_a_text_model_saves_html_and_png(text_classifier, sentiment_data, tmp_path):
    texts = list(sentiment_data[0][:3])
    heatmap = attention_heatmap(text_classifier, texts, labels=text_classifier.predict(texts))
    explained = text_classifier.explain(texts)
    assert heatmap.tokens == [item["tokens"] for item in explained]
    assert heatmap.labels == [str(label) for label in text_classifier.predict(texts)]
    html_file = heatmap.save(tmp_path / "attention.html")
    page = html_file.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count("<strong>") == 3
    png = heatmap.save(tmp_path / "attention.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert plt.get_fignums() == []  # save closes its figure


def test_plot_attention_draws_one_cell_per_token_wrapping_long_texts(text_classifier):
    texts = ["the film was very good and the music was lovely", "bad"]
    tokens = [item["tokens"] for item in text_classifier.explain(texts)]
    ax = plot_attention(text_classifier, texts, tokens_per_row=4)
    assert [text.get_text() for text in ax.texts] == tokens[0] + tokens[1]
    (image,) = ax.images
    rows = -(-len(tokens[0]) // 4) + 1
    assert image.get_array().shape == (rows, 4)
    assert [tick.get_text() for tick in ax.get_yticklabels()] == ["text 1", "text 2"]
    with pytest.raises(TypeError, match="explain"):
        attention_heatmap(make_pipeline(FunctionTransformer()), texts)


def test_plot_feature_attention_sorts_features_by_mean_attention(wine_classifier):
    clf, data = wine_classifier
    ax = plot_feature_attention(clf, data.data, feature_names=data.feature_names)
    widths = [bar.get_width() for bar in ax.patches]
    mean = clf.feature_attention(data.data).mean(axis=0)
    np.testing.assert_allclose(widths, np.sort(mean)[::-1])
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    assert labels == [data.feature_names[j] for j in np.argsort(-mean, kind="stable")]
    top = plot_feature_attention(clf, data.data[:20], top=3)
    assert len(top.patches) == 3 and top.get_yticklabels()[0].get_text().startswith("x")
    with pytest.raises(ValueError, match="2 feature_names for 13 features"):
        plot_feature_attention(clf, data.data, feature_names=["a", "b"])


def test_plot_feature_attention_needs_a_tabular_model(text_classifier):
    with pytest.raises(TypeError, match="TabularAttentionClassifier"):
        plot_feature_attention(text_classifier, np.zeros((2, 3)))


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'pip install "sklattn\[plot\]"'):
        _pyplot()
    # The HTML heat map needs no matplotlib.
    assert "<span" in AttentionHeatmap([{"tokens": ["a"], "weights": [1.0]}]).to_html()
