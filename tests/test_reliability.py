"""Reliability under faults: resume after a crash, Ctrl-C, diverging losses, hostile
text and labels, determinism across processes, parallel and threaded use, offline use."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from conftest import make_sentiment_texts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback, EarlyStopping
from skorch.dataset import ValidSplit

from sklattn import AttentionClassifier, AttentionRegressor, TabularAttentionClassifier, TabularAttentionRegressor
from sklattn.callbacks import NonFiniteLossError, ResumableCheckpoint
import types
import sklattn
from sklattn import AttentionEmbedder
from sklattn._core import precision as P

TESTS = os.path.dirname(__file__)
FAST = dict(max_length=32, lr=2e-3, batch_size=16, random_state=0)
TABULAR = dict(d_model=8, n_heads=2, n_layers=1, lr=1e-2, batch_size=16, random_state=0)
FEW = settings(max_examples=12, deadline=None, database=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _tabular_data(n: int = 64, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def _weights(estimator) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in estimator.module_.state_dict().items()}


def _assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.allclose(a[name], b[name], rtol=0, atol=1e-6), name


def _python(code: str, *, offline: bool = False) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (one torch thread, like the test process)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    if offline:  # prove the network is not needed, without relying on the hub's offline switch
        env.pop("HF_HUB_OFFLINE")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=240)


# ------------------------------------------------------------ checkpoint and resume
class _CrashInEpoch(Callback):
    """Raise at the start of an epoch, standing in for a crash (cheaper than a process)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_begin(self, net, **kwargs) -> None:
        if len(net.history) == self.epoch:
            raise RuntimeError("simulated crash")


def test_resume_restores_callback_state_tabular_with_staged_freezing(tmp_path):
    """The backbone-freezing stage, warmup schedule and RNG resume where they stopped."""
    X, y = _tabular_data()
    params = dict(TABULAR, max_epochs=5, freeze_backbone=3, train_split=ValidSplit(0.25))
    full = TabularAttentionClassifier(**params).fit(X, y)
    clf = TabularAttentionClassifier(**params, callbacks=[_CrashInEpoch(4), ResumableCheckpoint(tmp_path)])
    with pytest.raises(RuntimeError, match="simulated crash"):
        clf.fit(X, y)
    with pytest.raises(NotFittedError):  # a fit that raised leaves no half-trained model behind
        clf.predict(X)
    resumed = clf.set_params(callbacks=[ResumableCheckpoint(tmp_path)]).fit(X, y)
    assert dict(resumed.callbacks_)["ResumableCheckpoint"].resumed_from_epoch_ == 3
    assert dict(resumed.callbacks_)["lr_schedule"].step_ == dict(full.callbacks_)["lr_schedule"].step_
    assert [row["train_loss"] for row in resumed.history_] == [row["train_loss"] for row in full.history_]
    _assert_same_weights(_weights(full), _weights(resumed))


def test_resume_refuses_the_state_of_a_different_fit(tmp_path):
    X, y = _tabular_data()
    params = dict(TABULAR, max_epochs=3)
    with pytest.raises(RuntimeError):
        TabularAttentionClassifier(**params, callbacks=[_CrashInEpoch(2), ResumableCheckpoint(tmp_path)]).fit(X, y)
    other = TabularAttentionClassifier(**params, callbacks=[ResumableCheckpoint(tmp_path)])
    with pytest.raises(ValueError, match="state of a different fit .*differs in: data.*delete the file"):
        other.fit(X[::-1], y[::-1])
    with pytest.raises(ValueError, match="differs in: max_epochs"):
        other.set_params(max_epochs=5).fit(X, y)


def test_corrupted_weights_fail_clearly_and_a_failed_refit_leaves_no_model(tiny_checkpoint, tmp_path):
    X, y = make_sentiment_texts(32)
    clf = AttentionClassifier(tiny_checkpoint, max_length=16, max_epochs=1, random_state=0).fit(X, y)
    broken = tmp_path / "broken"
    shutil.copytree(tiny_checkpoint, broken)
    (broken / "model.safetensors").write_bytes(b"not a weight file")
    with pytest.raises(ValueError, match=r"could not read the weights of checkpoint .*broken.*truncated or corrupted"):
        clf.set_params(checkpoint=str(broken)).fit(X, y)
    with pytest.raises(NotFittedError):  # not the old weights under the new parameters
        clf.predict(X[:2])


# ------------------------------------------------------------------- interrupts
class _InterruptInEpoch(Callback):
    """Raise KeyboardInterrupt (Ctrl-C) after the first training batch of an epoch."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_batch_end(self, net, training=False, **kwargs) -> None:
        if training and len(net.history) == self.epoch:
            raise KeyboardInterrupt


@pytest.mark.parametrize("kind", ["text", "tabular"])
def test_keyboard_interrupt_leaves_a_usable_estimator_with_a_warning(kind, tiny_checkpoint, sentiment_data):
    if kind == "text":
        X, y = sentiment_data
        est = AttentionClassifier(tiny_checkpoint, **FAST, max_epochs=5, callbacks=[_InterruptInEpoch(2)])
    else:
        X, y = _tabular_data()
        est = TabularAttentionClassifier(**TABULAR, max_epochs=5, callbacks=[_InterruptInEpoch(2)])
    with pytest.warns(UserWarning, match="interrupted \\(KeyboardInterrupt\\) in epoch 2.*can predict"):
        est.fit(X, y)
    check_is_fitted(est)
    assert len(est.history_) == 2
    assert set(est.predict(X)) <= set(est.classes_)
    assert np.isfinite(est.predict_proba(X)).all()
    est.partial_fit(X, y)  # and training can continue
    assert len(est.history_) == 7


def test_early_stopping_is_not_reported_as_an_interrupt(tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    never_improves = EarlyStopping(monitor="train_loss", patience=1, threshold=0.99)
    clf = AttentionClassifier(tiny_checkpoint, **FAST, max_epochs=6, callbacks=[never_improves])
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*interrupted")
        clf.fit(X, y)
    assert len(clf.history_) == 2


# ------------------------------------------------------------- non-finite losses
def test_absurd_learning_rate_stops_with_a_clear_error(tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    clf = AttentionClassifier(tiny_checkpoint, **{**FAST, "lr": 1e6}, warmup_ratio=0.0, max_epochs=3)
    with pytest.raises(NonFiniteLossError, match=r"training loss became nan in epoch 1, batch \d+.*"
                                                 r"learning rate too high \(lr=1000000.0"):
        clf.fit(X, y)
    assert issubclass(NonFiniteLossError, ValueError)
    with pytest.raises(NotFittedError):  # no NaN predictions from the diverged weights
        clf.predict(X)


def test_bf16_divergence_names_bf16(tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    clf = AttentionClassifier(tiny_checkpoint, **{**FAST, "lr": 1e6}, warmup_ratio=0.0, precision="bf16")
    with pytest.raises(NonFiniteLossError, match="bfloat16 overflow \\(precision='bf16'"):
        clf.fit(X[:64], y[:64])


@pytest.mark.parametrize("kind", ["text", "tabular"])
def test_overflowing_targets_stop_with_a_clear_error(kind, tiny_checkpoint, sentiment_data):
    huge = np.full(64, 1e30)  # finite in float64, its square overflows float32
    if kind == "text":
        est, X = AttentionRegressor(tiny_checkpoint, **FAST, max_epochs=1, scale_target=False), sentiment_data[0][:64]
    else:
        est, X = TabularAttentionRegressor(**TABULAR, max_epochs=1, scale_target=False), _tabular_data()[0]
    with pytest.raises(NonFiniteLossError, match="training loss became inf in epoch 1, batch 1.*extreme values in the targets"):
        est.fit(X, huge)


class _PoisonHeadAfterStep(Callback):
    """A NaN in the weights after the epoch's last optimizer step, which no loss sees."""

    def on_batch_end(self, net, training=False, **kwargs) -> None:
        if training:
            with torch.no_grad():
                net.module_.head.weight[0, 0] = float("nan")


def test_weights_that_turn_nan_after_the_last_loss_are_caught():
    X, y = _tabular_data()
    clf = TabularAttentionClassifier(**{**TABULAR, "batch_size": 64}, max_epochs=1, early_stopping=False, callbacks=[_PoisonHeadAfterStep()])
    with pytest.raises(NonFiniteLossError, match=r"weights \(head.weight\) became NaN or infinite in epoch 1"):
        clf.fit(X, y)
    with pytest.raises(NotFittedError):
        clf.predict(X)


def test_predictions_are_never_silently_nan():
    X, y = _tabular_data()
    reg = TabularAttentionRegressor(**TABULAR, max_epochs=2).fit(X, y.astype(float))
    extreme = X[:4].copy()
    extreme[0, 0] = 1e300  # finite, but overflows float32 once standardized
    with np.errstate(over="ignore"), pytest.raises(ValueError, match="NaN or infinite outputs .*extreme values"):
        reg.predict(extreme)
    assert np.isfinite(reg.predict(X)).all()


# --------------------------------------------------------------- hostile text
@pytest.fixture(scope="module")
def fitted_classifier(tiny_checkpoint):
    X, y = make_sentiment_texts(96)
    return AttentionClassifier(tiny_checkpoint, **FAST, max_epochs=4).fit(X, y)


def _assert_valid_predictions(clf, texts) -> None:
    proba = clf.predict_proba(texts)
    assert proba.shape == (len(texts), len(clf.classes_))
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert set(clf.predict(texts)) <= set(clf.classes_)


@FEW
@given(texts=st.lists(st.text(max_size=60), min_size=1, max_size=8))
def test_any_unicode_text_gets_valid_probabilities(fitted_classifier, texts):
    _assert_valid_predictions(fitted_classifier, texts)


def test_extreme_texts_get_valid_probabilities(fitted_classifier):
    texts = ["", " \t\n ", "\x00\x01\x07\x1b[31m", "good " * 20_000, "🙂🔥" * 300,
             "\u202egood\u202c", "e\u0301\u0301\u0301", "\ud7ff\ufeff\ufffd", "غير جيد", "很好"]
    _assert_valid_predictions(fitted_classifier, texts)


@settings(max_examples=8, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(st.text(max_size=40), min_size=2, max_size=8))
def test_fit_on_any_unicode_text(tiny_checkpoint, texts):
    labels = ["a", "b"] * (len(texts) // 2) + ["a"] * (len(texts) % 2)
    clf = AttentionClassifier(tiny_checkpoint, max_length=32, max_epochs=1, batch_size=4, random_state=0)
    _assert_valid_predictions(clf.fit(texts, labels), texts)


LABEL_SETS = st.one_of(
    st.lists(st.integers(-3, 3), min_size=2, max_size=8),
    st.lists(st.text(max_size=3), min_size=2, max_size=8),
    st.lists(st.booleans(), min_size=2, max_size=8),
    st.lists(st.one_of(st.integers(0, 2), st.sampled_from(["x", "y"])), min_size=2, max_size=8),
)


@FEW
@given(labels=LABEL_SETS)
def test_any_label_set_fits_or_fails_clearly(tiny_checkpoint, labels):
    X, _ = make_sentiment_texts(len(labels))
    clf = AttentionClassifier(tiny_checkpoint, max_length=32, max_epochs=1, batch_size=8, random_state=0)
    kinds = {str if isinstance(label, str) else int for label in labels}
    if len(kinds) > 1:
        with pytest.raises(TypeError, match="mixes label types"):
            clf.fit(X, labels)
    elif len(set(labels)) < 2:
        with pytest.raises(ValueError, match="only one class"):
            clf.fit(X, labels)
    else:
        predicted = clf.fit(X, labels).predict(X)
        assert sorted(set(labels)) == list(clf.classes_)
        assert set(predicted.tolist()) <= set(labels)
        assert all(type(p) is type(labels[0]) for p in predicted.tolist())


# ------------------------------------------------------------------ concurrency
def test_grid_search_and_cross_val_score_with_two_loky_workers(tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    clf = AttentionClassifier(tiny_checkpoint, **FAST, max_epochs=8)
    parallel = cross_val_score(clf, X, y, cv=2, n_jobs=2)
    np.testing.assert_array_equal(parallel, cross_val_score(clf, X, y, cv=2))  # same seed, other processes
    # The network alone: lr moves it, not the TF-IDF side, which reads this cue as well.
    search = GridSearchCV(clf.set_params(tfidf_blend=False), {"lr": [1e-7, 2e-3]}, cv=2, n_jobs=2).fit(X, y)
    assert search.best_params_ == {"lr": 2e-3}
    assert search.best_score_ >= 0.75


def test_predict_from_many_threads_matches_sequential(fitted_classifier):
    X, _ = make_sentiment_texts(400, seed=3)
    chunks = [X[i::8] for i in range(8)]
    expected = [fitted_classifier.predict_proba(chunk) for chunk in chunks]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(fitted_classifier.predict_proba, chunks * 3))
    for i, result in enumerate(results):
        np.testing.assert_array_equal(result, expected[i % len(chunks)])


# ------------------------------------------------------------- fresh processes
# Starting Python with torch, transformers and scikit-learn takes seconds, so the
# checks that need a clean interpreter share two processes: one killed (SIGKILL) in
# the middle of a fit, and one in which every socket raises that measures peak
# memory over cross-validation folds, resumes the killed fit, and fits, saves,
# loads and predicts. Each check fails on its own with its section's traceback.
RESUME_PARAMS = dict(FAST, max_epochs=4)
DETERMINISM_PARAMS = dict(FAST, max_epochs=12)
# Stops when the validation loss has not halved for 2 epochs: after epoch 3 here.
EARLY_STOPPING = dict(monitor="valid_loss", patience=2, threshold=0.5)


def resumable_classifier(checkpoint, state_dir, *extra_callbacks):
    """The resume test's estimator; the scripts below build the very same one."""
    return AttentionClassifier(
        checkpoint, **RESUME_PARAMS, train_split=ValidSplit(0.25),
        callbacks=[ResumableCheckpoint(state_dir), EarlyStopping(patience=10), *extra_callbacks],
    )


PRELUDE = textwrap.dedent(
    """
    import json, os, pickle, signal, socket, sys, tempfile, time, traceback
    started = time.process_time()
    network_calls = []

    class _NoNetwork(socket.socket):
        def __init__(self, *args, **kwargs):
            network_calls.append(repr(args))
            raise OSError("network access blocked by the offline test")

    def _no_connection(*args, **kwargs):
        network_calls.append(repr(args))
        raise OSError("network access blocked by the offline test")

    if {offline!r}:  # before any import: the whole run must do without a network
        socket.socket = _NoNetwork
        socket.create_connection = _no_connection
    sys.path.insert(0, {tests!r})
    import numpy as np
    import torch
    torch.set_num_threads(1)
    import sklattn
    from conftest import make_sentiment_texts
    from skorch.callbacks import Callback, EarlyStopping
    from skorch.dataset import ValidSplit
    from sklattn import AttentionClassifier
    from sklattn.callbacks import ResumableCheckpoint

    def resumable_classifier(checkpoint, state_dir, *extra_callbacks):
        return AttentionClassifier(
            checkpoint, **{resume_params!r}, train_split=ValidSplit(0.25),
            callbacks=[ResumableCheckpoint(state_dir), EarlyStopping(patience=10), *extra_callbacks],
        )
    """
)

KILLED_SCRIPT = PRELUDE + textwrap.dedent(
    """
    class KillDuringEpoch(Callback):
        '''SIGKILL this process after the first training batch of an epoch: a hard crash.'''
        def __init__(self, epoch):
            self.epoch = epoch
        def on_batch_end(self, net, training=False, **kwargs):
            if training and len(net.history) == self.epoch:
                os.kill(os.getpid(), signal.SIGKILL)

    X, y = make_sentiment_texts(96)
    resumable_classifier({ckpt!r}, {state_dir!r}, KillDuringEpoch(3)).fit(X, y)
    """
)

FRESH_SCRIPT = PRELUDE + textwrap.dedent(
    """
    from sklearn.model_selection import cross_val_score
    from transformers import AutoTokenizer, BertConfig, BertModel

    out = {out_dir!r}
    report = {{"network_calls": network_calls, "errors": {{}}}}

    def section(name):
        def run(check):
            start = time.process_time()
            try:
                check()
            except Exception:
                report["errors"][name] = traceback.format_exc()
            report.setdefault("cpu_seconds", {{}})[name] = round(time.process_time() - start, 1)
        return run

    def peak_mb():
        with open("/proc/self/status") as status:
            return int(next(l for l in status if l.startswith("VmHWM:")).split()[1]) / 1024

    @section("memory")
    def _():
        # ~3M parameters: a fold whose model (and AdamW moments) stayed alive would raise
        # the peak of every later fold by ~36 MB (measured with leak=True).
        ckpt = tempfile.mkdtemp()
        tokenizer = AutoTokenizer.from_pretrained({ckpt!r})
        tokenizer.save_pretrained(ckpt)
        torch.manual_seed(0)
        BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=256, num_hidden_layers=4,
                             num_attention_heads=4, intermediate_size=512,
                             max_position_embeddings=64)).save_pretrained(ckpt)
        X, y = make_sentiment_texts(100)
        peaks, kept = [], []

        def score_and_measure(estimator, X_test, y_test):
            if {leak!r}:  # True only to check that this test can see a leak
                kept.append(estimator)
            peaks.append(peak_mb())
            return estimator.score(X_test, y_test)

        clf = AttentionClassifier(ckpt, max_length=32, max_epochs=1, batch_size=16, random_state=0)
        cross_val_score(clf, X, y, cv=5, scoring=score_and_measure)
        report["peaks_mb"] = peaks

    @section("resume")
    def _():
        X, y = make_sentiment_texts(96)
        clf = resumable_classifier({ckpt!r}, {state_dir!r}).fit(X, y)
        torch.save(clf.module_.state_dict(), os.path.join(out, "resumed.pt"))
        report["resumed_from"] = dict(clf.callbacks_)["ResumableCheckpoint"].resumed_from_epoch_
        report["resumed_epochs"] = len(clf.history_)

    @section("offline")
    def _():
        X, y = make_sentiment_texts(96)
        clf = AttentionClassifier({ckpt!r}, **{determinism_params!r}, train_split=ValidSplit(0.25),
                                  callbacks=[EarlyStopping(**{early_stopping!r})]).fit(X, y)
        path = os.path.join(out, "model")
        if hasattr(sklattn, "load"):  # sklattn's own persistence, once it exists
            clf.save(path)
            restored, report["saved_with"] = sklattn.load(path), "sklattn.save/load"
        else:
            with open(path, "wb") as f:
                pickle.dump(clf, f)
            with open(path, "rb") as f:
                restored, report["saved_with"] = pickle.load(f), "pickle"
        np.save(os.path.join(out, "proba.npy"), clf.predict_proba(X))
        np.save(os.path.join(out, "restored.npy"), restored.predict_proba(X))
        report["epochs"] = len(clf.history_)

    report["cpu_seconds"]["total"] = round(time.process_time() - started, 1)
    print(json.dumps(report))
    """
)


@pytest.fixture(scope="module")
def killed_run(tiny_checkpoint, tmp_path_factory):
    state_dir = tmp_path_factory.mktemp("killed")
    result = _python(KILLED_SCRIPT.format(tests=TESTS, offline=False, resume_params=RESUME_PARAMS,
                                          ckpt=tiny_checkpoint, state_dir=str(state_dir)))
    return result, state_dir


@pytest.fixture(scope="module")
def fresh_process(killed_run, tiny_checkpoint, tmp_path_factory):
    _, state_dir = killed_run
    out_dir = tmp_path_factory.mktemp("fresh")
    result = _python(FRESH_SCRIPT.format(
        tests=TESTS, offline=True, resume_params=RESUME_PARAMS, ckpt=tiny_checkpoint,
        state_dir=str(state_dir), out_dir=str(out_dir), leak=False,
        determinism_params=DETERMINISM_PARAMS, early_stopping=EARLY_STOPPING,
    ), offline=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1]), out_dir


def _section(fresh_process, name: str):
    report, out_dir = fresh_process
    assert name not in report["errors"], report["errors"].get(name)
    return report, out_dir


def test_resume_after_kill_9_in_a_fresh_process_matches_uninterrupted_fit(killed_run, fresh_process,
                                                                          tiny_checkpoint, tmp_path):
    """Killed (SIGKILL) in epoch 3 of 4 with the state of epoch 2 on disk, resumed in
    another process: the same final weights as a fit that never crashed."""
    killed, state_dir = killed_run
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    report, out_dir = _section(fresh_process, "resume")
    assert report["resumed_from"] == 2 and report["resumed_epochs"] == 4
    assert not (state_dir / "training_state.pt").exists()  # the completed fit cleaned up
    X, y = make_sentiment_texts(96)
    uninterrupted = resumable_classifier(tiny_checkpoint, tmp_path).fit(X, y)
    _assert_same_weights(_weights(uninterrupted), torch.load(out_dir / "resumed.pt"))


def test_fit_save_load_predict_with_network_blocked(fresh_process):
    report, out_dir = _section(fresh_process, "offline")
    assert report["network_calls"] == []
    np.testing.assert_array_equal(np.load(out_dir / "proba.npy"), np.load(out_dir / "restored.npy"))


def test_same_random_state_same_predictions_across_processes_with_early_stopping(fresh_process, tiny_checkpoint):
    report, out_dir = _section(fresh_process, "offline")
    X, y = make_sentiment_texts(96)
    clf = AttentionClassifier(tiny_checkpoint, **DETERMINISM_PARAMS, train_split=ValidSplit(0.25),
                              callbacks=[EarlyStopping(**EARLY_STOPPING)]).fit(X, y)
    assert len(clf.history_) == report["epochs"] < DETERMINISM_PARAMS["max_epochs"]  # it did stop early
    np.testing.assert_array_equal(clf.predict_proba(X), np.load(out_dir / "proba.npy"))


def test_peak_memory_does_not_grow_across_folds(fresh_process):
    report, _ = _section(fresh_process, "memory")
    peaks = report["peaks_mb"]
    print("peak RSS after each of 5 folds (MB):", [round(p) for p in peaks])
    assert len(peaks) == 5
    assert peaks[-1] - peaks[1] < 50, peaks


# -------- numeric precision: precision='auto' (probe mocked), overrides, int8
# precision="auto" (capability probe mocked, so independent of this machine), overrides, int8.


PRECISION_FIT = dict(max_length=32, lr=2e-3, max_epochs=2, batch_size=16, random_state=0)

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
    assert AttentionClassifier(tiny_checkpoint, **PRECISION_FIT).fit(X, y).precision_ == "fp32"
    cpu(AMX)
    assert AttentionClassifier(tiny_checkpoint, **PRECISION_FIT).fit(X, y).precision_ == "bf16"
    assert AttentionClassifier(tiny_checkpoint, precision="fp32", **PRECISION_FIT).fit(X, y).precision_ == "fp32"
    assert AttentionEmbedder(tiny_checkpoint, max_length=32).fit(X).precision_ == "bf16"
    Xt = np.random.default_rng(0).normal(size=(40, 3))
    tab = TabularAttentionClassifier(max_epochs=2, d_model=8, n_heads=2, random_state=0)
    assert tab.fit(Xt, Xt[:, 0] > 0).precision_ == "bf16"


def test_training_runs_under_the_resolved_autocast(cpu, tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    seen = []
    cpu(AMX)
    clf = AttentionClassifier(tiny_checkpoint, **PRECISION_FIT)
    original = type(clf).infer

    def spy(self, x, **kwargs):
        outputs = original(self, x, **kwargs)
        logits = outputs[0] if isinstance(outputs, tuple) else outputs  # (logits, pooled) in training
        seen.append((torch.is_inference_mode_enabled(), logits.dtype))
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
    clf = AttentionClassifier(tiny_checkpoint, **PRECISION_FIT).fit(X, y)
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
    clf = AttentionClassifier(tiny_checkpoint, precision="fp32", **PRECISION_FIT).fit(X, y)
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
    clf = AttentionClassifier(tiny_checkpoint, precision="fp32", **PRECISION_FIT).fit(X, y)
    clf.set_params(precision="int8")
    clf.device = "cuda"  # what a model moved to a GPU would report
    with pytest.raises(ValueError, match="CPU only"):
        clf._prediction_precision()
