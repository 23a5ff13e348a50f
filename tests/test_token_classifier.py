"""AttentionTokenClassifier: word alignment, tags, scores, bad input, saving and export."""

from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pytest
import torch
from conftest import NEGATIVE, NEUTRAL, POSITIVE, resolved_max_epochs

import sklattn
from sklattn import AttentionTokenClassifier
from sklattn._text.tagging_metrics import entity_f1, entity_scores, entities, tag_scheme
from sklattn._text.data import TokenizedDataset
from sklattn._text.word_alignment import WindowCollate, align_sentences, window_starts

FAST = dict(max_length=16, lr=3e-3, max_epochs=8, batch_size=16, random_state=0)
# Not in the tiny vocabulary: spelled out one character piece each ("zurich" -> 6 pieces).
PLACES = ["zurich", "oslo", "lyon", "quebec"]


def make_tagged(n: int, seed: int = 0, long_every: int = 0):
    """Sentences of filler words where sentiment words and places carry entity tags."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for i in range(n):
        length = 30 if long_every and i % long_every == 0 else int(rng.integers(3, 9))
        words, tags = [], []
        for _ in range(length):
            kind = rng.choice(["neutral", "pos", "neg", "place"], p=[0.55, 0.15, 0.15, 0.15])
            if kind == "place":
                words.append(str(rng.choice(PLACES)))
                tags.append("B-LOC")
            elif kind == "pos":
                words.append(str(rng.choice(POSITIVE)))
                tags.append("B-POS")
            elif kind == "neg":
                words.append(str(rng.choice(NEGATIVE)))
                tags.append("B-NEG")
            else:
                words.append(str(rng.choice(NEUTRAL)))
                tags.append("O")
        X.append(words)
        y.append(tags)
    return X, y


@pytest.fixture(scope="module")
def tagged():
    return make_tagged(120, seed=0)


@pytest.fixture(scope="module")
def tagger(tiny_checkpoint, tagged):
    X, y = tagged
    return AttentionTokenClassifier(tiny_checkpoint, **FAST).fit(X, y)


@pytest.fixture(scope="module")
def tokenizer(tiny_checkpoint):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_checkpoint)


# ------------------------------------------------------------------ alignment
def _read_positions(features, row):
    """(window, position, word) of every read position of sentence ``row``."""
    return [(k, int(p), int(index[p])) for k, index in enumerate(features["word_index"][row])
            for p in np.flatnonzero(index >= 0)]


def test_only_the_first_piece_of_a_word_is_read(tokenizer):
    features = align_sentences(tokenizer, [["the", "zurich", "film"]], max_length=32, stride=4)
    ids = features["input_ids"][0]
    assert len(ids) == 1  # one window
    pieces = tokenizer.convert_ids_to_tokens(ids[0].tolist())
    assert pieces == ["[CLS]", "the", "z", "##u", "##r", "##i", "##c", "##h", "film", "[SEP]"]
    index = features["word_index"][0][0]
    assert index.tolist() == [-1, 0, 1, -1, -1, -1, -1, -1, 2, -1]
    assert features["token_type_ids"][0][0].tolist() == [0] * len(pieces)


def test_long_sentences_get_overlapping_windows_and_every_word_once(tokenizer):
    words = ["zurich", "the", "oslo", "film", "lyon", "good", "quebec", "a", "plot"] * 3
    max_length, stride = 10, 3
    features = align_sentences(tokenizer, [words], max_length=max_length, stride=stride)
    windows = features["input_ids"][0]
    assert len(windows) > 3
    assert all(len(window) <= max_length for window in windows)
    read = _read_positions(features, 0)
    assert sorted(word for _, _, word in read) == list(range(len(words)))  # each word exactly once
    for k, position, word in read:  # the read piece is the word's first piece
        piece = tokenizer.convert_ids_to_tokens([int(windows[k][position])])[0]
        assert not piece.startswith("##") and words[word].startswith(piece)
    # Consecutive windows share `stride` pieces.
    content = [window[1:-1].tolist() for window in windows]
    for left, right in zip(content, content[1:]):
        assert left[-stride:] == right[:stride]


def test_each_word_is_read_where_it_has_most_context(tokenizer):
    words = ["the", "film", "was", "good", "and", "the", "plot", "was", "very", "good", "a", "film"]
    features = align_sentences(tokenizer, [words], max_length=8, stride=4)  # windows of 6 pieces
    starts = window_starts(len(words), 6, 4)
    assert starts == [0, 2, 4, 6]
    for k, position, word in _read_positions(features, 0):
        start, end = starts[k], min(starts[k] + 6, len(words))
        margin = min(word - start, end - 1 - word)
        best = max(min(word - s, min(s + 6, len(words)) - 1 - word) for s in starts if s <= word < s + 6)
        assert margin == best


def test_a_word_without_pieces_is_read_as_unknown(tokenizer):
    features = align_sentences(tokenizer, [["the", "\u200b", "film"]], max_length=16, stride=2)
    pieces = tokenizer.convert_ids_to_tokens(features["input_ids"][0][0].tolist())
    assert pieces == ["[CLS]", "the", "[UNK]", "film", "[SEP]"]
    assert features["word_index"][0][0].tolist() == [-1, 0, 1, 2, -1]


def test_stride_must_leave_windows_room(tokenizer, tiny_checkpoint, tagged):
    with pytest.raises(ValueError, match="stride=6 must be smaller than the 6 word pieces"):
        align_sentences(tokenizer, [["the"]], max_length=8, stride=6)
    X, y = tagged
    with pytest.raises(ValueError, match="stride=20"):
        AttentionTokenClassifier(tiny_checkpoint, max_length=16, stride=20, max_epochs=1).fit(X[:4], y[:4])


# ------------------------------------------------------------- fit / predict
def test_predictions_are_aligned_with_words_and_learn_the_tags(tagger, tagged):
    X, y = tagged
    predicted = tagger.predict(X)
    assert [len(tags) for tags in predicted] == [len(words) for words in X]
    assert all(isinstance(tag, str) for tags in predicted for tag in tags)
    assert tagger.score(X, y) >= 0.9
    assert tagger.classes_.tolist() == ["B-LOC", "B-NEG", "B-POS", "O"]


def test_sentences_longer_than_max_length_get_a_tag_for_every_word(tagger):
    X_long, y_long = make_tagged(12, seed=5, long_every=1)  # 30 words, 40-70 pieces, max_length 16
    assert min(len(tagger._align([x])["input_ids"][0]) for x in X_long) > 2
    predicted = tagger.predict(X_long)
    assert [len(tags) for tags in predicted] == [30] * 12
    flat_true = np.concatenate(y_long)
    flat_pred = np.concatenate(predicted)
    assert (flat_true == flat_pred).mean() >= 0.9


def test_predict_proba_rows_follow_classes(tagger, tagged):
    X, _ = tagged
    probabilities = tagger.predict_proba(X[:10])
    predicted = tagger.predict(X[:10])
    for words, proba, tags in zip(X, probabilities, predicted):
        assert proba.shape == (len(words), len(tagger.classes_))
        assert proba.dtype == np.float32
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
        assert tagger.classes_[proba.argmax(axis=1)].tolist() == tags


def test_input_forms_strings_series_and_empty_sentences(tagger, tagged):
    pd = pytest.importorskip("pandas")
    X, _ = tagged
    expected = tagger.predict(X[:3])
    assert tagger.predict([" ".join(words) for words in X[:3]]) == expected
    assert tagger.predict(pd.Series(X[:3])) == expected
    assert tagger.predict(pd.DataFrame({"tokens": X[:3]})) == expected
    assert tagger.predict([tuple(X[0]), np.array(X[1]), X[2]]) == expected
    assert tagger.predict([[], X[0], ""]) == [[], expected[0], []]
    assert tagger.predict_proba([[]])[0].shape == (0, 4)


def test_int8_and_bf16_predictions_stay_aligned_and_close(tagger, tagged):
    import copy

    X, _ = tagged
    expected = tagger.predict_proba(X[:10])
    for precision in ("int8", "bf16"):
        other = copy.deepcopy(tagger).set_params(precision=precision)
        for a, b in zip(other.predict_proba(X[:10]), expected):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, atol=0.1)
    assert tagger.module_.head.weight.dtype == torch.float32  # the original is untouched


def test_predictions_do_not_depend_on_batch_neighbours(tagger, tagged):
    X, _ = tagged
    together = tagger.predict_proba(X[:20])
    alone = [tagger.predict_proba([x])[0] for x in X[:3]]
    for a, b in zip(alone, together):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_any_string_tags_and_partial_fit_with_declared_classes(tiny_checkpoint):
    X = [["the", "film", "was", "good"], ["a", "plot", "was", "bad"]] * 8
    y = [["DT", "NN", "VBD", "JJ"], ["DT", "NN", "VBD", "JJ"]] * 8
    tagger = AttentionTokenClassifier(tiny_checkpoint, **{**FAST, "max_epochs": 15}).fit(X, y)
    assert tagger.classes_.tolist() == ["DT", "JJ", "NN", "VBD"]
    assert tagger.predict([["the", "story", "was", "lovely"]]) == [["DT", "NN", "VBD", "JJ"]]
    assert tagger.score(X, y) == 1.0  # not entity tags: word accuracy

    declared = AttentionTokenClassifier(tiny_checkpoint, **{**FAST, "max_epochs": 1})
    declared.partial_fit(X, y, classes=["DT", "JJ", "NN", "VBD", "RB"])
    declared.partial_fit([["very"]], [["RB"]])
    assert declared.predict_proba([["very"]])[0].shape == (1, 5)
    assert len(declared.history_) == 2
    with pytest.raises(ValueError, match=r"tags \['XX'\] \(first in sentence 0\) that were not seen"):
        declared.partial_fit([["very"]], [["XX"]])


def test_class_weight_weighs_words_and_keeps_mean_one(tiny_checkpoint, tagged):
    X, y = tagged
    tagger = AttentionTokenClassifier(tiny_checkpoint, class_weight="balanced", **{**FAST, "max_epochs": 1})
    tagger.fit(X, y)
    targets = tagger._encode_tags(y, fitting=False)
    weights = tagger._word_weights(targets, None)
    flat_w, flat_t = np.concatenate(list(weights)), np.concatenate(list(targets))
    np.testing.assert_allclose(flat_w.mean(), 1.0, rtol=1e-5)
    counts = np.bincount(flat_t)
    np.testing.assert_allclose(flat_w[flat_t == 0][0] / flat_w[flat_t == 3][0], counts[3] / counts[0], rtol=1e-5)

    tagger.set_params(class_weight={"B-LOC": 3.0})
    sentence = np.linspace(1.0, 2.0, len(X))
    weights = tagger._word_weights(targets, sentence)
    raw = np.where(flat_t == 0, 3.0, 1.0) * np.repeat(sentence, [len(t) for t in targets])
    np.testing.assert_allclose(np.concatenate(list(weights)), raw / raw.mean(), rtol=1e-5)


def test_class_weight_changes_what_is_learned(tiny_checkpoint, tagged):
    X, y = tagged
    params = {**FAST, "max_epochs": 2}
    plain = AttentionTokenClassifier(tiny_checkpoint, **params).fit(X, y)
    heavy = AttentionTokenClassifier(tiny_checkpoint, class_weight={"O": 0.01}, **params).fit(X, y)
    o_plain = np.concatenate(plain.predict_proba(X))[:, 3].mean()
    o_heavy = np.concatenate(heavy.predict_proba(X))[:, 3].mean()
    assert o_heavy < o_plain


def test_sample_weight_per_sentence_is_applied(tiny_checkpoint, tagged):
    X, y = tagged
    params = {**FAST, "max_epochs": 1}
    a = AttentionTokenClassifier(tiny_checkpoint, **params).fit(X, y)
    b = AttentionTokenClassifier(tiny_checkpoint, **params).fit(X, y, sample_weight=np.ones(len(X)))
    np.testing.assert_allclose(a.predict_proba(X[:3])[0], b.predict_proba(X[:3])[0], atol=1e-6)
    c = AttentionTokenClassifier(tiny_checkpoint, **params).fit(X, y, sample_weight=np.linspace(0, 1, len(X)))
    assert not np.allclose(a.predict_proba(X[:3])[0], c.predict_proba(X[:3])[0], atol=1e-4)
    with pytest.raises(ValueError, match="sample_weight has shape"):
        AttentionTokenClassifier(tiny_checkpoint, **params).fit(X, y, sample_weight=[1.0, 2.0])


def test_finetune_strategies_train(tiny_checkpoint, tagged):
    X, y = tagged
    head = AttentionTokenClassifier(tiny_checkpoint, finetune="head", **{**FAST, "max_epochs": 1}).fit(X[:32], y[:32])
    encoder = head.module_.encoder
    assert not any(p.requires_grad for p in encoder.parameters())
    assert [len(t) for t in head.predict(X[:4])] == [len(x) for x in X[:4]]
    pytest.importorskip("peft")
    lora = AttentionTokenClassifier(tiny_checkpoint, finetune="lora", **{**FAST, "max_epochs": 1}).fit(X[:32], y[:32])
    assert [len(t) for t in lora.predict(X[:4])] == [len(x) for x in X[:4]]


def test_explain_shows_word_pieces(tagger):
    explained = tagger.explain([["the", "zurich", "film"], "good plot"])
    assert explained[0]["tokens"] == ["the", "z", "##u", "##r", "##i", "##c", "##h", "film"]
    assert explained[1]["tokens"] == ["good", "plot"]
    np.testing.assert_allclose(explained[0]["weights"].sum(), 1.0, atol=1e-5)
    again = tagger.explain([["the", "zurich", "film"]])  # attention hooks come back after removal
    # Equal up to float rounding: a batch of one text and a batch of two reduce in other orders.
    np.testing.assert_allclose(again[0]["weights"], explained[0]["weights"], rtol=1e-6, atol=1e-7)
    pickle.dumps(tagger)  # transformers' attention-capturing hooks are not left behind


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("X", "y", "error", "match"),
    [
        ([["the", "film"], ["a", "good", "plot"]], [["O", "O"], ["O", "B-POS"]], ValueError,
         r"sentence 1 has 3 words but 2 tags"),
        ([["the", "film"], []], [["O", "O"], []], ValueError, r"X\[1\] is an empty sentence"),
        ([["the", "film"], ["a", 3]], [["O", "O"], ["O", "O"]], TypeError,
         r"X\[1\]\[1\] is int \(3\), but every word must be a str"),
        ([["the", None]], [["O", "O"]], ValueError, r"X\[0\] has a missing word \(None/NaN\) at position 1"),
        ("the film", [["O", "O"]], TypeError, "X is a single string"),
        ([["the", "film"]], [["O", "O"], ["O"]], ValueError, "X has 1 sentences but y has 2 tag lists"),
        ([["the", "film"]], ["O O"], TypeError, r"y\[0\] is a string"),
        ([["the", "film"]], [["O", 1]], TypeError, r"y\[0\]\[1\] is int"),
        ([["the", "film"]], [["O", "O"]], ValueError, "only one tag"),
        ([["the", "film"]], None, ValueError, "needs tags"),
        ([4, ["film"]], [["O"], ["O"]], TypeError, r"X\[0\] is int \(4\), not a list of words"),
    ],
)
def test_bad_fit_input_names_the_problem(tiny_checkpoint, X, y, error, match):
    with pytest.raises(error, match=match):
        AttentionTokenClassifier(tiny_checkpoint, max_epochs=1).fit(X, y)


def test_bad_score_input(tagger, tagged):
    X, y = tagged
    with pytest.raises(ValueError, match=r"tags \['B-ORG'\] \(first in sentence 1\) that the model never saw"):
        tagger.score(X[:2], [y[0], ["B-ORG"] * len(X[1])])
    with pytest.raises(ValueError, match="sentence 0 has"):
        tagger.score(X[:1], [y[0][:-1]])
    with pytest.raises(ValueError, match="does not take sample_weight"):
        tagger.score(X[:2], y[:2], sample_weight=[1, 1])


def test_predict_before_fit_and_module_params(tiny_checkpoint):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        AttentionTokenClassifier(tiny_checkpoint).predict([["the"]])
    with pytest.raises(ValueError, match="Instead of module__dropout, set dropout=0.3"):
        AttentionTokenClassifier(tiny_checkpoint).set_params(module__dropout=0.3)


def test_parameters_match_signature_constraints_and_docstring():
    import inspect

    signature = [name for name in inspect.signature(AttentionTokenClassifier).parameters if name != "kwargs"]
    constraints = set(AttentionTokenClassifier._parameter_constraints)
    assert constraints == set(signature)
    doc = AttentionTokenClassifier.__doc__
    documented = [line.strip().split(" : ")[0] for line in doc.splitlines()
                  if line.startswith("    ") and not line.startswith("     ") and " : " in line]
    parameters_block = documented[: documented.index("classes_")]
    assert parameters_block == signature
    assert "**kwargs" in doc and "pooling" not in parameters_block


# --------------------------------------------------------------------- scores
def _random_tags(rng, n_sentences, scheme):
    types = ["PER", "LOC", "ORG"]
    prefixes = {"iob": ["B", "I"], "iobes": ["B", "I", "E", "S"]}[scheme]
    out = []
    for _ in range(n_sentences):
        tags = []
        for _ in range(int(rng.integers(0, 12))):
            if rng.random() < 0.4:
                tags.append("O")
            else:
                tags.append(f"{rng.choice(prefixes)}-{rng.choice(types)}")
        out.append(tags)
    return out


@pytest.mark.parametrize("scheme", ["iob", "iobes"])
def test_entity_f1_equals_seqeval(scheme):
    seqeval = pytest.importorskip("seqeval.metrics")
    from seqeval.metrics.sequence_labeling import precision_recall_fscore_support
    rng = np.random.default_rng(0)
    for trial in range(40):
        y_true = _random_tags(rng, 8, scheme)
        y_pred = [list(tags) for tags in y_true]
        for tags in y_pred:  # corrupt some predictions
            for j in range(len(tags)):
                if rng.random() < 0.3:
                    prefix = rng.choice(["B", "I"] if scheme == "iob" else ["B", "I", "E", "S"])
                    tags[j] = f"{prefix}-{rng.choice(['PER', 'LOC'])}" if rng.random() < 0.5 else "O"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = seqeval.f1_score(y_true, y_pred)
            p, r, f, s = precision_recall_fscore_support(y_true, y_pred, average=None)
        assert entity_f1(y_true, y_pred) == expected  # exactly, not approximately
        report = entity_scores(y_true, y_pred)
        types = [name for name in report if name != "micro avg"]
        np.testing.assert_array_equal([report[t]["f1"] for t in types], f)
        np.testing.assert_array_equal([report[t]["precision"] for t in types], p)
        np.testing.assert_array_equal([report[t]["support"] for t in types], s)


def test_entities_read_iob1_iob2_and_iobes_alike():
    iob2 = [["B-PER", "I-PER", "O", "B-LOC", "B-LOC"]]
    iob1 = [["I-PER", "I-PER", "O", "I-LOC", "B-LOC"]]
    iobes = [["B-PER", "E-PER", "O", "S-LOC", "S-LOC"]]
    expected = [("PER", 0, 1), ("LOC", 3, 3), ("LOC", 4, 4)]
    assert entities(iob2) == entities(iob1) == entities(iobes) == expected


def test_tag_scheme():
    assert tag_scheme(["O", "B-PER", "I-PER"]) == "entity"
    assert tag_scheme(["O", "S-PER", "E-LOC"]) == "entity"
    assert tag_scheme(["NN", "VB", "DT"]) == "plain"
    with pytest.raises(ValueError, match="BILOU"):
        tag_scheme(["O", "B-PER", "L-PER", "U-LOC"])


def test_score_is_entity_f1_of_predictions(tagger, tagged):
    X, y = tagged
    assert tagger.score(X[:40], y[:40]) == entity_f1(y[:40], tagger.predict(X[:40]))


# ------------------------------------------------------- saving and exporting
def test_save_load_and_pickle_predict_identically(tagger, tagged, tmp_path):
    X, _ = tagged
    expected = tagger.predict_proba(X[:20])
    tagger.save(tmp_path / "model")
    loaded = sklattn.load(tmp_path / "model")
    assert type(loaded) is AttentionTokenClassifier
    assert loaded.classes_.tolist() == tagger.classes_.tolist()
    for restored in (loaded, pickle.loads(pickle.dumps(tagger))):
        for a, b in zip(restored.predict_proba(X[:20]), expected):
            np.testing.assert_array_equal(a, b)
        assert restored.predict(X[:20]) == tagger.predict(X[:20])


def test_pickle_is_lean(tagger):
    payload = pickle.dumps(tagger)
    weights_and_tokenizer = len(pickle.dumps(tagger.module_.state_dict())) + len(pickle.dumps(tagger.tokenizer_))
    assert hasattr(tagger, "optimizer_")
    assert len(payload) < weights_and_tokenizer + 20_000


def test_export_loads_as_auto_model_for_token_classification_with_equal_logits(tagger, tagged, tmp_path):
    from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

    X, _ = tagged
    tagger.export_pretrained(tmp_path / "export")
    model = AutoModelForTokenClassification.from_pretrained(tmp_path / "export").eval()
    assert model.config.id2label == dict(enumerate(tagger.classes_.tolist()))
    assert model.config.label2id == {tag: i for i, tag in enumerate(tagger.classes_.tolist())}
    dataset = TokenizedDataset(tagger._align(X[:8] + [["zurich", "lyon"] * 12]))  # one long sentence
    batch, _ = WindowCollate(0)([dataset[i] for i in range(len(dataset))])
    inputs = {name: batch[name] for name in ("input_ids", "attention_mask", "token_type_ids")}
    with torch.inference_mode():
        ours = tagger.module_.eval()(**inputs)
        theirs = model(**inputs).logits
    mask = batch["attention_mask"].bool()
    torch.testing.assert_close(theirs[mask], ours[mask], atol=1e-5, rtol=1e-5)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "export")
    tagged_pieces = pipeline("token-classification", model=model, tokenizer=tokenizer)("the zurich film")
    assert {piece["entity"] for piece in tagged_pieces} <= set(tagger.classes_.tolist())


# ------------------------------------------------------------------ command line
def test_command_line_token_task_from_conll_files(tiny_checkpoint, tagged, tmp_path, capsys):
    pytest.importorskip("pandas")
    from sklattn._cli.tokens import read_conll
    from sklattn.cli import main

    X, y = tagged
    train = tmp_path / "train.conll"
    lines = ["-DOCSTART- -X- O", ""]
    for words, tags in zip(X, y):
        lines += [f"{w} X {t}" for w, t in zip(words, tags)] + [""]
    train.write_text("\n".join(lines), encoding="utf-8")
    model = tmp_path / "model"
    assert main(["fit", "--task", "tokens", "--data", str(train), "--checkpoint", tiny_checkpoint,
                 "--output", str(model), "--max-length", "16", "--epochs", "8", "--lr", "3e-3",
                 "--batch-size", "16", "-q"]) == 0
    assert type(sklattn.load(model)) is AttentionTokenClassifier
    assert main(["predict", "--model", str(model), "--data", str(train),
                 "--output", str(tmp_path / "out.conll")]) == 0
    predicted = read_conll(tmp_path / "out.conll")
    assert predicted["tokens"].tolist() == X
    assert [len(t) for t in predicted["tags"]] == [len(x) for x in X]
    assert main(["predict", "--model", str(model), "--data", str(train),
                 "--output", str(tmp_path / "out.csv")]) == 0
    import pandas as pd

    table = pd.read_csv(tmp_path / "out.csv")
    assert table["prediction"].str.split().map(len).tolist() == [len(x) for x in X]
    capsys.readouterr()
    assert main(["evaluate", "--model", str(model), "--data", str(tmp_path / "out.csv"),
                 "--target", "prediction", "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["entity_f1"] == 1.0 and scores["word_accuracy"] == 1.0  # predictions vs themselves
    assert {"f1_LOC", "f1_POS", "f1_NEG", "entity_precision"} <= set(scores)
    bad = tmp_path / "bad.conll"
    bad.write_text("the X B-ORG\n\n", encoding="utf-8")
    assert main(["evaluate", "--model", str(model), "--data", str(bad)]) == 2
    assert "B-ORG" in capsys.readouterr().err


def test_auto_epochs_count_every_window_of_a_long_sentence(tiny_checkpoint, tokenizer):
    """max_epochs="auto" on a tagger: long sentences read in several windows get fewer epochs."""
    from sklattn._text.small_data import auto_max_epochs

    def resolved(X, y):
        tagger = AttentionTokenClassifier(tiny_checkpoint, max_length=16, batch_size=8, random_state=0)
        return resolved_max_epochs(tagger, X, y)

    def windows(X):
        return sum(len(w) for w in align_sentences(tokenizer, X, max_length=16, stride=4)["input_ids"])

    short = make_tagged(128, seed=1)  # 3-8 words: mostly one window of 16 pieces
    long = make_tagged(128, seed=1, long_every=1)  # 30 words: several windows each
    short_windows, long_windows = windows(short[0]), windows(long[0])
    assert 128 <= short_windows < 2 * 128 <= long_windows
    assert resolved(*short) == auto_max_epochs(16, "full", 128, short_windows) > 8
    assert resolved(*long) == auto_max_epochs(16, "full", 128, long_windows) <= 8
