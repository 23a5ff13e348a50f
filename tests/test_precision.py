"""precision="auto" (capability probe mocked, so independent of this machine), overrides, int8."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest
import torch

import sklattn
from sklattn import AttentionClassifier, AttentionEmbedder, TabularAttentionClassifier
from sklattn._core import precision as P

FAST = dict(max_length=32, lr=2e-3, max_epochs=2, batch_size=16, random_state=0)

AVX2_ONLY = {"avx2": True, "avx512_f": False, "avx512_bf16": False, "amx_bf16": False}
AVX512_BF16 = {"avx2": True, "avx512_f": True, "avx512_bf16": True, "amx_bf16": False}
AMX = {"avx2": True, "avx512_f": True, "avx512_bf16": True, "amx_bf16": True, "amx_tile": True}


@pytest.fixture
def cpu(monkeypatch):
    """Pretend to be a CPU with the given torch capabilities (no override in the environment)."""

    def pretend(capabilities: dict, onednn: bool = True) -> None:
        probed = []
        monkeypatch.delenv("SKLATTN_CPU_BF16", raising=False)
        monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
        monkeypatch.setattr(P, "cpu_capabilities", lambda: probed.append(1) or capabilities)
        monkeypatch.setattr(P, "onednn_enabled", lambda: onednn)
        P.cpu_bf16_support.cache_clear()
        pretend.probed = probed

    yield pretend
    P.cpu_bf16_support.cache_clear()


def test_avx2_only_cpu_resolves_auto_to_fp32(cpu):
    cpu(AVX2_ONLY)
    assert P.auto_precision("cpu") == "fp32"
    assert P.cpu_bf16_support().instructions == ()


@pytest.mark.parametrize("capabilities", [AVX512_BF16, AMX], ids=["avx512_bf16", "amx"])
def test_bf16_cpu_resolves_auto_to_bf16(cpu, capabilities):
    cpu(capabilities)
    assert P.auto_precision("cpu") == "bf16"
    assert P.auto_precision("cpu") == "bf16"
    assert len(cpu.probed) == 1  # decided once per process


def test_bf16_flags_without_fast_kernels_fall_back_to_fp32(cpu, monkeypatch):
    cpu(AMX)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")  # flags say yes, oneDNN may not use them
    support = P.cpu_bf16_support()
    assert (support.fast, P.auto_precision("cpu")) == (False, "fp32")
    assert "ONEDNN_MAX_CPU_ISA=AVX2" in support.reason
    cpu(AMX, onednn=False)
    assert P.auto_precision("cpu") == "fp32"
    assert "oneDNN" in P.cpu_bf16_support().reason


@pytest.mark.parametrize("major, expected", [(8, "bf16"), (9, "bf16"), (7, "fp32")])
def test_cuda_resolves_auto_from_native_bf16_support(monkeypatch, cpu, major, expected):
    cpu(AMX)  # the CPU does not matter for a CUDA device
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: types.SimpleNamespace(major=major))
    assert P.auto_precision("cuda:0") == expected
    assert P.auto_precision(torch.device("cuda", 1)) == expected


def test_cuda_unavailable_and_other_devices_resolve_to_fp32(monkeypatch, cpu):
    cpu(AMX)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert P.auto_precision("cuda") == "fp32"
    assert P.auto_precision("mps") == "fp32"


def test_explicit_precisions_are_kept_and_int8_trains_as_auto(cpu):
    cpu(AVX2_ONLY)
    for precision in ("fp32", "bf16"):
        assert P.resolve_precision(precision, "cpu", training=True) == precision
        assert P.resolve_precision(precision, "cpu", training=False) == precision
    assert P.resolve_precision("int8", "cpu", training=True) == "fp32"
    assert P.resolve_precision("int8", "cpu", training=False) == "int8"
    cpu(AMX)
    assert P.resolve_precision("int8", "cpu", training=True) == "bf16"


def test_int8_on_cuda_is_a_clear_error():
    with pytest.raises(ValueError, match="precision='int8' predicts on the CPU only.*device='cpu'"):
        P.resolve_precision("int8", "cuda", training=False)


@pytest.mark.parametrize("value, expected", [("0", "fp32"), ("1", "bf16")])
def test_environment_overrides_the_cpu_decision(cpu, monkeypatch, value, expected):
    cpu(AMX if value == "0" else AVX2_ONLY)
    monkeypatch.setenv("SKLATTN_CPU_BF16", value)
    assert P.auto_precision("cpu") == expected
    assert "SKLATTN_CPU_BF16" in P.cpu_bf16_support().reason


def test_timed_probe_runs_and_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    assert P.timed_bf16_speedup(rows=16, width=8, repeats=1) > 0
    assert torch.equal(state, torch.random.get_rng_state())


# ------------------------------------------------------------------ estimators
def test_auto_is_the_default_and_precision_is_recorded(cpu, tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    assert AttentionClassifier(tiny_checkpoint).precision == "auto"
    assert TabularAttentionClassifier().precision == "auto"
    assert AttentionEmbedder(tiny_checkpoint).precision == "auto"
    cpu(AVX2_ONLY)
    assert AttentionClassifier(tiny_checkpoint, **FAST).fit(X, y).precision_ == "fp32"
    cpu(AMX)
    assert AttentionClassifier(tiny_checkpoint, **FAST).fit(X, y).precision_ == "bf16"
    assert AttentionClassifier(tiny_checkpoint, precision="fp32", **FAST).fit(X, y).precision_ == "fp32"
    assert AttentionEmbedder(tiny_checkpoint, max_length=32).fit(X).precision_ == "bf16"
    Xt = np.random.default_rng(0).normal(size=(40, 3))
    tab = TabularAttentionClassifier(max_epochs=2, d_model=8, n_heads=2, random_state=0)
    assert tab.fit(Xt, Xt[:, 0] > 0).precision_ == "bf16"


def test_training_runs_under_the_resolved_autocast(cpu, tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    seen = []
    cpu(AMX)
    clf = AttentionClassifier(tiny_checkpoint, **FAST)
    original = type(clf).infer

    def spy(self, x, **kwargs):
        outputs = original(self, x, **kwargs)
        seen.append((torch.is_inference_mode_enabled(), outputs.dtype))
        return outputs

    type(clf).infer = spy
    try:
        clf.fit(X, y)
        cpu(AVX2_ONLY)  # the same fitted model now predicts in fp32
        clf.predict_proba(X[:4])
    finally:
        type(clf).infer = original
    assert {dtype for predicting, dtype in seen if not predicting} == {torch.bfloat16}
    assert {dtype for predicting, dtype in seen if predicting} == {torch.float32}


def test_bf16_fitted_model_predicts_in_fp32_within_tolerance(cpu, tiny_checkpoint, sentiment_data, tmp_path):
    X, y = sentiment_data
    cpu(AMX)
    clf = AttentionClassifier(tiny_checkpoint, **FAST).fit(X, y)
    assert clf.precision_ == "bf16"
    bf16 = clf.predict_proba(X)
    clf.save(tmp_path / "model")
    weights = json.loads((tmp_path / "model" / "sklattn.json").read_text())
    assert weights["params"]["precision"] == "auto"
    from safetensors.torch import load_file

    saved = load_file(next((tmp_path / "model").glob("*.safetensors")))
    assert {tensor.dtype for tensor in saved.values() if tensor.is_floating_point()} == {torch.float32}
    cpu(AVX2_ONLY)  # another machine: the loaded model resolves auto on its own
    loaded = sklattn.load(tmp_path / "model")
    assert loaded.precision == "auto" and loaded.precision_ == "bf16"  # how it was trained
    fp32 = loaded.predict_proba(X)
    assert np.abs(fp32 - clf.set_params(precision="fp32").predict_proba(X)).max() < 1e-6
    assert np.abs(fp32 - bf16).max() < 0.05
    assert (fp32.argmax(1) == bf16.argmax(1)).mean() >= 0.9


def test_int8_predictions_are_close_to_fp32(tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    clf = AttentionClassifier(tiny_checkpoint, precision="fp32", **FAST).fit(X, y)
    fp32 = clf.predict_proba(X)
    int8 = clf.set_params(precision="int8").predict_proba(X)
    assert np.abs(int8 - fp32).max() < 0.05
    assert isinstance(clf.module_.head, torch.nn.Linear)  # the fitted model is untouched
    assert np.array_equal(clf.set_params(precision="fp32").predict_proba(X), fp32)
    emb = AttentionEmbedder(tiny_checkpoint, max_length=32, precision="fp32").fit(X)
    z32 = emb.transform(X)
    z8 = emb.set_params(precision="int8").transform(X)
    assert z8.dtype == np.float32
    assert np.min(np.sum(z32 * z8, axis=1)) > 0.98  # cosine similarity of unit vectors


def test_int8_copy_is_cached_until_the_weights_change():
    module = torch.nn.Sequential(torch.nn.Linear(4, 4))
    first = P.int8_module(module)
    assert P.int8_module(module) is first
    with torch.no_grad():
        module[0].weight.add_(1.0)
    assert P.int8_module(module) is not first


def test_int8_on_cuda_estimator_is_a_clear_error(tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    clf = AttentionClassifier(tiny_checkpoint, precision="fp32", **FAST).fit(X, y)
    clf.set_params(precision="int8")
    clf.device = "cuda"  # what a model moved to a GPU would report
    with pytest.raises(ValueError, match="CPU only"):
        clf._prediction_precision()
