"""AttentionClassifier behaviour on the tiny checkpoint."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import NEGATIVE, POSITIVE, make_sentiment_texts
from skorch.callbacks import Callback

from sklattn import AttentionClassifier
from sklattn.callbacks import warmup_linear_factor

FAST = dict(max_length=32, lr=2e-3, max_epochs=12, batch_size=16, random_state=0)


@pytest.fixture(scope="module")
def fitted(tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    return AttentionClassifier(tiny_checkpoint, **FAST).fit(X, y)


def test_fine_tuning_learns_the_task(fitted):
    X_test, y_test = make_sentiment_texts(200, seed=1)
    assert fitted.score(X_test, y_test) >= 0.95


def test_untrained_head_is_near_chance(tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    X_test, y_test = make_sentiment_texts(200, seed=1)
    clf = AttentionClassifier(tiny_checkpoint, **{**FAST, "max_epochs": 1, "lr": 1e-6}).fit(X, y)
    assert clf.score(X_test, y_test) < 0.8


def test_predict_returns_original_labels_and_proba_matches_classes(fitted):
    X_test, _ = make_sentiment_texts(20, seed=2)
    proba = fitted.predict_proba(X_test)
    assert list(fitted.classes_) == ["neg", "pos"]
    assert proba.shape == (20, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(fitted.predict(X_test), fitted.classes_[proba.argmax(axis=1)])
    assert set(fitted.predict(X_test)) <= {"neg", "pos"}


@pytest.mark.parametrize(
    "labels",
    [np.array([3, 7]), np.array([True, False]), np.array(["b", "a"]), np.array([0.5, 2.5])],
    ids=["int", "bool", "str", "float"],
)
def test_any_label_type_round_trips(tiny_checkpoint, labels):
    X, y = make_sentiment_texts(40)
    y_mapped = np.where(y == "pos", labels[0], labels[1])
    clf = AttentionClassifier(tiny_checkpoint, **{**FAST, "max_epochs": 1}).fit(X, y_mapped)
    np.testing.assert_array_equal(clf.classes_, np.sort(labels))
    assert clf.predict(X).dtype == y_mapped.dtype


def test_multiclass_has_one_column_per_class(tiny_checkpoint):
    X, y = make_sentiment_texts(60)
    y3 = np.array(["a", "b", "c"] * 20)
    clf = AttentionClassifier(tiny_checkpoint, **{**FAST, "max_epochs": 1}).fit(X, y3)
    assert clf.predict_proba(X[:5]).shape == (5, 3)
    assert clf.module_.head.out_features == 3


def test_input_containers_give_the_same_predictions(fitted):
    X_test, _ = make_sentiment_texts(10, seed=3)
    expected = fitted.predict_proba(X_test)
    for container in (list(X_test), pd.Series(X_test), pd.DataFrame({"text": X_test}),
                      np.array(X_test, dtype=str)):
        np.testing.assert_allclose(fitted.predict_proba(container), expected, atol=1e-6)


def test_prediction_order_is_restored_after_length_sorting(fitted):
    X_test, _ = make_sentiment_texts(30, seed=4)
    proba = fitted.predict_proba(X_test)
    singles = np.vstack([fitted.predict_proba([text]) for text in X_test])
    np.testing.assert_allclose(proba, singles, atol=1e-5)


@pytest.mark.parametrize("finetune", ["full", "head"])
def test_outputs_keep_input_order_for_very_different_lengths_over_several_batches(
    tiny_checkpoint, sentiment_data, finetune
):
    X, y = sentiment_data
    clf = AttentionClassifier(tiny_checkpoint, max_length=32, max_epochs=1, batch_size=3,
                              finetune=finetune, random_state=0).fit(X[:12], y[:12])
    long = " ".join(["the film was very good and the music quite lovely"] * 2)
    texts = [long, "bad", "a fine plot", long + " awful", "good", "the story was boring", "superb"]
    singles = np.vstack([clf.predict_proba([text]) for text in texts])
    np.testing.assert_allclose(clf.predict_proba(texts), singles, atol=1e-5)
    explanations = clf.explain(texts)
    assert [e["tokens"] for e in explanations] == [clf.tokenizer_.tokenize(t) for t in texts]


def test_class_weight_shifts_predictions_toward_the_weighted_class(tiny_checkpoint):
    X, y = make_sentiment_texts(80)
    X_test, _ = make_sentiment_texts(100, seed=5)
    params = {**FAST, "max_epochs": 2, "lr": 5e-4}
    plain = AttentionClassifier(tiny_checkpoint, **params).fit(X, y)
    weighted = AttentionClassifier(tiny_checkpoint, class_weight={"pos": 20.0}, **params).fit(X, y)
    assert (weighted.predict_proba(X_test)[:, 1].mean() > plain.predict_proba(X_test)[:, 1].mean() + 0.05)


def test_balanced_class_weight_equals_inverse_frequency_sample_weights(tiny_checkpoint):
    X, y = make_sentiment_texts(60)
    X, y = X[:45], y[:45]  # unbalanced: 23 pos / 22 neg is too even; drop some neg
    keep = np.r_[np.flatnonzero(y == "pos"), np.flatnonzero(y == "neg")[:8]]
    X, y = X[keep], y[keep]
    params = {**FAST, "max_epochs": 2}
    balanced = AttentionClassifier(tiny_checkpoint, class_weight="balanced", **params).fit(X, y)
    counts = {label: np.sum(y == label) for label in np.unique(y)}
    weights = np.array([1.0 / counts[label] for label in y])
    manual = AttentionClassifier(tiny_checkpoint, **params).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(balanced.predict_proba(X), manual.predict_proba(X), atol=1e-5)


def test_zero_sample_weight_ignores_those_samples(tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    flipped = np.where(y == "pos", "neg", "pos")
    X_both, y_both = np.r_[X, X], np.r_[y, flipped]
    X_test, y_test = make_sentiment_texts(200, seed=1)
    ignored = AttentionClassifier(tiny_checkpoint, **FAST).fit(
        X_both, y_both, sample_weight=np.r_[np.ones(len(X)), np.zeros(len(X))]
    )
    assert ignored.score(X_test, y_test) >= 0.95
    # Without weights the contradicting copies cancel the signal.
    unweighted = AttentionClassifier(tiny_checkpoint, **FAST).fit(X_both, y_both)
    assert unweighted.score(X_test, y_test) < 0.8


def test_warmup_linear_schedule_uses_steps_of_this_fit(tiny_checkpoint):
    X, y = make_sentiment_texts(50)
    clf = AttentionClassifier(tiny_checkpoint, **{**FAST, "max_epochs": 3, "batch_size": 10, "warmup_ratio": 0.2}).fit(X, y)
    schedule = dict(clf.callbacks_)["lr_schedule"]
    assert schedule.total_steps_ == 5 * 3
    assert schedule.warmup_steps_ == 3
    assert clf.optimizer_.param_groups[0]["lr"] == 0.0  # decayed to zero at the end
    # Half the data -> half the steps: recomputed per fit, not fixed at construction.
    clf.fit(X[:25], y[:25])
    assert dict(clf.callbacks_)["lr_schedule"].total_steps_ == 3 * 3
    assert warmup_linear_factor(0, 3, 15) == pytest.approx(1 / 3)
    assert warmup_linear_factor(2, 3, 15) == 1.0 == warmup_linear_factor(3, 3, 15)
    assert warmup_linear_factor(9, 3, 15) == pytest.approx(0.5)
    assert warmup_linear_factor(14, 3, 15) == pytest.approx(1 / 12)  # the last step still trains
    assert warmup_linear_factor(15, 3, 15) == 0.0
    assert warmup_linear_factor(0, 1, 1) == 1.0


def test_a_fit_of_one_optimizer_step_changes_the_weights(tiny_checkpoint):
    """The first step of the warmup has a learning rate above zero."""
    X, y = make_sentiment_texts(8)
    snapshot = {}

    class Snapshot(Callback):
        def on_train_begin(self, net, **kwargs):
            snapshot.update({k: v.clone() for k, v in net.module_.state_dict().items()})

    clf = AttentionClassifier(tiny_checkpoint, **{**FAST, "max_epochs": 1, "batch_size": 8},
                              callbacks=[Snapshot()]).fit(X, y)
    assert len(clf.history_[-1, "batches"]) == 1
    assert not torch.equal(clf.module_.state_dict()["head.weight"], snapshot["head.weight"])


def test_no_weight_decay_on_biases_and_layernorm(fitted):
    decay_group, no_decay_group = fitted.optimizer_.param_groups
    assert decay_group["weight_decay"] == 0.01
    assert no_decay_group["weight_decay"] == 0.0
    names = {id(p): n for n, p in fitted.module_.named_parameters()}
    no_decay_names = [names[id(p)] for p in no_decay_group["params"]]
    assert all(n.endswith("bias") or "LayerNorm" in n for n in no_decay_names)
    assert any("LayerNorm.weight" in n for n in no_decay_names)
    assert all(p.ndim >= 2 for p in decay_group["params"])


def test_gradient_clipping_bounds_the_update(tiny_checkpoint):
    X, y = make_sentiment_texts(32)
    norms = []

    from skorch.callbacks import Callback

    class RecordNorm(Callback):
        def on_grad_computed(self, net, named_parameters, **kwargs):
            grads = [p.grad for _, p in named_parameters if p.grad is not None]
            norms.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())

    # Runs after grad_clip because user callbacks are added after the defaults.
    AttentionClassifier(tiny_checkpoint, **{**FAST, "max_epochs": 1, "lr": 1.0}, max_grad_norm=1e-3,
                        callbacks=[("record", RecordNorm())]).fit(X, y)
    assert max(norms) <= 1e-3 * 1.01


def test_dynamic_padding_pads_to_batch_longest_not_max_length(tiny_checkpoint):
    X, y = make_sentiment_texts(32)
    widths = []

    from skorch.callbacks import Callback

    class RecordWidth(Callback):
        def on_batch_begin(self, net, batch=None, training=False, **kwargs):
            widths.append(batch[0]["input_ids"].shape[1])

    clf = AttentionClassifier(tiny_checkpoint, **{**FAST, "max_epochs": 1},
                              callbacks=[("width", RecordWidth())]).fit(X, y)
    lengths = [len(ids) for ids in clf.tokenizer_(list(X))["input_ids"]]
    assert max(widths) == max(lengths) < clf.max_length


def test_bf16_precision_trains_and_predicts(tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    clf = AttentionClassifier(tiny_checkpoint, precision="bf16", **FAST).fit(X, y)
    X_test, y_test = make_sentiment_texts(100, seed=1)
    assert clf.predict_proba(X_test).dtype == np.float32
    assert clf.score(X_test, y_test) >= 0.9


def _pairs(n: int, seed: int):
    """Pairs whose label is the polarity of the *second* text; the first is a distractor."""
    rng = np.random.default_rng(seed)
    first = rng.choice(POSITIVE + NEGATIVE, n)
    second = rng.choice(POSITIVE + NEGATIVE, n)
    return np.c_[first, second], np.where(np.isin(second, POSITIVE), "pos", "neg")


def test_sentence_pairs_are_encoded_as_one_input(tiny_checkpoint):
    X, y = _pairs(160, seed=0)
    X_test, y_test = _pairs(200, seed=1)
    clf = AttentionClassifier(tiny_checkpoint, **FAST).fit(X, y)
    assert clf.n_text_columns_ == 2
    assert clf.score(X_test, y_test) >= 0.95
    assert clf.score(list(map(tuple, X_test)), y_test) == clf.score(X_test, y_test)
    with pytest.raises(ValueError, match="fitted on sentence pairs but got single texts"):
        clf.predict(list(X_test[:, 0]))


def _multilabel_texts(n: int, seed: int):
    """Label 0: has a positive word; label 1: has a negative word (both, one or none)."""
    rng = np.random.default_rng(seed)
    texts, Y = [], []
    for _ in range(n):
        has_pos, has_neg = rng.random() < 0.5, rng.random() < 0.5
        words = list(rng.choice(["the", "film", "plot", "was", "and"], size=3))
        words += [rng.choice(POSITIVE)] if has_pos else []
        words += [rng.choice(NEGATIVE)] if has_neg else []
        rng.shuffle(words)
        texts.append(" ".join(words))
        Y.append([int(has_pos), int(has_neg)])
    return np.array(texts, dtype=object), np.array(Y)


def test_multilabel_indicator_y_learns_independent_labels(tiny_checkpoint):
    from sklearn.metrics import f1_score
    from sklearn.model_selection import GridSearchCV
    from sklearn.preprocessing import MultiLabelBinarizer

    X, Y = _multilabel_texts(200, seed=0)
    X_test, Y_test = _multilabel_texts(200, seed=1)
    clf = AttentionClassifier(tiny_checkpoint, **{**FAST, "max_epochs": 15}).fit(X, Y)
    assert clf.multilabel_ and list(clf.classes_) == [0, 1]
    proba = clf.predict_proba(X_test)
    assert proba.shape == (200, 2)
    assert not np.allclose(proba.sum(axis=1), 1.0)  # sigmoid, not softmax
    predicted = clf.predict(X_test)
    np.testing.assert_array_equal(predicted, (proba >= 0.5).astype(int))
    assert f1_score(Y_test, predicted, average="micro") >= 0.9
    strict = clf.set_params(threshold=0.99).predict(X_test)
    assert strict.sum() < predicted.sum()

    # MultiLabelBinarizer output (sparse too) and a multi-label scorer in a search.
    sets = [{name for name, on in zip(("pos", "neg"), row) if on} for row in Y]
    sparse_Y = MultiLabelBinarizer(sparse_output=True).fit_transform(sets)
    search = GridSearchCV(AttentionClassifier(tiny_checkpoint, **{**FAST, "max_epochs": 2}),
                          {"pooling": ["mean", "max"]}, scoring="f1_micro", cv=2).fit(X, sparse_Y)
    assert 0.0 <= search.best_score_ <= 1.0


@pytest.mark.parametrize(
    "Y, message",
    [
        (np.array([[0, 2], [1, 0]] * 4), "0/1 indicator matrix"),
        (np.array([["a", "b"], ["b", "a"]] * 4), "0/1 indicator matrix"),
        (np.array([[0.5, 1.0], [1.0, 0.0]] * 4), "0/1 indicator matrix"),
    ],
    ids=["two", "strings", "fraction"],
)
def test_bad_multilabel_indicator(tiny_checkpoint, Y, message):
    X, _ = make_sentiment_texts(8)
    with pytest.raises(ValueError, match=message):
        AttentionClassifier(tiny_checkpoint, **FAST).fit(X, Y)


def test_multilabel_rejects_class_weight(tiny_checkpoint):
    X, Y = _multilabel_texts(8, seed=0)
    with pytest.raises(ValueError, match="class_weight is not supported for multi-label"):
        AttentionClassifier(tiny_checkpoint, class_weight="balanced", **FAST).fit(X, Y)


def test_text_columns_select_texts_and_pairs_from_a_dataframe(tiny_checkpoint):
    X, y = _pairs(160, seed=0)
    frame = pd.DataFrame({"premise": X[:, 0], "hypothesis": X[:, 1], "id": np.arange(160)})
    clf = AttentionClassifier(tiny_checkpoint, text_columns=["premise", "hypothesis"], **FAST).fit(frame, y)
    assert clf.n_text_columns_ == 2
    X_test, y_test = _pairs(100, seed=1)
    test_frame = pd.DataFrame({"id": 0, "hypothesis": X_test[:, 1], "premise": X_test[:, 0]})
    assert clf.score(test_frame, y_test) >= 0.95  # columns found by name, not position
    single = AttentionClassifier(tiny_checkpoint, text_columns="hypothesis", **{**FAST, "max_epochs": 1})
    assert single.fit(frame, y).n_text_columns_ == 1


def test_explain_returns_normalized_weights_per_token(fitted, tiny_checkpoint):
    texts = ["the film was good", "awful plot and a very boring story indeed"]
    before = fitted.predict_proba(texts)
    implementation = fitted.module_.encoder.config._attn_implementation
    explanations = fitted.explain(texts)
    assert fitted.module_.encoder.config._attn_implementation == implementation
    assert len(explanations) == 2
    for text, explanation in zip(texts, explanations):
        assert explanation["tokens"] == fitted.tokenizer_.tokenize(text)
        assert explanation["weights"].shape == (len(explanation["tokens"]),)
        assert explanation["weights"].sum() == pytest.approx(1.0, abs=1e-5)
        assert (explanation["weights"] >= 0).all()
    # Eager attention was only for this pass: predictions are unchanged.
    np.testing.assert_allclose(fitted.predict_proba(texts), before, atol=1e-6)
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        AttentionClassifier(tiny_checkpoint).explain(texts)


# ------------------------------------------------- max_epochs="auto" (issue 17)
class _CountSteps(Callback):
    """Counts training batches (optimizer steps) of each fit."""

    def on_train_begin(self, net, **kwargs):
        self.steps_ = 0

    def on_batch_end(self, net, training=False, **kwargs):
        self.steps_ += int(training)


def _auto_fit(tiny_checkpoint, X, y, **params):
    counter = _CountSteps()
    clf = AttentionClassifier(tiny_checkpoint, max_length=16, batch_size=16, random_state=0,
                              callbacks=[("count_steps", counter)], **params).fit(X, y)
    return clf, counter.steps_


def test_auto_epochs_give_small_data_the_minimum_number_of_steps(tiny_checkpoint):
    from sklattn._text.small_data import AUTO_MIN_STEPS, auto_max_epochs

    X, y = make_sentiment_texts(20, seed=3)  # 2 batches of 16 per epoch
    clf, steps = _auto_fit(tiny_checkpoint, X, y)
    assert clf.max_epochs == "auto"
    assert clf.max_epochs_ == auto_max_epochs(2, "full") == AUTO_MIN_STEPS["full"] // 2
    assert len(clf.history_) == clf.max_epochs_
    assert steps == clf.max_epochs_ * 2 >= AUTO_MIN_STEPS["full"]
    # The warmup and decay span exactly those steps.
    schedule = dict(clf.callbacks_)["lr_schedule"]
    assert schedule.total_steps_ == schedule.step_ == steps
    assert schedule.warmup_steps_ == int(np.ceil(0.1 * steps))


def test_auto_epochs_count_the_training_split_only(tiny_checkpoint):
    from skorch.dataset import ValidSplit

    X, y = make_sentiment_texts(40, seed=3)  # 32 train texts after the split: 2 batches
    clf, steps = _auto_fit(tiny_checkpoint, X, y, train_split=ValidSplit(5, stratified=True))
    assert steps == clf.max_epochs_ * 2 >= 60
    assert "valid_loss" in clf.history_[-1]


def test_auto_epochs_on_large_data_are_exactly_three(tiny_checkpoint):
    from sklattn._text.small_data import AUTO_EPOCHS, AUTO_MIN_STEPS

    n = 16 * AUTO_MIN_STEPS["full"] // AUTO_EPOCHS  # reaches the minimum in 3 epochs
    X, y = make_sentiment_texts(n, seed=4)
    clf, steps = _auto_fit(tiny_checkpoint, X, y)
    assert clf.max_epochs_ == len(clf.history_) == AUTO_EPOCHS == 3
    assert steps == 3 * n // 16


def test_auto_epochs_for_a_frozen_encoder_use_more_steps(tiny_checkpoint):
    from sklattn._text.small_data import AUTO_MIN_STEPS

    X, y = make_sentiment_texts(20, seed=3)
    clf, steps = _auto_fit(tiny_checkpoint, X, y, finetune="head")
    assert steps == clf.max_epochs_ * 2 >= AUTO_MIN_STEPS["head"] > AUTO_MIN_STEPS["full"]


def test_integer_max_epochs_is_honoured_exactly(tiny_checkpoint):
    X, y = make_sentiment_texts(20, seed=3)
    clf, steps = _auto_fit(tiny_checkpoint, X, y, max_epochs=2)
    assert clf.max_epochs_ == len(clf.history_) == 2
    assert steps == 4
    assert dict(clf.callbacks_)["lr_schedule"].total_steps_ == 4


def test_auto_survives_clone_and_get_params(tiny_checkpoint):
    from sklearn.base import clone

    clf = AttentionClassifier(tiny_checkpoint)
    assert clf.get_params()["max_epochs"] == "auto"
    assert clone(clf).max_epochs == "auto"
    X, y = make_sentiment_texts(20, seed=3)
    fitted, _ = _auto_fit(tiny_checkpoint, X, y)
    assert clone(fitted).get_params()["max_epochs"] == "auto"
    assert not hasattr(clone(fitted), "max_epochs_")
    with pytest.raises(ValueError, match="max_epochs"):
        AttentionClassifier(tiny_checkpoint, max_epochs="long").fit(X, y)


def test_partial_fit_resolves_auto_from_each_call(tiny_checkpoint):
    X, y = make_sentiment_texts(20, seed=3)
    counter = _CountSteps()
    clf = AttentionClassifier(tiny_checkpoint, max_length=16, batch_size=16, random_state=0,
                              callbacks=[("count_steps", counter)])
    clf.partial_fit(X, y)
    first = clf.max_epochs_
    assert counter.steps_ == 2 * first >= 60
    clf.partial_fit(X[:10], y[:10])  # one batch per epoch: more epochs for the same steps
    assert clf.max_epochs_ == 2 * first
    assert counter.steps_ == clf.max_epochs_ >= 60
    assert len(clf.history_) == 3 * first
    clf.set_params(max_epochs=1).partial_fit(X, y)  # streaming chunks: an integer
    assert clf.max_epochs_ == 1 and counter.steps_ == 2


def test_resumed_auto_fit_trains_only_the_epochs_left(tiny_checkpoint, tmp_path):
    from sklattn.callbacks import ResumableCheckpoint

    class CrashInEpoch(Callback):
        def on_epoch_begin(self, net, **kwargs):
            if len(net.history) == 10:
                raise RuntimeError("simulated crash")

    X, y = make_sentiment_texts(20, seed=3)
    params = dict(max_length=16, batch_size=16, random_state=0)
    full = AttentionClassifier(tiny_checkpoint, **params).fit(X, y)
    clf = AttentionClassifier(tiny_checkpoint, **params,
                              callbacks=[CrashInEpoch(), ResumableCheckpoint(tmp_path)])
    with pytest.raises(RuntimeError, match="simulated crash"):
        clf.fit(X, y)
    resumed = clf.set_params(callbacks=[ResumableCheckpoint(tmp_path)]).fit(X, y)
    assert dict(resumed.callbacks_)["ResumableCheckpoint"].resumed_from_epoch_ == 10
    assert resumed.max_epochs_ == full.max_epochs_ == len(resumed.history_) == 30
    assert dict(resumed.callbacks_)["lr_schedule"].step_ == dict(full.callbacks_)["lr_schedule"].step_ == 60
    assert not (tmp_path / "training_state.pt").exists()  # completed: state file removed
    for name, value in full.module_.state_dict().items():
        assert torch.allclose(value, resumed.module_.state_dict()[name], atol=1e-6), name
