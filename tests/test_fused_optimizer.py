"""AdamW steps with torch's fused kernel where the parameters' device has one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sklattn import AttentionClassifier, TabularAttentionClassifier
from sklattn._core import net
from sklattn._core.net import build_optimizer

needs_cpu_kernel = pytest.mark.skipif("cpu" not in net.fused_kernel_devices(),
                                      reason="this torch has no fused CPU AdamW (torch < 2.4)")


def groups() -> list:
    layer = torch.nn.Linear(4, 3)
    return [{"params": [layer.weight], "weight_decay": 0.01}, {"params": [layer.bias], "weight_decay": 0.0}]


@needs_cpu_kernel
@pytest.mark.parametrize("optimizer", [torch.optim.AdamW, torch.optim.Adam])
def test_adam_is_fused_where_the_device_has_the_kernel(optimizer):
    assert build_optimizer(optimizer, groups(), lr=1e-3).defaults["fused"] is True


@pytest.mark.parametrize("kwargs", [{"fused": False}, {"foreach": True}, {"foreach": False}])
def test_the_users_choice_of_kernel_is_kept(kwargs):
    built = build_optimizer(torch.optim.AdamW, groups(), lr=1e-3, **kwargs)
    assert not built.defaults["fused"]
    assert all(built.defaults[key] == value for key, value in kwargs.items())


def test_no_fused_kernel_without_one_for_the_device_or_outside_adam(monkeypatch):
    assert not build_optimizer(torch.optim.SGD, groups(), lr=1e-3).defaults.get("fused")
    monkeypatch.setattr(net, "fused_kernel_devices", lambda: ("cuda",))
    assert not build_optimizer(torch.optim.AdamW, groups(), lr=1e-3).defaults["fused"]


@needs_cpu_kernel
def test_a_fit_steps_fused_and_learns_what_the_loop_learns(tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    params = {"max_epochs": 2, "batch_size": 8, "random_state": 0, "precision": "fp32", "tfidf_blend": False}
    fused = AttentionClassifier(tiny_checkpoint, **params).fit(X, y)
    looped = AttentionClassifier(tiny_checkpoint, optimizer__foreach=False, **params).fit(X, y)
    assert fused.optimizer_.defaults["fused"] is True
    assert not looped.optimizer_.defaults["fused"]
    # The same update in another order of float operations.
    np.testing.assert_allclose(fused.predict_proba(X), looped.predict_proba(X), atol=1e-4)


@needs_cpu_kernel
def test_tabular_fits_step_fused_too():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    model = TabularAttentionClassifier(max_epochs=1, random_state=0).fit(X, y)
    assert model.optimizer_.defaults["fused"] is True
