"""TabularAttentionPretrainer: masked-feature pretraining on unlabelled rows, then init_from."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sklattn import TabularAttentionClassifier, TabularAttentionPretrainer, TabularAttentionRegressor, load
from sklattn._tabular.modules import MaskedFeatureNet

TINY = dict(d_model=8, n_heads=2, n_layers=1, lr=1e-2, batch_size=32, random_state=0)


def table(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Columns that predict each other (so hidden values can be reconstructed), one string."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=n)
    return pd.DataFrame({
        "a": base + 0.1 * rng.normal(size=n),
        "b": -base + 0.1 * rng.normal(size=n),
        "sign": np.where(base > 0, "up", "down"),
        "c": rng.normal(size=n),
    })


@pytest.fixture(scope="module")
def pretrained():
    X = table()
    return TabularAttentionPretrainer(**TINY, max_epochs=40).fit(X), X


def test_pretraining_lowers_the_reconstruction_loss(pretrained):
    pretrainer, _ = pretrained
    losses = pretrainer.history_[:, "valid_loss"]
    assert min(losses) < 0.8 * losses[0]
    assert pretrainer.best_epoch_ == int(np.argmin(losses)) + 1
    assert pretrainer.is_categorical_.tolist() == [False, False, True, False]


def test_validation_masks_are_fixed_and_training_masks_random():
    torch.manual_seed(0)
    net = MaskedFeatureNet(3, d_model=8, n_heads=2, n_layers=1, dropout=0.0, pooling="cls",
                           cardinalities=[2], mask_ratio=0.5)
    x = torch.randn(64, 3)
    x[::4, 0] = float("nan")  # missing values are never hidden nor reconstructed
    codes = torch.randint(2, 4, (64, 1))
    net.eval()
    first, second = net(x, codes), net(x, codes)
    assert torch.equal(first, second)
    observed = (~torch.isnan(x)).sum() + codes.numel()
    assert 0 < first[:, 1].sum() < observed  # about half the observed values are hidden
    net.train()
    assert not torch.equal(net(x, codes)[:, 1], net(x, codes)[:, 1])


def test_transform_gives_deterministic_pooled_vectors_with_names(pretrained):
    pretrainer, X = pretrained
    Z = pretrainer.transform(X)
    assert Z.shape == (len(X), 8) and Z.dtype == np.float32
    np.testing.assert_array_equal(Z, pretrainer.transform(X))
    assert pretrainer.get_feature_names_out()[0] == "tabularattentionpretrainer0"
    assert not hasattr(pretrainer, "predict")
    pipe = make_pipeline(clone(pretrainer).set_params(max_epochs=2), LogisticRegression())
    pipe.fit(X, (X["a"] > 0).to_numpy())
    assert pipe.score(X, (X["a"] > 0).to_numpy()) > 0.6


def test_save_load_and_pickle_round_trip(pretrained, tmp_path):
    pretrainer, X = pretrained
    pretrainer.save(tmp_path / "pretrained")
    loaded = load(tmp_path / "pretrained")
    assert isinstance(loaded, TabularAttentionPretrainer)
    np.testing.assert_array_equal(loaded.transform(X), pretrainer.transform(X))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(pretrainer)).transform(X), pretrainer.transform(X))


@pytest.mark.parametrize("source", ["fitted", "saved"])
def test_init_from_copies_the_pretrained_backbone_and_probes_a_head(pretrained, tmp_path, source):
    pretrainer, X = pretrained
    init_from = pretrainer
    if source == "saved":
        pretrainer.save(tmp_path / "pretrained")
        init_from = tmp_path / "pretrained"
    y = X["sign"].to_numpy()
    labelled = np.arange(0, len(X), 10)
    clf = TabularAttentionClassifier(**{**TINY, "max_epochs": 2}, init_from=init_from,
                                     freeze_backbone=True, early_stopping=False)
    clf.fit(X.iloc[labelled], y[labelled])
    assert clf.head_init_ == "linear_probe" and not clf.head_transferred_
    source_state = pretrainer.module_.backbone.state_dict()
    for name, value in clf.module_.backbone.state_dict().items():
        assert torch.equal(value, source_state[name]), name
    np.testing.assert_array_equal(clf.feature_mean_, pretrainer.feature_mean_)
    assert clf.score(X, y) > 0.9  # the probe on pretrained features knows the sign


def test_regressor_fine_tunes_from_a_pretrainer(pretrained):
    pretrainer, X = pretrained
    reg = TabularAttentionRegressor(**{**TINY, "max_epochs": 30}, init_from=pretrainer).fit(X, X["a"])
    assert reg.head_init_ == "linear_probe"
    assert reg.score(X, X["a"]) > 0.5


def test_pretrainer_errors_are_clear(pretrained):
    pretrainer, X = pretrained
    with pytest.raises(ValueError, match="init_from was fitted on 4 features but X has 3"):
        TabularAttentionClassifier(**TINY, init_from=pretrainer).fit(X.iloc[:, :3], X["sign"])
    with pytest.raises(ValueError, match="different architecture: set d_model=8"):
        TabularAttentionClassifier(d_model=16, n_heads=2, init_from=pretrainer).fit(X, X["sign"])
    with pytest.raises(ValueError, match="mask_ratio"):
        TabularAttentionPretrainer(mask_ratio=1.0).fit(X)
