"""AttentionClassifier behaviour on the tiny checkpoint."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import NEGATIVE, POSITIVE, make_sentiment_texts, resolved_max_epochs
from skorch.callbacks import Callback

from sklattn import AttentionClassifier
from sklattn.callbacks import warmup_linear_factor
import pickle
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from transformers import AutoModel, AutoTokenizer
from sklattn import AttentionRegressor
from sklattn._text.data import tokenize
from conftest import NEUTRAL, texts_with_cue_at_the_end
from torch.utils.data import Subset
from sklattn._text.data import LengthGroupedBatchSampler, PadCollate, TokenizedDataset, dataset_lengths, length_order

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
    clf = AttentionClassifier(tiny_checkpoint, **{**FAST, "max_epochs": 1, "lr": 1e-6},
                              tfidf_blend=False).fit(X, y)  # the network alone
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
    params = {**FAST, "max_epochs": 2, "lr": 5e-4, "tfidf_blend": False}  # the network's loss
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
        self.largest_batch_ = 0

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        self.steps_ += int(training)
        if training:
            self.largest_batch_ = max(self.largest_batch_, len(batch[1]))


def _auto_fit(tiny_checkpoint, X, y, **params):
    counter = _CountSteps()
    params = {"max_length": 16, "batch_size": 16, "random_state": 0, **params}
    clf = AttentionClassifier(tiny_checkpoint, callbacks=[("count_steps", counter)], **params).fit(X, y)
    return clf, counter.steps_


def test_auto_epochs_give_small_data_the_minimum_number_of_steps(tiny_checkpoint):
    from sklattn._text.small_data import AUTO_MIN_STEPS, auto_max_epochs

    X, y = make_sentiment_texts(20, seed=3)  # 2 batches of 16 per epoch
    clf, steps = _auto_fit(tiny_checkpoint, X, y)
    assert clf.max_epochs == "auto"
    assert clf.max_epochs_ == auto_max_epochs(2, "full", 20, 20) == AUTO_MIN_STEPS["full"] // 2
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
    from sklattn._text.small_data import AUTO_EPOCHS, AUTO_MIN_STEPS, AUTO_MIN_WINDOWS

    n = AUTO_MIN_WINDOWS // AUTO_EPOCHS  # the windows floor: 2,048 // 682 = 3 epochs
    assert n // 16 * AUTO_EPOCHS >= AUTO_MIN_STEPS["full"]  # and takes the minimum steps
    X, y = make_sentiment_texts(n, seed=4)
    clf, steps = _auto_fit(tiny_checkpoint, X, y)
    assert clf.max_epochs_ == len(clf.history_) == AUTO_EPOCHS == 3
    assert steps == 3 * int(np.ceil(n / 16))
    # The same training as an explicit max_epochs=3: same steps, schedule and random stream.
    explicit, _ = _auto_fit(tiny_checkpoint, X, y, max_epochs=3)
    np.testing.assert_array_equal(clf.predict_proba(X[:50]), explicit.predict_proba(X[:50]))


def _resolved_epochs(tiny_checkpoint, X, y, **params) -> int:
    clf = AttentionClassifier(tiny_checkpoint, max_length=16, random_state=0, **params)
    return resolved_max_epochs(clf, X, y)


def test_auto_epochs_encode_the_minimum_windows_between_the_floors(tiny_checkpoint):
    from sklattn._text.small_data import AUTO_MIN_WINDOWS

    # 128 short texts in batches of 8: 16 steps per epoch, so the 60-step floor
    # wants 4 epochs; encoding 2,048 texts wants 16.
    X, y = make_sentiment_texts(128, seed=5)
    assert _resolved_epochs(tiny_checkpoint, X, y, batch_size=8) == AUTO_MIN_WINDOWS // 128 == 16
    # The same texts read in several windows each count every window: fewer epochs.
    long_texts = np.array([" ".join([text] * 8) for text in X], dtype=object)
    chunked = _resolved_epochs(tiny_checkpoint, long_texts, y, batch_size=8, long_text="chunk_mean")
    assert 4 <= chunked <= 16 // 2
    truncated = _resolved_epochs(tiny_checkpoint, long_texts, y, batch_size=8, long_text="truncate")
    assert truncated == 16
    # Drawing one window per text and epoch costs a pass what truncation costs.
    sampled = _resolved_epochs(tiny_checkpoint, long_texts, y, batch_size=8, long_text="chunk_sample")
    assert sampled == 16


@pytest.mark.parametrize("batches, n_texts, n_windows, expected", [
    (1, 8, 8, 60),        # the 60-step floor
    (2, 16, 16, 30),
    (4, 32, 32, 16),      # 2,048 windows, at most 16 passes over each text
    (8, 64, 64, 16),
    (8, 128, 128, 16),
    (12, 192, 192, 10),   # 2,048 windows
    (8, 256, 256, 8),
    (16, 512, 512, 4),
    (20, 640, 640, 3),    # large data: exactly 3
    (16, 128, 256, 8),    # long texts in 2 windows each: half the epochs
    (5, 40, 100, 12),     # the step floor
])
def test_auto_max_epochs_rule(batches, n_texts, n_windows, expected):
    from sklattn._text.small_data import auto_max_epochs

    assert auto_max_epochs(batches, "full", n_texts, n_windows) == expected
    assert auto_max_epochs(batches, "lora", n_texts, n_windows) == expected
    # a head on cached features counts steps only
    assert auto_max_epochs(batches, "head", n_texts, n_windows) == max(3, -(-300 // batches))


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


@pytest.mark.parametrize("n_train, expected", [(1, 8), (16, 8), (127, 8), (128, 16), (256, 16),
                                               (511, 16), (512, 32), (100_000, 32)])
def test_auto_batch_size_rule(n_train, expected):
    from sklattn._text.small_data import auto_batch_size

    assert auto_batch_size(n_train) == expected


def test_auto_batch_size_gives_small_data_small_batches(tiny_checkpoint):
    from sklattn._text.small_data import AUTO_MIN_STEPS

    X, y = make_sentiment_texts(20, seed=3)  # batches of 8: 3 per epoch
    clf, steps = _auto_fit(tiny_checkpoint, X, y, batch_size="auto")
    counter = dict(clf.callbacks_)["count_steps"]
    assert clf.batch_size == "auto" and clf.batch_size_ == 8 == counter.largest_batch_
    assert clf.max_epochs_ == 20 and steps == 3 * 20 >= AUTO_MIN_STEPS["full"]
    # prediction batches do not depend on the training data: the same outputs in 32s as in 1s
    np.testing.assert_allclose(clf.predict_proba(X), clf.set_params(batch_size=1).predict_proba(X),
                               atol=1e-5)
    explicit, _ = _auto_fit(tiny_checkpoint, X, y, batch_size=16)
    assert explicit.batch_size_ == 16


def test_auto_batch_size_leaves_large_data_at_32(tiny_checkpoint):
    X, y = make_sentiment_texts(512, seed=4)
    auto, steps = _auto_fit(tiny_checkpoint, X, y, batch_size="auto", max_epochs=1)
    assert auto.batch_size_ == 32 and steps == 16
    # the same training as an explicit batch_size=32: same batches, steps and random stream
    explicit, _ = _auto_fit(tiny_checkpoint, X, y, batch_size=32, max_epochs=1)
    np.testing.assert_array_equal(auto.predict_proba(X[:50]), explicit.predict_proba(X[:50]))


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
    assert clone(fitted).get_params()["batch_size"] == 16 and not hasattr(clone(fitted), "batch_size_")
    for name in ("batch_size", "head_lr"):
        with pytest.raises(ValueError, match=name):
            AttentionClassifier(tiny_checkpoint, **{name: "large"}).fit(X, y)


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
    # history has the crashed epoch's row when on_epoch_begin raises: 9 epochs completed.
    assert dict(resumed.callbacks_)["ResumableCheckpoint"].resumed_from_epoch_ == 9
    assert resumed.max_epochs_ == full.max_epochs_ == len(resumed.history_) == 30
    assert dict(resumed.callbacks_)["lr_schedule"].step_ == dict(full.callbacks_)["lr_schedule"].step_ == 60
    assert not (tmp_path / "training_state.pt").exists()  # completed: state file removed
    for name, value in full.module_.state_dict().items():
        assert torch.allclose(value, resumed.module_.state_dict()[name], atol=1e-6), name


# -------- fine-tuning strategies and long texts (shared by every text estimator)
# Fine-tuning strategies (finetune, layer_lr_decay, head_lr) and long-text modes.


def _pretrained_state(checkpoint: str) -> dict[str, torch.Tensor]:
    return {name: tensor.clone() for name, tensor in AutoModel.from_pretrained(checkpoint).state_dict().items()}


def _changed_encoder_weights(est, checkpoint: str) -> set[str]:
    """Names (in the plain model's naming) of encoder weights that differ from the checkpoint."""
    before = _pretrained_state(checkpoint)
    changed = set()
    for name, tensor in est.module_.encoder.state_dict().items():
        if "lora_" in name:
            continue
        base_name = name.replace(".base_layer", "")
        if not torch.equal(tensor, before[base_name]):
            changed.add(base_name)
    return changed


def _fit(checkpoint, data, **params):
    X, y = data
    # The network alone: these tests look at its encoding of texts.
    defaults = dict(max_length=32, lr=5e-3, max_epochs=2, batch_size=16, random_state=0, tfidf_blend=False)
    return AttentionClassifier(checkpoint, **{**defaults, **params}).fit(X[:64], y[:64])


def test_finetune_head_trains_only_the_head(tiny_checkpoint, sentiment_data):
    head_before = AttentionClassifier(tiny_checkpoint, max_length=32, random_state=0)
    est = _fit(tiny_checkpoint, sentiment_data, finetune="head")
    assert _changed_encoder_weights(est, tiny_checkpoint) == set()
    trainable = [name for name, p in est.module_.named_parameters() if p.requires_grad]
    assert trainable == ["head.weight", "head.bias"]
    est.module_.train()
    assert not est.module_.encoder.training  # frozen encoder: no dropout, fixed features
    assert est.module_.head.training
    # the head did move away from its initialization
    start = clone(head_before).set_params(max_epochs=1, lr=1e-12).fit(*[a[:64] for a in sentiment_data])
    assert not torch.equal(start.module_.head.weight, est.module_.head.weight)


def test_finetune_top_k_trains_only_the_top_layers(tiny_checkpoint, sentiment_data):
    est = _fit(tiny_checkpoint, sentiment_data, finetune="top_k", trainable_layers=1)
    changed = _changed_encoder_weights(est, tiny_checkpoint)
    assert changed, "the top layer should have trained"
    assert all(name.startswith("encoder.layer.1.") or name.startswith("pooler.") for name in changed)
    assert any(name.startswith("encoder.layer.1.") for name in changed)


def test_finetune_full_trains_embeddings_and_every_layer(tiny_checkpoint, sentiment_data):
    changed = _changed_encoder_weights(_fit(tiny_checkpoint, sentiment_data), tiny_checkpoint)
    for prefix in ("embeddings.", "encoder.layer.0.", "encoder.layer.1."):
        assert any(name.startswith(prefix) for name in changed), prefix


def test_top_k_more_layers_than_the_model_has(tiny_checkpoint, sentiment_data):
    with pytest.raises(ValueError, match="trainable_layers=3 but the checkpoint has only 2"):
        _fit(tiny_checkpoint, sentiment_data, finetune="top_k", trainable_layers=3)


def test_finetune_lora_trains_adapters_and_head_only(tiny_checkpoint, sentiment_data):
    est = _fit(tiny_checkpoint, sentiment_data, finetune="lora", lora_r=4)
    assert _changed_encoder_weights(est, tiny_checkpoint) == set()
    trainable = {name for name, p in est.module_.named_parameters() if p.requires_grad}
    assert {"head.weight", "head.bias"} <= trainable
    adapters = trainable - {"head.weight", "head.bias"}
    assert adapters and all("lora_" in name for name in adapters)
    # peft's default for BERT: query and value projections of both layers
    assert {name.split(".lora_")[0].rsplit(".", 1)[-1] for name in adapters} == {"query", "value"}
    lora_b = [p for name, p in est.module_.named_parameters() if "lora_B" in name]
    assert any(p.abs().sum() > 0 for p in lora_b), "LoRA B starts at zero and must have trained"
    # a pickled LoRA model predicts the same
    X = sentiment_data[0][64:96]
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.predict_proba(X), est.predict_proba(X))


def test_lora_bad_target_modules(tiny_checkpoint, sentiment_data):
    with pytest.raises(ValueError, match="lora_target_modules"):
        _fit(tiny_checkpoint, sentiment_data, finetune="lora", lora_target_modules=["no_such_layer"])


def test_layer_lr_decay_and_head_lr(tiny_checkpoint, sentiment_data):
    est = _fit(tiny_checkpoint, sentiment_data, lr=1e-3, layer_lr_decay=0.5, head_lr=1e-2, max_epochs=1)
    lr_of = {}
    for group in est.optimizer_.param_groups:
        for param in group["params"]:
            lr_of[id(param)] = group["initial_lr"]
    encoder = est.module_.encoder
    assert lr_of[id(encoder.embeddings.word_embeddings.weight)] == pytest.approx(1e-3 * 0.25)
    assert lr_of[id(encoder.encoder.layer[0].attention.self.query.weight)] == pytest.approx(1e-3 * 0.5)
    assert lr_of[id(encoder.encoder.layer[1].output.dense.weight)] == pytest.approx(1e-3)
    assert lr_of[id(est.module_.head.weight)] == pytest.approx(1e-2)
    # biases and LayerNorm weights stay out of weight decay in every group
    for group in est.optimizer_.param_groups:
        assert all(p.ndim >= 2 for p in group["params"]) == (group["weight_decay"] > 0)


def _long_texts(n_words: int, ending: str) -> np.ndarray:
    body = " ".join(NEUTRAL[i % len(NEUTRAL)] for i in range(n_words))
    return np.array([f"{body} {ending}"], dtype=object)


def test_tokenize_head_tail_keeps_start_and_end(tiny_checkpoint):
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    words = [f"{c}" for c in "abcdefghijklmnopqrstuvwxyz"]
    texts = np.array([[" ".join(words)]], dtype=object)
    ids = tokenize(tokenizer, texts, max_length=10, long_text="head_tail")["input_ids"][0]
    tokens = tokenizer.convert_ids_to_tokens(ids.tolist())
    # 8 text tokens: the first quarter (2) from the head, the rest (6) from the tail
    assert tokens == ["[CLS]", "a", "b", "u", "v", "w", "x", "y", "z", "[SEP]"]
    short = tokenize(tokenizer, np.array([["a b"]], dtype=object), 10, "head_tail")["input_ids"][0]
    assert tokenizer.convert_ids_to_tokens(short.tolist()) == ["[CLS]", "a", "b", "[SEP]"]


def test_tokenize_chunks_overlap_and_cap(tiny_checkpoint):
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    texts = np.array([[" ".join("abcdefghijklmnopqrstuvwxyz")], ["a"]], dtype=object)
    chunks = tokenize(tokenizer, texts, max_length=10, long_text="chunk_mean", stride=2)["input_ids"]
    first = [tokenizer.convert_ids_to_tokens(c.tolist()) for c in chunks[0]]
    assert first[0] == ["[CLS]", *"abcdefgh", "[SEP]"]
    assert first[1][:3] == ["[CLS]", "g", "h"]  # 2 tokens shared with the previous window
    assert "".join(t for c in first for t in c[1:-1])[-1] == "z"
    assert len(chunks[1]) == 1
    capped = tokenize(tokenizer, texts, 10, "chunk_mean", stride=2, max_chunks=2)["input_ids"]
    assert len(capped[0]) == 2


@pytest.mark.parametrize("mode, reduce", [("chunk_mean", torch.mean), ("chunk_max", torch.amax)])
def test_chunk_pooling_matches_manual_computation(tiny_checkpoint, sentiment_data, mode, reduce):
    est = _fit(tiny_checkpoint, sentiment_data, long_text=mode, max_length=16, stride=4, max_epochs=1)
    text = _long_texts(40, "good")
    features = est._tokenize(text[:, None])
    chunks = features["input_ids"][0]
    assert len(chunks) > 2
    est.module_.eval()
    with torch.inference_mode():
        vectors = []
        for i, ids in enumerate(chunks):
            ids_t = torch.from_numpy(ids)[None]
            types = torch.from_numpy(features["token_type_ids"][0][i])[None]
            vectors.append(est.module_.embed(ids_t, torch.ones_like(ids_t), types))
        pooled = reduce(torch.cat(vectors), dim=0, keepdim=True)
        expected = torch.softmax(est.module_.head(pooled), dim=-1).numpy()
    np.testing.assert_allclose(est.predict_proba(text), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode, sees_end", [("truncate", False), ("head_tail", True), ("chunk_mean", True),
                                            ("chunk_sample", True)])
def test_which_modes_read_the_end_of_long_texts(tiny_checkpoint, sentiment_data, mode, sees_end):
    est = _fit(tiny_checkpoint, sentiment_data, long_text=mode, max_length=16, max_epochs=1)
    good, bad = _long_texts(40, "good"), _long_texts(40, "awful")
    differs = not np.allclose(est.predict_proba(good), est.predict_proba(bad))
    assert differs == sees_end


def test_long_text_training_learns_from_the_end(tiny_checkpoint):
    (X, y), (X_test, y_test) = texts_with_cue_at_the_end(0), texts_with_cue_at_the_end(1)
    params = dict(max_length=16, lr=5e-3, max_epochs=10, batch_size=16, random_state=0,
                  tfidf_blend=False)  # word counts would read the cue anywhere
    chunked = AttentionClassifier(tiny_checkpoint, long_text="chunk_max", **params).fit(X, y)
    truncated = AttentionClassifier(tiny_checkpoint, long_text="truncate", **params).fit(X, y)
    assert chunked.score(X_test, y_test) >= 0.9
    assert truncated.score(X_test, y_test) <= 0.7  # the cue is past the first window


def test_long_text_rejects_pairs_and_large_stride(tiny_checkpoint):
    pairs = np.array([["good film", "bad plot"], ["awful", "fine"]], dtype=object)
    with pytest.raises(ValueError, match="long_text='chunk_mean' works on single texts"):
        AttentionClassifier(tiny_checkpoint, max_length=16, long_text="chunk_mean").fit(pairs, [0, 1])
    X, y = make_sentiment_texts(8)
    with pytest.raises(ValueError, match="stride=14 must be smaller than the 14 text tokens"):
        AttentionClassifier(tiny_checkpoint, max_length=16, long_text="chunk_max", stride=14).fit(X, y)


@pytest.mark.parametrize("name, value, fragment", [
    ("finetune", "partial", "finetune"),
    ("long_text", "split", "long_text"),
    ("layer_lr_decay", 0.0, "layer_lr_decay"),
    ("trainable_layers", 0, "trainable_layers"),
    ("lora_r", 0, "lora_r"),
    ("head_lr", -1.0, "head_lr"),
])
def test_invalid_strategy_parameters(tiny_checkpoint, name, value, fragment):
    X, y = make_sentiment_texts(8)
    with pytest.raises(ValueError, match=fragment):
        AttentionClassifier(tiny_checkpoint, max_length=16, **{name: value}).fit(X, y)


def test_strategies_are_searchable_hyperparameters(tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    search = GridSearchCV(
        AttentionRegressor(tiny_checkpoint, max_length=16, max_epochs=1, batch_size=16, random_state=0),
        {"finetune": ["head", "lora"], "long_text": ["truncate", "chunk_mean"]},
        cv=2,
    )
    search.fit(X[:48], (y[:48] == "pos").astype(float))
    assert len(search.cv_results_["params"]) == 4
    assert search.best_estimator_.finetune in {"head", "lora"}
    cloned = clone(search.best_estimator_)
    assert cloned.get_params()["long_text"] == search.best_params_["long_text"]


@pytest.mark.parametrize("finetune, expected", [("full", 5e-5), ("head", 1e-3), ("lora", 5e-4)])
def test_auto_learning_rate_follows_the_strategy(tiny_checkpoint, sentiment_data, finetune, expected):
    est = _fit(tiny_checkpoint, sentiment_data, lr="auto", finetune=finetune, max_epochs=1)
    assert est.lr == "auto" and est.head_lr == "auto"  # the parameters themselves stay untouched
    rate = {id(param): group["initial_lr"] for group in est.optimizer_.param_groups
            for param in group["params"]}
    head = [id(param) for param in est.module_.head.parameters()]
    # head_lr="auto": the fresh head trains at max(lr, 1e-3), the encoder at lr
    assert [rate[key] for key in head] == pytest.approx([max(expected, 1e-3)] * len(head))
    encoder = [rate[key] for key in rate if key not in head]
    assert encoder == pytest.approx([expected] * len(encoder)) and (finetune == "head") == (not encoder)


@pytest.mark.parametrize("finetune, hidden_size, expected", [
    ("full", None, 5e-5), ("full", 384, 5e-5), ("full", 767, 5e-5), ("full", 768, 2e-5),
    ("top_k", 1024, 2e-5), ("lora", 768, 5e-4), ("head", 768, 1e-3),
])
def test_auto_learning_rate_rule(finetune, hidden_size, expected):
    from sklattn._text.small_data import auto_learning_rate

    assert auto_learning_rate(finetune, hidden_size) == expected


def test_auto_learning_rate_is_lower_for_a_wide_encoder(tiny_checkpoint, sentiment_data, tmp_path):
    from conftest import build_tiny_checkpoint

    wide = build_tiny_checkpoint(tmp_path / "wide", hidden_size=768)
    for checkpoint, expected in ((tiny_checkpoint, 5e-5), (wide, 2e-5)):
        est = _fit(checkpoint, sentiment_data, lr="auto", max_epochs=1)
        assert est.lr == "auto" and est.lr_ == expected
        head = {id(param) for param in est.module_.head.parameters()}
        encoder_rates = {group["initial_lr"] for group in est.optimizer_.param_groups
                         if not head & {id(param) for param in group["params"]}}
        assert encoder_rates == {expected}
    # an explicit rate is used as given, whatever the width
    assert _fit(wide, sentiment_data, lr=1e-4, max_epochs=1).lr_ == 1e-4


def test_feature_cache_gives_the_same_model_and_encodes_once(tiny_checkpoint, sentiment_data):
    from sklattn import clear_feature_cache
    from sklattn._text.feature_cache import FEATURE_CACHE

    clear_feature_cache()
    cached = _fit(tiny_checkpoint, sentiment_data, finetune="head", max_epochs=3)
    assert FEATURE_CACHE.misses == 64 and len(FEATURE_CACHE) == 64
    uncached = _fit(tiny_checkpoint, sentiment_data, finetune="head", max_epochs=3, feature_cache=False)
    assert FEATURE_CACHE.misses == 64  # the uncached fit did not touch the cache
    X_new = sentiment_data[0][64:128]
    np.testing.assert_allclose(cached.predict_proba(X_new), uncached.predict_proba(X_new), atol=1e-5)
    # a second fit with other head settings hits the cache for every training text
    refit = _fit(tiny_checkpoint, sentiment_data, finetune="head", max_epochs=3, lr=1e-2, class_weight="balanced")
    assert FEATURE_CACHE.misses == 64 + 64  # only the predict_proba texts above were new
    assert FEATURE_CACHE.hits >= 64
    assert not np.allclose(refit.predict_proba(X_new), cached.predict_proba(X_new))
    # other pooling or max_length means other features
    _fit(tiny_checkpoint, sentiment_data, finetune="head", max_epochs=1, pooling="max")
    assert FEATURE_CACHE.misses == 64 * 3
    clear_feature_cache()
    assert len(FEATURE_CACHE) == 0


def test_feature_cache_is_bounded():
    from sklattn._text.feature_cache import FeatureCache, cached_features

    cache = FeatureCache(max_bytes=10 * 4 * 4)  # ten vectors of 4 float32
    calls = []

    def compute(indices):
        calls.append(list(indices))
        return np.ones((len(indices), 4), dtype=np.float32) * np.array(indices)[:, None]

    keys = [bytes([i]) for i in range(15)]
    out = cached_features(keys, compute, cache)
    assert out.shape == (15, 4) and out[7, 0] == 7
    assert len(cache) == 10  # the five least recently used went out
    cached_features(keys[-3:], compute, cache)
    assert calls[-1] == list(range(15))  # the last three were still cached: no new call


# -------- batching: dynamic padding and length-grouped batches
# Tokenization, dynamic padding and length-grouped batching.


def _dataset(lengths, y=None, weights=None):
    ids = [np.arange(1, n + 1, dtype=np.int64) for n in lengths]
    return TokenizedDataset({"input_ids": ids}, y, weights)


def test_pad_collate_pads_to_batch_longest_with_mask():
    dataset = _dataset([3, 5, 2], y=np.array([0, 1, 0]), weights=np.array([1.0, 2.0, 0.5], dtype=np.float32))
    batch, y = PadCollate(pad_token_id=9)([dataset[i] for i in range(3)])
    assert batch["input_ids"].shape == (3, 5)
    assert batch["input_ids"][2].tolist() == [1, 2, 9, 9, 9]
    assert batch["attention_mask"].sum(dim=1).tolist() == [3, 5, 2]
    assert batch["sample_weight"].tolist() == [1.0, 2.0, 0.5]
    assert y.tolist() == [0, 1, 0]


def test_length_grouped_batches_cover_every_index_once_and_pad_less():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 120, size=1000)
    sampler = LengthGroupedBatchSampler(lengths, batch_size=32, pool_factor=10)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 32
    assert sorted(i for b in batches for i in b) == list(range(1000))

    def padded_tokens(batch_list):
        return sum(len(b) * lengths[b].max() for b in batch_list)

    random_batches = np.array_split(rng.permutation(1000), 32)
    assert padded_tokens(batches) < 0.7 * padded_tokens(random_batches)


def test_length_grouped_batches_are_random_across_epochs_and_seedable():
    lengths = np.arange(200) % 17
    torch.manual_seed(0)
    first, second = list(LengthGroupedBatchSampler(lengths, 8)), list(LengthGroupedBatchSampler(lengths, 8))
    assert [b.copy() for b in first] != second
    torch.manual_seed(0)
    assert list(LengthGroupedBatchSampler(lengths, 8)) == first


def test_lengths_of_subsets_and_length_order():
    dataset = _dataset([4, 1, 3, 2])
    subset = Subset(Subset(dataset, [3, 2, 0]), [2, 0])
    assert dataset_lengths(subset).tolist() == [4, 2]
    assert length_order(dataset).tolist() == [1, 3, 2, 0]


def test_estimator_still_pickles_after_explain(tiny_checkpoint, sentiment_data):
    # transformers installs closure hooks on the encoder for output_attentions=True;
    # explain() must take them off again, or pickle fails.
    X, y = sentiment_data
    clf = AttentionClassifier(tiny_checkpoint, max_length=16, max_epochs=1, random_state=0).fit(X[:16], y[:16])
    clf.explain(X[:2])
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X[:8]), clf.predict_proba(X[:8]))
    assert restored.explain(X[:2])[0]["tokens"] == clf.explain(X[:2])[0]["tokens"]
