"""What a user sees: progress output with verbose=1, silence with verbose=0, HTML display."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import estimator_html_repr

import sklattn._core.progress
from sklattn import AttentionClassifier, AttentionEmbedder, TabularAttentionClassifier


@pytest.fixture
def eager_tqdm(monkeypatch):
    """Redraw tqdm bars on every update instead of every 0.1 s, so tests see each state."""
    from tqdm import std

    original = std.tqdm.__init__

    def init(self, *args, **kwargs):
        kwargs.setdefault("mininterval", 0)
        original(self, *args, **kwargs)

    monkeypatch.setattr(std.tqdm, "__init__", init)


def _classifier(checkpoint, **params):
    params = {"max_length": 16, "batch_size": 16, "max_epochs": 2, "random_state": 0, **params}
    return AttentionClassifier(checkpoint, **params)


def test_verbose_1_shows_epoch_bars_with_running_loss_and_the_table(
    tiny_checkpoint, sentiment_data, capfd, eager_tqdm
):
    X, y = sentiment_data
    capfd.readouterr()
    clf = _classifier(tiny_checkpoint, verbose=1).fit(X[:48], y[:48])  # 3 batches an epoch
    out, err = capfd.readouterr()
    assert re.search(r"epoch\s+train_loss\s+dur", out)  # skorch's table on stdout
    assert [line.split()[0] for line in out.splitlines()[2:]] == ["1", "2"]
    for epoch in (1, 2):  # tqdm on stderr: batches done / total, mean loss so far
        shown = re.findall(rf"epoch {epoch}: .*?3/3 \[[^]]*train_loss=(\d\.\d{{4}})", err)
        batch_losses = [batch["train_loss"] for batch in clf.history_[epoch - 1, "batches"]]
        assert shown and float(shown[-1]) == pytest.approx(np.mean(batch_losses), abs=1e-4)


def test_verbose_0_prints_nothing_and_warns_nothing(tiny_checkpoint, sentiment_data, capfd):
    X, y = sentiment_data
    capfd.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = _classifier(tiny_checkpoint).fit(X[:48], y[:48])
        clf.predict(X[:40])
        clf.explain(X[:2])
    assert capfd.readouterr() == ("", "")
    assert [str(w.message) for w in caught if w.category is not DeprecationWarning] == []


def test_long_predictions_show_a_bar_only_with_verbose(
    tiny_checkpoint, sentiment_data, capfd, monkeypatch, eager_tqdm
):
    X, y = sentiment_data
    clf = _classifier(tiny_checkpoint, verbose=1, max_epochs=1).fit(X[:32], y[:32])
    capfd.readouterr()
    clf.predict(X[:40])  # fast: below the delay, no bar
    assert "predict" not in capfd.readouterr().err
    monkeypatch.setattr(sklattn._core.progress, "PREDICT_BAR_DELAY_S", 0.0)
    clf.predict(X[:40])
    assert re.search(r"predict: .*3/3", capfd.readouterr().err)
    clf.set_params(verbose=0).predict(X[:40])
    assert capfd.readouterr() == ("", "")


def _parameter_rows(html: str) -> list[tuple[str, str]]:
    """(row class, parameter name) of every row of sklearn's parameter tables."""
    flat = re.sub(r"\s+", " ", html)
    return re.findall(r'<tr class="([a-z-]+)">.*?<td class="param">\s*([a-z_]+)\s*</td>', flat)


def test_html_display_of_a_pipeline_shows_constructor_parameters(tiny_checkpoint):
    pipe = make_pipeline(AttentionEmbedder(tiny_checkpoint, max_length=16), LogisticRegression())
    html = estimator_html_repr(pipe)
    assert "AttentionEmbedder" in html and "LogisticRegression" in html

    clf = AttentionClassifier(tiny_checkpoint, max_length=16, lr=2e-5)
    rows = _parameter_rows(estimator_html_repr(make_pipeline(clf)))
    names = [name for _, name in rows]
    user_set = [name for kind, name in rows if kind == "user-set"]
    assert {"checkpoint", "max_length", "lr"} <= set(user_set)
    assert "max_epochs" in names and "max_epochs" not in user_set
    # skorch's deep parameters (callbacks__print_log__..., iterator_train) stay out.
    assert not [name for name in names if "__" in name or name.startswith("iterator_")]
    assert set(names) - {"steps", "memory", "transform_input", "verbose"} <= set(clf.get_params(deep=False))


def test_html_display_marks_fitted_tabular_pipeline():
    X, y = load_wine(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), TabularAttentionClassifier(d_model=8, n_heads=2, max_epochs=1))
    assert "Not fitted" in estimator_html_repr(pipe)
    html = estimator_html_repr(pipe.fit(X, y))
    assert "<span>Fitted</span>" in html
    assert ("user-set", "d_model") in _parameter_rows(html)
    assert np.isfinite(pipe.predict_proba(X[:2])).all()
