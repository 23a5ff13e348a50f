"""Saving and loading: pickle-free model directories, pickle/joblib, export, crashes, hostile files.

Every estimator is fitted once from a copy of the tiny checkpoint that is then
deleted; one fresh offline process reloads everything (sklattn.load, pickle,
joblib) and is then killed with SIGKILL in the middle of a save.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import make_sentiment_texts
from sklearn.exceptions import NotFittedError
from skorch.callbacks import EarlyStopping
from skorch.dataset import ValidSplit

import sklattn
from sklattn import (
    AttentionClassifier,
    AttentionEmbedder,
    AttentionRegressor,
    AttentionTokenClassifier,
    TabularAttentionClassifier,
    TabularAttentionPretrainer,
    TabularAttentionRegressor,
)
from sklattn._io.format import MANIFEST, WEIGHTS, file_table as _file_table, seal as _seal
from sklattn._io.serialize import Unrepresentable, decode, encode

HAS_PEFT = importlib.util.find_spec("peft") is not None
TEXT = dict(max_length=32, max_epochs=1, batch_size=16, lr=2e-3, random_state=0)
TABULAR = dict(max_epochs=2, random_state=0)
NAMES = ["classifier", "regressor", "lora_classifier", "embedder", "token_classifier",
         "tabular_classifier", "tabular_regressor", "tabular_pretrainer"]


def _as_array(outputs) -> np.ndarray:
    """Per-sentence outputs of the token classifier (lists) as one flat array."""
    if isinstance(outputs, list):
        parts = [np.asarray(part, dtype=object if part and isinstance(part[0], str) else None)
                 if isinstance(part, list) else part for part in outputs]
        return np.concatenate(parts)
    return outputs


def _outputs(estimator, X) -> dict[str, np.ndarray]:
    if hasattr(estimator, "transform"):
        return {"transform": estimator.transform(X)}
    outputs = {"predict": _as_array(estimator.predict(X))}
    if hasattr(estimator, "predict_proba"):
        outputs["proba"] = _as_array(estimator.predict_proba(X))
    return outputs


def _tagged(texts) -> tuple[list[list[str]], list[list[str]]]:
    """Words of each text, tagged B-POS / B-NEG at their cue word and O elsewhere."""
    from conftest import NEGATIVE, POSITIVE

    words = [str(text).split() for text in texts]
    tags = [["B-POS" if w in POSITIVE else "B-NEG" if w in NEGATIVE else "O" for w in sentence]
            for sentence in words]
    return words, tags


def _weight_bytes(module: torch.nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in module.state_dict().values())


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tiny_checkpoint):
    """Every estimator, fitted from a checkpoint copy that is deleted afterwards, saved three ways."""
    root = tmp_path_factory.mktemp("persistence")
    ckpt = str(shutil.copytree(tiny_checkpoint, root / "checkpoint-copy"))
    texts, labels = make_sentiment_texts(32, seed=1)
    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.normal(size=(48, 4)), columns=["a", "b", "c", "d"])
    table.iloc[3, 1] = np.nan
    mixed = table.assign(kind=rng.choice(["x", "y", None], len(table)))  # a string column
    models = {
        "classifier": AttentionClassifier(ckpt, **TEXT).fit(texts, labels),
        "regressor": AttentionRegressor(ckpt, **TEXT).fit(texts, rng.normal(size=(32, 2))),
        "embedder": AttentionEmbedder(
            ckpt, max_length=32, fine_tune=True, max_epochs=1, lr=2e-3, random_state=0,
            fine_tune_params={"finetune": "lora"} if HAS_PEFT else None,
        ).fit(texts, labels),
        "token_classifier": AttentionTokenClassifier(ckpt, **TEXT).fit(*_tagged(texts)),
        "tabular_classifier": TabularAttentionClassifier(**TABULAR).fit(table, table["a"] > 0),
        "tabular_regressor": TabularAttentionRegressor(**TABULAR).fit(table.to_numpy(), table["b"].fillna(0)),
        "tabular_pretrainer": TabularAttentionPretrainer(**TABULAR).fit(mixed),
    }
    if HAS_PEFT:
        int_labels = (labels == "pos").astype(int) * 7
        models["lora_classifier"] = AttentionClassifier(
            ckpt, finetune="lora", lora_target_modules=("query", "value"), **TEXT
        ).fit(texts, int_labels)
    inputs = {name: table if name == "tabular_classifier" else
              table.to_numpy() if name.startswith("tabular") else texts for name in models}
    inputs["tabular_pretrainer"] = mixed
    inputs["token_classifier"] = _tagged(texts)[0]
    expected = {}
    for name, model in models.items():
        model.save(root / name)
        with open(root / f"{name}.pkl", "wb") as f:
            pickle.dump(model, f)
        joblib.dump(model, root / f"{name}.joblib")
        expected[name] = _outputs(model, inputs[name])
    shutil.rmtree(ckpt)
    return SimpleNamespace(root=root, models=models, inputs=inputs, expected=expected)


FRESH_PROCESS = textwrap.dedent(
    """
    import pickle, sys, time
    from pathlib import Path
    import joblib, numpy as np, pandas as pd
    import sklattn
    root, names = Path({root!r}), {names!r}
    inputs = pickle.load(open(root / "inputs.pkl", "rb"))
    from test_persistence import _as_array
    results = {{}}
    for name in names:
        loaders = {{"save": lambda: sklattn.load(root / name),
                   "pickle": lambda: pickle.load(open(root / f"{{name}}.pkl", "rb")),
                   "joblib": lambda: joblib.load(root / f"{{name}}.joblib")}}
        for how, loader in loaders.items():
            model = loader()
            X = inputs[name]
            if hasattr(model, "transform"):
                results[f"{{name}}/{{how}}/transform"] = model.transform(X)
                continue
            results[f"{{name}}/{{how}}/predict"] = _as_array(model.predict(X))
            if hasattr(model, "predict_proba"):
                results[f"{{name}}/{{how}}/proba"] = _as_array(model.predict_proba(X))
    np.savez(root / "fresh.npz", **{{k: v.astype(str) if v.dtype == object else v
                                   for k, v in results.items()}})

    # A save of a changed model over "crash", killed after the weights are written.
    model = sklattn.load(root / "crash")
    with __import__("torch").no_grad():
        model.module_.head.bias += 5.0
    from safetensors import torch as st
    real = st.save_file
    def blocking_save_file(*args, **kwargs):
        real(*args, **kwargs)
        (root / "ready").write_text("weights written")
        time.sleep(600)
    st.save_file = blocking_save_file
    model.save(root / "crash")
    """
)


@pytest.fixture(scope="module")
def fresh_process(saved):
    """Reload everything in a new offline process without the checkpoint, then kill it mid-save."""
    root = saved.root
    with open(root / "inputs.pkl", "wb") as f:
        pickle.dump(saved.inputs, f)
    shutil.copytree(root / "classifier", root / "crash")
    tests = os.path.dirname(__file__)
    code = FRESH_PROCESS.format(root=str(root), names=sorted(saved.models))
    empty_home = root / "empty-hf-home"  # no Hugging Face cache either
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(empty_home), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": tests + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not (root / "ready").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"fresh process failed: {process.stderr.read()[-3000:]}")
        time.sleep(0.1)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    process.stderr.close()
    with np.load(root / "fresh.npz") as data:
        return {key: data[key] for key in data.files}


# ------------------------------------------------------------- round trips
def test_every_estimator_class_is_covered(saved):
    from sklattn._io.registry import estimator_classes as _estimator_classes

    assert {type(m).__name__ for m in saved.models.values()} == set(_estimator_classes())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("how", ["save", "pickle", "joblib"])
def test_fresh_offline_process_without_checkpoint_predicts_identically(saved, fresh_process, name, how):
    if name not in saved.models:
        pytest.skip("peft is not installed")
    for output, expected in saved.expected[name].items():
        np.testing.assert_array_equal(fresh_process[f"{name}/{how}/{output}"], expected)


@pytest.mark.parametrize("name", NAMES)
def test_loaded_estimator_has_the_same_parameters_and_fitted_state(saved, name):
    if name not in saved.models:
        pytest.skip("peft is not installed")
    original, loaded = saved.models[name], sklattn.load(saved.root / name)
    assert type(loaded) is type(original)
    assert loaded.get_params(deep=False).keys() == original.get_params(deep=False).keys()
    for key, value in original.get_params(deep=False).items():
        assert loaded.get_params(deep=False)[key] == value, key
    for attribute in ("classes_", "target_mean_", "feature_mean_", "feature_names_in_"):
        if hasattr(original, attribute):
            np.testing.assert_array_equal(getattr(loaded, attribute), getattr(original, attribute))
            assert getattr(loaded, attribute).dtype == getattr(original, attribute).dtype
    history = "fine_tune_history_" if name == "embedder" else "history_"
    assert len(getattr(loaded, history)) == len(getattr(original, history))
    network = loaded.encoder_ if name == "embedder" else loaded.module_
    assert all(p.device.type == "cpu" for p in network.parameters())


def test_loaded_text_model_keeps_training(saved):
    loaded = sklattn.load(saved.root / "classifier")
    X = saved.inputs["classifier"]
    loaded.partial_fit(X, saved.models["classifier"].predict(X))
    assert len(loaded.history_) == 2


def test_pickle_and_saved_directory_are_about_the_weight_size(tmp_path, tiny_checkpoint):
    """A wider checkpoint (1.2 MB of weights) so the fixed overhead is measurable against it."""
    from transformers import BertConfig, BertModel

    ckpt = str(shutil.copytree(tiny_checkpoint, tmp_path / "ckpt"))
    vocab = json.loads((Path(ckpt) / "config.json").read_text())["vocab_size"]
    BertModel(BertConfig(vocab_size=vocab, hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=256, max_position_embeddings=64)).save_pretrained(ckpt)
    texts, labels = make_sentiment_texts(16)
    clf = AttentionClassifier(ckpt, **{**TEXT, "max_epochs": 2}).fit(texts, labels)
    weights = _weight_bytes(clf.module_)
    assert weights > 1_000_000
    joblib.dump(clf, tmp_path / "m.joblib")
    clf.save(tmp_path / "saved")
    assert len(pickle.dumps(clf)) <= 1.05 * weights
    assert (tmp_path / "m.joblib").stat().st_size <= 1.05 * weights
    assert _dir_bytes(tmp_path / "saved") <= 1.05 * weights
    assert (tmp_path / "saved" / WEIGHTS).stat().st_size <= weights + 10_000  # weights once


# ------------------------------------------------------------ crash safety
def test_kill_during_save_leaves_the_old_model_intact(saved, fresh_process):
    crash = saved.root / "crash"
    leftovers = list(crash.parent.glob(".crash.sklattn-tmp-*"))
    assert leftovers  # the killed save had written into its staging directory
    restored = sklattn.load(crash)
    expected = saved.expected["classifier"]
    np.testing.assert_array_equal(restored.predict_proba(saved.inputs["classifier"]), expected["proba"])
    restored.save(crash)  # the next save clears what the dead process left
    assert not list(crash.parent.glob(".crash.sklattn-tmp-*"))


def test_save_interrupted_between_fallback_renames_is_recovered(saved, tmp_path):
    """Without renameat2 the old directory is renamed aside first; a crash then leaves no target."""
    target = tmp_path / "model"
    shutil.copytree(saved.root / "classifier", tmp_path / ".model.sklattn-old-host-999999-0a1b")
    with pytest.warns(UserWarning, match="interrupted save"):
        loaded = sklattn.load(target)
    assert (target / MANIFEST).is_file()
    np.testing.assert_array_equal(loaded.predict(saved.inputs["classifier"]), saved.expected["classifier"]["predict"])


def test_fallback_swap_without_renameat2(saved, tmp_path, monkeypatch):
    import sklattn._io.atomic as atomic

    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    target = tmp_path / "model"
    saved.models["classifier"].save(target)
    saved.models["regressor"].save(target)
    assert isinstance(sklattn.load(target), AttentionRegressor)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_save_replaces_a_model_but_refuses_other_paths(saved, tmp_path):
    target = tmp_path / "model"
    saved.models["classifier"].save(target)
    saved.models["tabular_regressor"].save(target)
    assert isinstance(sklattn.load(target), TabularAttentionRegressor)
    assert not (target / "encoder").exists()  # nothing of the old model is left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "todo.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not a sklattn model directory; refusing"):
        saved.models["classifier"].save(foreign)
    assert [p.name for p in foreign.iterdir()] == ["todo.txt"]
    with pytest.raises(ValueError, match="is a file"):
        saved.models["classifier"].save(foreign / "todo.txt")
    with pytest.raises(NotFittedError):
        AttentionClassifier("any").save(tmp_path / "unfitted")


# ---------------------------------------------------- broken and foreign files
def _reseal(model_dir: Path, change) -> None:
    """Apply ``change(model_dir, manifest)``, then rewrite sklattn.json with fresh checksums,
    as someone crafting a file would."""
    manifest = json.loads((model_dir / MANIFEST).read_text())
    change(model_dir, manifest)
    manifest["files"] = {k: v for k, v in _file_table(model_dir).items() if k != MANIFEST}
    (model_dir / MANIFEST).write_text(json.dumps(_seal(manifest)))


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))


CORRUPTIONS = {
    "truncated weights": (lambda d: _truncate(d / WEIGHTS), "model.safetensors is truncated"),
    "flipped weight byte": (lambda d: _flip_byte(d / WEIGHTS), "model.safetensors is corrupted"),
    "missing tokenizer": (lambda d: (d / "encoder" / "tokenizer.json").unlink(), "tokenizer.json is missing"),
    "truncated manifest": (lambda d: _truncate(d / MANIFEST), "truncated or corrupted"),
    "edited manifest": (
        lambda d: (d / MANIFEST).write_text((d / MANIFEST).read_text().replace('"pos"', '"neg"', 1)),
        "checksum does not match",
    ),
    "newer format": (
        lambda d: _reseal(d, lambda _, m: m.update(format_version=99)), "format version 99.*Upgrade sklattn"
    ),
    "foreign json": (lambda d: (d / MANIFEST).write_text('{"name": "x"}'), "does not describe a sklattn model"),
    "unexpected encoder file": (
        lambda d: (d / "encoder" / "vocab.txt").write_text("[PAD]\n"), "files the model did not save"
    ),
    "shape mismatch": (
        lambda d: _reseal(d, lambda _, m: m["fitted"].update(n_outputs_=3)), "weights do not fit"
    ),
}


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_broken_model_directories_give_clear_errors(saved, tmp_path, kind):
    model_dir = tmp_path / "model"
    shutil.copytree(saved.root / "classifier", model_dir)
    damage, message = CORRUPTIONS[kind]
    damage(model_dir)
    with pytest.raises(ValueError, match=message) as error:
        sklattn.load(model_dir)
    assert str(model_dir) in str(error.value)


def test_paths_that_are_not_models_give_clear_errors(saved, tmp_path, tiny_checkpoint):
    (tmp_path / "empty").mkdir()
    cases = {
        tmp_path / "missing": "no such directory",
        tmp_path / "empty": "not a sklattn model directory",
        saved.root / "classifier.pkl": "is a file",
        Path(tiny_checkpoint): "Hugging Face model directory",
    }
    for path, message in cases.items():
        with pytest.raises(ValueError, match=message):
            sklattn.load(path)


# ------------------------------------------------------------- hostile files
class _WritesMarker:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


def test_crafted_model_directories_run_no_code(saved, tmp_path):
    marker = tmp_path / "marker"
    model_dir = tmp_path / "model"
    shutil.copytree(saved.root / "classifier", model_dir)
    payload = pickle.dumps(_WritesMarker(marker))
    for name in ("model.pkl", "pytorch_model.bin", "training_args.bin", "model.joblib"):
        (model_dir / name).write_bytes(payload)  # where careless loaders look
    np.testing.assert_array_equal(sklattn.load(model_dir).predict(saved.inputs["classifier"]),
                                  saved.expected["classifier"]["predict"])

    def remote_code(directory, manifest):
        config = json.loads((directory / "encoder" / "config.json").read_text())
        config["auto_map"] = {"AutoConfig": "evil.EvilConfig", "AutoModel": "evil.EvilModel"}
        del config["model_type"]  # with a known model_type transformers ignores auto_map
        (directory / "encoder" / "config.json").write_text(json.dumps(config))
        (directory / "encoder" / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")

    hostile = {
        "estimator": (lambda _, m: m.update(estimator="posix.system"), "not a sklattn estimator"),
        "optimizer": (
            lambda _, m: m["params"].update(optimizer={"__sklattn__": "optimizer", "name": "__builtins__"}),
            "not an optimizer class",
        ),
        "array": (
            lambda _, m: m["fitted"].update(classes_={"__sklattn__": "ndarray", "dtype": "V8", "shape": [1], "data": [0]}),
            "unsupported dtype",
        ),
        "remote code": (remote_code, "(?s)encoder config or tokenizer cannot be loaded.*trust_remote_code"),
    }
    for kind, (change, message) in hostile.items():
        crafted = tmp_path / kind
        shutil.copytree(model_dir, crafted)
        _reseal(crafted, change)
        with pytest.raises(ValueError, match=message):
            sklattn.load(crafted)
    assert not marker.exists()


# ---------------------------------------------------- what cannot be stored
def test_labels_json_cannot_hold_are_refused_before_writing(saved, tmp_path):
    clf = copy.deepcopy(saved.models["classifier"])
    clf.classes_ = np.array([Decimal("0.5"), Decimal("1.5")], dtype=object)
    with pytest.raises(ValueError, match="decimal.Decimal.*pickle/joblib"):
        clf.save(tmp_path / "model")
    assert not any(tmp_path.iterdir())


def test_unstorable_parameters_warn_and_load_with_defaults(saved, tmp_path):
    clf = copy.deepcopy(saved.models["classifier"])
    clf.set_params(callbacks=[("stop", EarlyStopping())], train_split=ValidSplit(0.2, stratified=True))
    with pytest.warns(UserWarning, match=r"callbacks \(skorch.callbacks.training.EarlyStopping\)"):
        clf.save(tmp_path / "clf")
    loaded = sklattn.load(tmp_path / "clf")
    assert loaded.callbacks is None
    assert loaded.train_split.cv == 0.2 and loaded.train_split.stratified
    np.testing.assert_array_equal(loaded.predict(saved.inputs["classifier"]), saved.expected["classifier"]["predict"])

    X = saved.inputs["tabular_regressor"]
    source = saved.models["tabular_regressor"]
    target = TabularAttentionRegressor(init_from=source, **TABULAR).fit(X, X[:, 0])
    with pytest.warns(UserWarning, match="init_from"):
        target.save(tmp_path / "transfer")
    loaded = sklattn.load(tmp_path / "transfer")
    assert loaded.init_from is None and loaded.head_transferred_
    np.testing.assert_array_equal(loaded.predict(X), target.predict(X))


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_model_saved_with_a_gpu_device_loads_on_the_cpu(saved, tmp_path):
    clf = copy.deepcopy(saved.models["classifier"])
    clf.set_params(device="cuda")  # as if trained on a GPU: the saved tensors are CPU tensors
    clf.save(tmp_path / "model")
    with pytest.warns(UserWarning, match="device='cuda'.*loaded on the CPU"):
        loaded = sklattn.load(tmp_path / "model")
    assert loaded.device == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(saved.inputs["classifier"]), saved.expected["classifier"]["proba"])
    assert sklattn.load(tmp_path / "model", device=torch.device("cpu")).device == torch.device("cpu")


def test_value_encoding_round_trips_exactly():
    values = [
        None, True, 3, -1.5, float("nan"), float("inf"), "text", (1, "a", (2.0,)), [1, [2]],
        {"a": 1, 2: "b"}, {"__sklattn__": "not a tag"}, Path("/x/y"), torch.device("cpu"),
        torch.optim.SGD, np.float32(0.25), np.int64(7), np.str_("s"), np.bool_(True),
        np.array([[1.5, np.nan], [np.inf, -0.0]], dtype=np.float32), np.array(["a", "bc"]),
        np.array([1, "a", 2.5, True, np.int32(3)], dtype=object), np.array([True, False]),
    ]
    for value in values:
        decoded = decode(json.loads(json.dumps(encode(value), allow_nan=False)))
        assert type(decoded) is type(value)
        if isinstance(value, np.ndarray):
            assert decoded.dtype == value.dtype
            np.testing.assert_array_equal(decoded, value)
            assert [type(v) for v in decoded.ravel()] == [type(v) for v in value.ravel()]
        elif value == value:  # NaN aside
            assert decoded == value
    for bad in (object(), lambda: 0, np.array([1j]), {1, 2}, np.array([None], dtype=object)):
        with pytest.raises(Unrepresentable):
            encode(bad)


# ------------------------------------------------------------------ export
def _hidden_states(encoder, tokenizer, texts) -> np.ndarray:
    batch = tokenizer(list(texts), padding=True, return_tensors="pt")
    encoder.eval()
    with torch.inference_mode():
        return encoder(**batch).last_hidden_state.numpy()


@pytest.mark.parametrize("name", ["classifier", "lora_classifier", "embedder"])
def test_exported_encoder_loads_with_automodel(saved, tmp_path, name):
    from transformers import AutoModel, AutoTokenizer

    if name not in saved.models:
        pytest.skip("peft is not installed")
    model = saved.models[name]
    model.export_pretrained(tmp_path / "export")
    model.export_pretrained(tmp_path / "export")  # replacing an earlier export is fine
    encoder = AutoModel.from_pretrained(tmp_path / "export", local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "export", local_files_only=True)
    texts = saved.inputs[name][:8]
    ours = model.encoder_ if name == "embedder" else model.module_.encoder
    expected = _hidden_states(ours, model.tokenizer_, texts)
    merged = name == "lora_classifier" or (name == "embedder" and HAS_PEFT)
    if merged:  # adapters merged into the weights: equal up to float rounding
        np.testing.assert_allclose(_hidden_states(encoder, tokenizer, texts), expected, atol=1e-5)
    else:
        np.testing.assert_array_equal(_hidden_states(encoder, tokenizer, texts), expected)
    info = json.loads((tmp_path / "export" / "sklattn_export.json").read_text())
    assert info["pooling"] == model.pooling and info["lora_merged"] == merged
    assert not any("lora" in key for key in encoder.state_dict())
    with pytest.raises(ValueError, match="refusing"):
        model.export_pretrained(saved.root / name)  # a saved model is not an export
    assert not hasattr(saved.models["tabular_classifier"], "export_pretrained")


# ------------------------------------------------- models saved by earlier versions
LEGACY = Path(__file__).resolve().parent / "fixtures" / "legacy_models"


@pytest.mark.parametrize("name", ["classifier", "regressor", "embedder",
                                  "tabular_classifier", "tabular_regressor"])
def test_models_saved_by_sklattn_0_1_0_load_and_predict_as_saved(name, tmp_path):
    # Written by tests/fixtures/make_legacy_models.py with the flat-layout code of 0.1.0;
    # copied so that loading cannot touch the fixture.
    expected = json.loads((LEGACY / "expected.json").read_text())
    model = sklattn.load(shutil.copytree(LEGACY / name, tmp_path / name))
    assert type(model).__name__ == json.loads((LEGACY / name / MANIFEST).read_text())["estimator"]
    X = (np.array(expected["table"], dtype=np.float32) if name.startswith("tabular")
         else np.array(expected["texts"], dtype=object))
    for method, values in expected["outputs"][name].items():
        got = getattr(model, {"proba": "predict_proba"}.get(method, method))(X)
        if np.asarray(values).dtype.kind in "OU":
            assert list(got) == values
        else:
            np.testing.assert_allclose(got, np.asarray(values), rtol=0, atol=1e-6)
