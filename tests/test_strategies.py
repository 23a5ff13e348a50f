"""Fine-tuning strategies (finetune, layer_lr_decay, head_lr) and long-text modes."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from transformers import AutoModel, AutoTokenizer

from sklattn import AttentionClassifier, AttentionRegressor
from sklattn._text.data import tokenize

from conftest import NEUTRAL, make_sentiment_texts


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
    defaults = dict(max_length=32, lr=5e-3, max_epochs=2, batch_size=16, random_state=0)
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


@pytest.mark.parametrize("mode, sees_end", [("truncate", False), ("head_tail", True), ("chunk_mean", True)])
def test_which_modes_read_the_end_of_long_texts(tiny_checkpoint, sentiment_data, mode, sees_end):
    est = _fit(tiny_checkpoint, sentiment_data, long_text=mode, max_length=16, max_epochs=1)
    good, bad = _long_texts(40, "good"), _long_texts(40, "awful")
    differs = not np.allclose(est.predict_proba(good), est.predict_proba(bad))
    assert differs == sees_end


def _texts_with_cue_at_the_end(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """30 filler words, then the one word that decides the label."""
    rng = np.random.default_rng(seed)
    texts = [f"{' '.join(rng.choice(NEUTRAL, size=30))} {'good' if i % 2 == 0 else 'awful'}"
             for i in range(64)]
    return np.array(texts, dtype=object), np.arange(64) % 2


def test_long_text_training_learns_from_the_end(tiny_checkpoint):
    (X, y), (X_test, y_test) = _texts_with_cue_at_the_end(0), _texts_with_cue_at_the_end(1)
    params = dict(max_length=16, lr=5e-3, max_epochs=10, batch_size=16, random_state=0)
    chunked = AttentionClassifier(tiny_checkpoint, long_text="chunk_max", **params).fit(X, y)
    truncated = AttentionClassifier(tiny_checkpoint, **params).fit(X, y)
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
    assert est.lr == "auto"  # the parameter itself stays untouched
    assert [group["initial_lr"] for group in est.optimizer_.param_groups] == pytest.approx(
        [expected] * len(est.optimizer_.param_groups))


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
