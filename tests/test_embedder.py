"""AttentionEmbedder: vectors, pooling, padding, fine-tuning, sklearn composition, persistence."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import build_tiny_checkpoint, make_sentiment_texts
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklattn import AttentionEmbedder

TEXTS = np.array(
    [
        "good",
        "the film was very good and the plot was lovely and the music was superb",
        "awful plot",
        "a story",
        "the actor was quite boring and the scene was dreadful",
        "fine music!",
    ],
    dtype=object,
)


@pytest.fixture(scope="module")
def embedder(tiny_checkpoint):
    return AttentionEmbedder(tiny_checkpoint, max_length=32, batch_size=4).fit(TEXTS)


# --------------------------------------------------------------- the vectors
def test_output_shape_dtype_unit_norm_and_names(embedder):
    Z = embedder.transform(TEXTS)
    assert Z.shape == (len(TEXTS), 32) and Z.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, atol=1e-6)
    names = embedder.get_feature_names_out()
    assert names.tolist() == [f"attentionembedder{i}" for i in range(32)]
    assert embedder.n_features_in_ == 1


def test_normalize_false_keeps_raw_norms(tiny_checkpoint, embedder):
    raw = AttentionEmbedder(tiny_checkpoint, max_length=32, normalize=False).fit(TEXTS).transform(TEXTS)
    norms = np.linalg.norm(raw, axis=1)
    assert not np.allclose(norms, 1.0, atol=1e-3)
    np.testing.assert_allclose(raw / norms[:, None], embedder.transform(TEXTS), atol=1e-6)


def test_pooling_modes_give_different_vectors(tiny_checkpoint):
    out = {
        mode: AttentionEmbedder(tiny_checkpoint, max_length=32, pooling=mode).fit(TEXTS).transform(TEXTS)
        for mode in ("mean", "cls", "max")
    }
    for a, b in [("mean", "cls"), ("mean", "max"), ("cls", "max")]:
        assert np.abs(out[a] - out[b]).max() > 1e-2, (a, b)


def test_mean_pooling_matches_manual_automodel_computation(tiny_checkpoint):
    from transformers import AutoModel, AutoTokenizer

    Z = AttentionEmbedder(tiny_checkpoint, max_length=32, normalize=False).fit(TEXTS).transform(TEXTS)
    model, tokenizer = AutoModel.from_pretrained(tiny_checkpoint).eval(), AutoTokenizer.from_pretrained(tiny_checkpoint)
    with torch.no_grad():
        for text, vector in zip(TEXTS, Z):
            encoded = tokenizer(text, truncation=True, max_length=32, return_tensors="pt")  # one text: no padding
            expected = model(**encoded).last_hidden_state[0].mean(dim=0).numpy()
            np.testing.assert_allclose(vector, expected, atol=1e-5)


def test_order_restored_batch_equals_one_by_one(embedder):
    batched = embedder.transform(TEXTS)  # length-sorted batches of 4
    one_by_one = np.vstack([embedder.transform([text]) for text in TEXTS])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)


@pytest.mark.parametrize("pooling", ["mean", "cls", "max"])
def test_padding_invariance(tiny_checkpoint, pooling):
    emb = AttentionEmbedder(tiny_checkpoint, max_length=32, pooling=pooling, batch_size=8).fit(TEXTS)
    alone = emb.transform(["good film"])
    with_longer = emb.transform(["good film", TEXTS[1], TEXTS[4]])  # one batch, padded to the longest
    np.testing.assert_allclose(with_longer[:1], alone, atol=1e-5)


def test_bf16_is_float32_and_close_to_fp32(tiny_checkpoint, embedder):
    Z16 = AttentionEmbedder(tiny_checkpoint, max_length=32, precision="bf16").fit(TEXTS).transform(TEXTS)
    assert Z16.dtype == np.float32
    cosine = (Z16 * embedder.transform(TEXTS)).sum(axis=1)
    assert cosine.min() > 0.98


def test_y_is_ignored_without_fine_tune(tiny_checkpoint, embedder):
    emb = AttentionEmbedder(tiny_checkpoint, max_length=32, batch_size=4).fit(TEXTS, ["a", "b"] * 3)
    np.testing.assert_array_equal(emb.transform(TEXTS), embedder.transform(TEXTS))
    assert emb.fine_tune_history_ is None


# --------------------------------------------------------------- fine-tuning
def test_fine_tune_changes_embeddings_and_helps_a_linear_model(tiny_checkpoint, sentiment_data):
    X, y = sentiment_data  # 160 texts
    X_test, y_test = make_sentiment_texts(200, seed=1)
    common = {"max_length": 32, "batch_size": 16, "random_state": 0}
    frozen = AttentionEmbedder(tiny_checkpoint, **common).fit(X, y)
    tuned = AttentionEmbedder(tiny_checkpoint, fine_tune=True, max_epochs=8, lr=2e-3, **common).fit(X, y)
    assert np.abs(frozen.transform(X_test) - tuned.transform(X_test)).max() > 0.1
    assert len(tuned.fine_tune_history_) == 8

    def accuracy(emb):
        return LogisticRegression().fit(emb.transform(X), y).score(emb.transform(X_test), y_test)

    frozen_acc, tuned_acc = accuracy(frozen), accuracy(tuned)
    assert tuned_acc >= 0.95  # the cue word decides the label
    assert tuned_acc > frozen_acc + 0.1  # frozen random tiny encoder: ~0.7


def test_auto_fine_tuning_rate_follows_the_encoder_width(tiny_checkpoint, tmp_path):
    import sklattn

    X, y = make_sentiment_texts(16, seed=0)
    wide = build_tiny_checkpoint(tmp_path / "wide", hidden_size=768)
    common = {"max_length": 16, "fine_tune": True, "max_epochs": 1, "batch_size": 8, "random_state": 0}
    # lr="auto" is the classifier's width rule: 5e-5 below 768 hidden units, 2e-5 from 768 up
    assert AttentionEmbedder(tiny_checkpoint, **common).fit(X, y).lr_ == 5e-5
    emb = AttentionEmbedder(wide, **common).fit(X, y)
    assert emb.lr == "auto" and emb.lr_ == 2e-5
    emb.save(tmp_path / "model")
    assert sklattn.load(tmp_path / "model").lr_ == 2e-5
    assert AttentionEmbedder(wide, lr=1e-4, **common).fit(X, y).lr_ == 1e-4  # an explicit rate as given
    assert AttentionEmbedder(tiny_checkpoint, max_length=16).fit(X).lr_ is None  # nothing trained


def test_auto_batch_size_fine_tunes_small_data_in_small_batches(tiny_checkpoint):
    X, y = make_sentiment_texts(16, seed=0)
    common = {"max_length": 16, "fine_tune": True, "random_state": 0}
    emb = AttentionEmbedder(tiny_checkpoint, **common).fit(X, y)
    assert emb.batch_size == "auto"
    # the classifier's rule: 16 texts train in batches of 8, 60 steps = 30 epochs of 2
    assert len(emb.fine_tune_history_) == 30
    assert {len(epoch["batches"]) for epoch in emb.fine_tune_history_} == {2}
    fixed = AttentionEmbedder(tiny_checkpoint, batch_size=32, **common).fit(X, y)
    assert len(fixed.fine_tune_history_) == 60  # one batch of 16 per epoch
    # transform embeds 40 texts in batches of 32 under "auto", as an explicit 32 does
    many = np.concatenate([X, X, X[:8]])
    batches = []
    emb.encoder_.register_forward_hook(lambda module, args, kwargs, out: batches.append(len(kwargs["input_ids"])),
                                       with_kwargs=True)
    vectors = emb.transform(many)
    assert batches == [32, 8]
    np.testing.assert_allclose(emb.set_params(batch_size=32).transform(many), vectors, atol=1e-6)


def test_fine_tune_on_continuous_y_trains_a_regressor(tiny_checkpoint):
    X, y = make_sentiment_texts(32, seed=0)
    target = (y == "pos").astype(float) * 3.5 + 0.25  # type_of_target: continuous
    emb = AttentionEmbedder(tiny_checkpoint, max_length=32, fine_tune=True, max_epochs=1,
                            random_state=0, fine_tune_params={"scale_target": False}).fit(X, target)
    assert emb.transform(X[:3]).shape == (3, 32)
    assert "train_loss" in emb.fine_tune_history_[-1]


# ------------------------------------------------------ sklearn composition
@pytest.mark.parametrize("column", ["text", ["text"]])  # Series / one-column DataFrame
def test_column_transformer_with_numeric_column_and_pandas_output(tiny_checkpoint, column):
    X, y = make_sentiment_texts(64, seed=0)
    frame = pd.DataFrame({"text": X, "length": [len(t) for t in X]}, index=np.arange(100, 164))
    columns = ColumnTransformer([
        ("emb", AttentionEmbedder(tiny_checkpoint, max_length=32), column),
        ("num", StandardScaler(), ["length"]),
    ]).set_output(transform="pandas")
    out = columns.fit_transform(frame)
    assert isinstance(out, pd.DataFrame) and out.shape == (64, 33)
    assert out.columns.tolist() == [f"emb__attentionembedder{i}" for i in range(32)] + ["num__length"]
    assert out.index.tolist() == frame.index.tolist()
    pipe = make_pipeline(columns, LogisticRegression()).fit(frame, y)
    assert pipe.predict(frame).shape == (64,)
    assert pipe.score(frame, y) > 0.5


def test_embedder_set_output_pandas_alone(tiny_checkpoint):
    emb = AttentionEmbedder(tiny_checkpoint, max_length=32).set_output(transform="pandas")
    frame = pd.DataFrame({"review": TEXTS})
    out = emb.fit_transform(frame)
    assert out.columns[0] == "attentionembedder0" and out.shape == (len(TEXTS), 32)
    assert emb.feature_names_in_.tolist() == ["review"]


def test_init_loads_nothing_and_clone_round_trips():
    emb = AttentionEmbedder("/no/such/dir", pooling="max", fine_tune_params={"dropout": 0.2})
    assert not hasattr(emb, "encoder_") and not hasattr(emb, "tokenizer_")
    cloned = clone(emb)
    assert cloned.get_params() == emb.get_params()
    assert cloned.fine_tune_params is not emb.fine_tune_params
    assert emb.__sklearn_tags__().input_tags.string is True


def test_grid_search_in_pipeline(tiny_checkpoint):
    X, y = make_sentiment_texts(64, seed=0)
    pipe = make_pipeline(AttentionEmbedder(tiny_checkpoint, max_length=32), LogisticRegression())
    search = GridSearchCV(pipe, {"attentionembedder__pooling": ["mean", "cls"],
                                 "logisticregression__C": [0.1, 10.0]}, cv=2).fit(X, y)
    assert search.best_params_["attentionembedder__pooling"] in {"mean", "cls"}
    assert search.predict(X[:5]).shape == (5,)
    fitted_clone = clone(search.best_estimator_)
    with pytest.raises(NotFittedError):
        fitted_clone[0].transform(X[:2])


# -------------------------------------------------------------- bad inputs
def test_not_fitted_errors(tiny_checkpoint):
    emb = AttentionEmbedder(tiny_checkpoint)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        emb.transform(["a text"])
    with pytest.raises(NotFittedError):
        emb.get_feature_names_out()


@pytest.mark.parametrize(
    "params, match",
    [
        ({"pooling": "sum"}, "'pooling' parameter"),
        ({"normalize": "yes"}, "'normalize' parameter"),
        ({"max_length": 0}, "'max_length' parameter"),
        ({"precision": "fp16"}, "'precision' parameter"),
        ({"fine_tune": "contrastive"}, "'fine_tune' parameter"),
        ({"batch_size": 0}, "'batch_size' parameter"),
        ({"max_length": 65}, "max_length=65 exceeds the 64 positions"),
        ({"fine_tune": True, "fine_tune_params": {"lr": 1.0}}, r"fine_tune_params sets \['lr'\]"),
    ],
)
def test_bad_parameters_are_reported_in_fit(tiny_checkpoint, params, match):
    with pytest.raises(ValueError, match=match):
        AttentionEmbedder(tiny_checkpoint, **params).fit(TEXTS, ["a", "b"] * 3)


def test_bad_inputs(tiny_checkpoint, embedder):
    with pytest.raises(ValueError, match="missing value"):
        AttentionEmbedder(tiny_checkpoint).fit(["a text", None])
    with pytest.raises(ValueError, match=r"missing value \(None/NaN\) at row 1"):
        embedder.transform(["a text", None])
    with pytest.raises(TypeError, match="single string"):
        embedder.transform("a text")
    with pytest.raises(ValueError, match="own AttentionEmbedder in a sklearn.compose.ColumnTransformer"):
        embedder.transform(pd.DataFrame({"a": ["x"], "b": ["y"]}))
    with pytest.raises(ValueError, match="needs targets"):
        AttentionEmbedder(tiny_checkpoint, fine_tune=True).fit(TEXTS)
    with pytest.raises(ValueError, match="does not exist"):
        AttentionEmbedder("/no/such/dir").fit(TEXTS)


# ------------------------------------------------------------- persistence
def test_pickle_joblib_round_trip(embedder, tmp_path):
    expected = embedder.transform(TEXTS)
    restored = pickle.loads(pickle.dumps(embedder))
    np.testing.assert_array_equal(restored.transform(TEXTS), expected)
    joblib.dump(embedder, tmp_path / "emb.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "emb.joblib").transform(TEXTS), expected)


SUBPROCESS_LOAD = textwrap.dedent(
    """
    import pickle
    import numpy as np
    with open({model!r}, "rb") as f:
        emb = pickle.load(f)
    np.save({out!r}, emb.transform(np.load({texts!r}, allow_pickle=True)))
    """
)


def test_fine_tuned_pickle_loads_in_fresh_offline_process_without_checkpoint(tmp_path):
    ckpt = build_tiny_checkpoint(tmp_path / "ckpt")
    X, y = make_sentiment_texts(32, seed=0)
    emb = AttentionEmbedder(ckpt, max_length=32, fine_tune=True, max_epochs=2, lr=2e-3,
                            random_state=0).fit(X, y)
    with open(tmp_path / "emb.pkl", "wb") as f:
        pickle.dump(emb, f)
    np.save(tmp_path / "texts.npy", X)
    shutil.rmtree(ckpt)
    code = SUBPROCESS_LOAD.format(model=str(tmp_path / "emb.pkl"), out=str(tmp_path / "out.npy"),
                                  texts=str(tmp_path / "texts.npy"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), emb.transform(X))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only fallback")
def test_unpickling_a_cuda_embedder_without_cuda_warns_and_stays_on_cpu(embedder):
    emb = pickle.loads(pickle.dumps(embedder))
    emb.device = "cuda"  # as if fitted on a GPU machine (the pickle stores CPU weights)
    with pytest.warns(UserWarning, match="CUDA is not available"):
        restored = pickle.loads(pickle.dumps(emb))
    np.testing.assert_array_equal(restored.transform(TEXTS[:2]), embedder.transform(TEXTS[:2]))


# ------------------------------------------------------------- long texts
LONG = " ".join(["the film was good and the plot was lovely"] * 6)  # ~60 tokens


def _window_vectors(checkpoint: str, text: str, max_length: int, stride: int) -> np.ndarray:
    """Mean-pooled vector of each overlapping window, computed by hand with transformers."""
    from transformers import AutoModel, AutoTokenizer

    model, tokenizer = AutoModel.from_pretrained(checkpoint).eval(), AutoTokenizer.from_pretrained(checkpoint)
    windows = tokenizer(text, truncation=True, max_length=max_length, stride=stride,
                        return_overflowing_tokens=True)["input_ids"]
    with torch.no_grad():
        return np.stack([model(input_ids=torch.tensor([ids])).last_hidden_state[0].mean(dim=0).numpy()
                         for ids in windows])


@pytest.mark.parametrize("long_text, reduce", [("chunk_mean", np.mean), ("chunk_max", np.max)])
def test_chunk_modes_pool_every_window_of_a_long_text(tiny_checkpoint, long_text, reduce):
    emb = AttentionEmbedder(tiny_checkpoint, max_length=16, long_text=long_text, stride=4,
                            max_chunks=None, normalize=False).fit([LONG])
    windows = _window_vectors(tiny_checkpoint, LONG, 16, 4)
    assert len(windows) >= 4
    np.testing.assert_allclose(emb.transform([LONG])[0], reduce(windows, axis=0), atol=1e-5)
    batched = emb.transform(["good", LONG, "awful plot"])  # chunked and short texts in one batch
    np.testing.assert_allclose(batched[1], reduce(windows, axis=0), atol=1e-5)
    np.testing.assert_allclose(batched[[0, 2]], emb.transform(["good", "awful plot"]), atol=1e-5)


def test_only_the_long_text_modes_see_the_end_of_a_text(tiny_checkpoint):
    start = " ".join(["the film was good"] * 8)
    texts = [f"{start} awful dreadful boring", f"{start} lovely superb fine"]
    vectors = {mode: AttentionEmbedder(tiny_checkpoint, max_length=16, long_text=mode).fit(texts).transform(texts)
               for mode in ("truncate", "head_tail", "chunk_mean")}
    np.testing.assert_allclose(vectors["truncate"][0], vectors["truncate"][1], atol=1e-6)
    assert np.abs(vectors["head_tail"][0] - vectors["head_tail"][1]).max() > 1e-3
    assert np.abs(vectors["chunk_mean"][0] - vectors["chunk_mean"][1]).max() > 1e-3


def test_long_text_reaches_fine_tuning_and_bad_stride_fails_in_fit(tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    emb = AttentionEmbedder(tiny_checkpoint, max_length=16, long_text="chunk_max", max_chunks=2,
                            fine_tune=True, max_epochs=1, random_state=0).fit(X[:32], y[:32])
    assert emb.transform(X[:3]).shape == (3, 32)
    with pytest.raises(ValueError, match=r"fine_tune_params sets \['long_text'\]"):
        AttentionEmbedder(tiny_checkpoint, fine_tune=True, fine_tune_params={"long_text": "head_tail"}).fit(X, y)
    with pytest.raises(ValueError, match="stride=20 must be smaller than the 14 text tokens"):
        AttentionEmbedder(tiny_checkpoint, max_length=16, long_text="chunk_mean", stride=20).fit(X)


def test_lora_fine_tuned_embedder_saves_and_loads_identically(tiny_checkpoint, sentiment_data, tmp_path):
    pytest.importorskip("peft")
    import sklattn

    X, y = sentiment_data
    emb = AttentionEmbedder(tiny_checkpoint, max_length=16, fine_tune=True, max_epochs=2, lr=1e-3, batch_size=8,
                            random_state=0, fine_tune_params={"finetune": "lora"}).fit(X[:32], y[:32])
    pretrained = AttentionEmbedder(tiny_checkpoint, max_length=16).fit(X[:4]).transform(X[:4])
    vectors = emb.transform(X[:4])
    assert np.abs(vectors - pretrained).max() > 1e-4  # the adapters changed the encoder
    emb.save(tmp_path / "model")
    np.testing.assert_allclose(sklattn.load(tmp_path / "model").transform(X[:4]), vectors, atol=1e-6)
    np.testing.assert_allclose(pickle.loads(pickle.dumps(emb)).transform(X[:4]), vectors, atol=1e-6)


# ------------------------------------------------- sentence-transformers export
def _sentence_transformer(path):
    sentence_transformers = pytest.importorskip("sentence_transformers")
    return sentence_transformers.SentenceTransformer(str(path), device="cpu")


@pytest.mark.parametrize("pooling, normalize", [("mean", True), ("cls", False), ("max", True), ("mean", False)])
def test_export_loads_in_sentence_transformers_and_encodes_like_transform(tiny_checkpoint, tmp_path,
                                                                          pooling, normalize):
    import json

    emb = AttentionEmbedder(tiny_checkpoint, max_length=12, pooling=pooling, normalize=normalize).fit(TEXTS)
    emb.export_pretrained(tmp_path / "export")
    modules = json.loads((tmp_path / "export" / "modules.json").read_text())
    assert [module["path"] for module in modules] == ["", "1_Pooling"] + ["2_Normalize"] * normalize
    assert json.loads((tmp_path / "export" / "sentence_bert_config.json").read_text()) == {
        "max_seq_length": 12, "do_lower_case": False}
    model = _sentence_transformer(tmp_path / "export")
    assert model.max_seq_length == 12
    # TEXTS[1] and TEXTS[4] are longer than 12 tokens: both truncate the same way.
    np.testing.assert_allclose(model.encode(list(TEXTS), batch_size=4), emb.transform(TEXTS), atol=1e-5)


def test_fine_tuned_export_encodes_like_transform_in_sentence_transformers(tiny_checkpoint, sentiment_data,
                                                                           tmp_path):
    X, y = sentiment_data
    emb = AttentionEmbedder(tiny_checkpoint, max_length=16, fine_tune=True, max_epochs=1, batch_size=8,
                            random_state=0).fit(X[:32], y[:32])
    emb.export_pretrained(tmp_path / "export")
    model = _sentence_transformer(tmp_path / "export")
    np.testing.assert_allclose(model.encode(list(X[:8])), emb.transform(X[:8]), atol=1e-5)


def test_classifier_export_gives_its_pooled_features_in_sentence_transformers(tiny_checkpoint, sentiment_data,
                                                                              tmp_path):
    import json

    from sklattn import AttentionClassifier

    X, y = sentiment_data
    clf = AttentionClassifier(tiny_checkpoint, max_length=16, pooling="max", long_text="truncate", max_epochs=1,
                              batch_size=8, random_state=0).fit(X[:16], y[:16])
    clf.export_pretrained(tmp_path / "export")
    assert not (tmp_path / "export" / "2_Normalize").exists()
    note = json.loads((tmp_path / "export" / "sklattn_export.json").read_text())["sentence_transformers"]
    assert note["exact"] and note["limits"] == []
    batch = clf.tokenizer_(list(X[:6]), padding=True, truncation=True, max_length=16, return_tensors="pt")
    clf.module_.eval()
    with torch.no_grad():
        features = clf.module_.embed(**batch).numpy()
    np.testing.assert_allclose(_sentence_transformer(tmp_path / "export").encode(list(X[:6])), features,
                               atol=1e-5)


def test_export_records_the_chunk_mode_that_long_text_auto_chose(tiny_checkpoint, sentiment_data, tmp_path):
    import json

    from sklattn import AttentionClassifier

    X, y = sentiment_data
    clf = AttentionClassifier(tiny_checkpoint, max_length=16, max_epochs=1, random_state=0).fit(X[:16], y[:16])
    assert clf.long_text_ == "chunk_sample"
    clf.export_pretrained(tmp_path / "export")
    note = json.loads((tmp_path / "export" / "sklattn_export.json").read_text())["sentence_transformers"]
    assert not note["exact"] and "long_text='chunk_sample'" in note["limits"][0]


def test_export_records_that_chunk_modes_are_not_reproduced(tiny_checkpoint, tmp_path):
    import json

    emb = AttentionEmbedder(tiny_checkpoint, max_length=8, long_text="chunk_mean", stride=2).fit(TEXTS)
    emb.export_pretrained(tmp_path / "export")
    note = json.loads((tmp_path / "export" / "sklattn_export.json").read_text())["sentence_transformers"]
    assert not note["exact"]
    assert "long_text='chunk_mean'" in note["limits"][0]
    assert json.loads((tmp_path / "export" / "1_Pooling" / "config.json").read_text()) == {
        "word_embedding_dimension": 32, "pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False,
    }
