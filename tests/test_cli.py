"""``python -m sklattn fit / predict / evaluate`` on CSV and Parquet files, run in-process."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

import sklattn  # noqa: E402
from sklattn._cli import tables as _tables  # noqa: E402
from sklattn.cli import main  # noqa: E402

TINY = ["--max-length", "16", "--batch-size", "16", "--random-state", "0"]


def run(*argv) -> tuple[int, str, str]:
    """``main(argv)`` with its stdout and stderr captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(arg) for arg in argv])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def table(tmp_path_factory, sentiment_data) -> Path:
    X, y = sentiment_data
    n = 48
    frame = pd.DataFrame({
        "id": np.arange(n),
        "review": X[:n],
        "other": X[n : 2 * n],
        "label": y[:n],
        "score": [len(text) / 7 for text in X[:n]],
        "tags": [f"{label}|long" if len(text) > 30 else label for text, label in zip(X[:n], y[:n])],
    })
    path = tmp_path_factory.mktemp("cli") / "train.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def classifier_run(table, tiny_checkpoint, tmp_path_factory):
    model = tmp_path_factory.mktemp("cli-model") / "sentiment"
    result = run("fit", "--data", table, "--text-column", "review", "--target", "label",
                 "--checkpoint", tiny_checkpoint, "--output", model, "--epochs", "2",
                 "--valid-fraction", "0.25", *TINY)
    return model, result


def test_fit_shows_progress_and_saves_a_loadable_model(classifier_run, table):
    model, (code, out, err) = classifier_run
    assert code == 0, err
    assert "train_loss" in out and "valid_loss" in out  # the epoch table
    assert "epoch 1:" in err and "epoch 2:" in err  # progress bars
    assert "saved to" in err and "history.png" in err
    assert (model / "history.png").read_bytes()[:4] == b"\x89PNG"
    metadata = json.loads((model / "sklattn_cli.json").read_text())
    assert metadata["task"] == "classification" and metadata["text_columns"] == ["review"]
    loaded = sklattn.load(model)
    assert list(loaded.classes_) == ["neg", "pos"] and loaded.text_columns == "review"
    assert len(loaded.history_) == 2


def test_predict_adds_prediction_and_probability_columns(classifier_run, table, tmp_path):
    model, _ = classifier_run
    code, _, err = run("predict", "--model", model, "--data", table, "--output", tmp_path / "p.csv")
    assert code == 0, err
    written = pd.read_csv(tmp_path / "p.csv")
    frame = pd.read_csv(table)
    assert list(written.columns) == [*frame.columns, "prediction", "proba_neg", "proba_pos"]
    np.testing.assert_allclose(written[["proba_neg", "proba_pos"]].sum(axis=1), 1.0, atol=1e-6)
    expected = sklattn.load(model).predict(frame)
    np.testing.assert_array_equal(written["prediction"], expected)
    # Another file may name the text column differently.
    renamed = tmp_path / "renamed.csv"
    frame.rename(columns={"review": "text"}).to_csv(renamed, index=False)
    code, _, err = run("predict", "--model", model, "--data", renamed, "--text-column", "text",
                       "--output", tmp_path / "q.csv")
    assert code == 0, err
    np.testing.assert_array_equal(pd.read_csv(tmp_path / "q.csv")["prediction"], expected)


def test_evaluate_prints_accuracy_and_f1_as_text_or_json(classifier_run, table):
    model, _ = classifier_run
    frame = pd.read_csv(table)
    accuracy = float(np.mean(sklattn.load(model).predict(frame) == frame["label"]))
    code, out, _ = run("evaluate", "--model", model, "--data", table)
    assert code == 0
    lines = dict(line.split() for line in out.splitlines())
    assert lines["task"] == "classification" and lines["n_samples"] == "48"
    assert float(lines["accuracy"]) == pytest.approx(accuracy, abs=1e-4) and "f1_macro" in lines
    code, out, _ = run("evaluate", "--model", model, "--data", table, "--target", "label", "--json")
    scores = json.loads(out)
    assert code == 0 and scores["accuracy"] == pytest.approx(accuracy)
    assert set(scores) == {"task", "n_samples", "accuracy", "f1_macro"}


def test_sentence_pair_regression_from_parquet(table, tiny_checkpoint, tmp_path):
    pytest.importorskip("pyarrow")
    data = tmp_path / "train.parquet"
    pd.read_csv(table).to_parquet(data)
    model = tmp_path / "pairs"
    code, _, err = run("fit", "--data", data, "--text-column", "review", "--text-column", "other",
                       "--target", "score", "--checkpoint", tiny_checkpoint, "--output", model,
                       "--epochs", "1", "--quiet", *TINY)
    assert code == 0 and err == ""
    assert json.loads((model / "sklattn_cli.json").read_text())["task"] == "regression"  # auto
    code, _, _ = run("predict", "--model", model, "--data", data, "--output", tmp_path / "p.parquet")
    written = pd.read_parquet(tmp_path / "p.parquet")
    frame = pd.read_parquet(data)
    np.testing.assert_allclose(written["prediction"], sklattn.load(model).predict(frame[["review", "other"]]))
    code, out, _ = run("evaluate", "--model", model, "--data", data, "--json")
    assert code == 0 and {"r2", "mae", "rmse"} <= set(json.loads(out))


def test_multilabel_from_a_separated_column(table, tiny_checkpoint, tmp_path):
    model = tmp_path / "tags"
    fit = ["fit", "--data", table, "--text-column", "review", "--target", "tags", "--task", "multilabel",
           "--checkpoint", tiny_checkpoint, "--output", model, "--epochs", "1", "-q", *TINY]
    assert run(*fit)[0] == 0
    assert json.loads((model / "sklattn_cli.json").read_text())["label_names"] == ["long", "neg", "pos"]
    code, _, _ = run("predict", "--model", model, "--data", table, "--output", tmp_path / "p.csv")
    written = pd.read_csv(tmp_path / "p.csv", keep_default_na=False)
    proba = written[["proba_long", "proba_neg", "proba_pos"]].to_numpy()
    expected = ["|".join(n for n, p in zip(["long", "neg", "pos"], row) if p >= 0.5) for row in proba]
    assert code == 0 and list(written["prediction"]) == expected
    code, out, _ = run("evaluate", "--model", model, "--data", table, "--json")
    assert code == 0 and {"accuracy", "f1_micro", "f1_macro"} <= set(json.loads(out))
    # A second fit into the same directory is refused before any training.
    code, _, err = run(*fit)
    assert code == 2 and "--overwrite" in err


def _one_line_error(code: int, err: str) -> str:
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


def test_clear_errors_for_missing_files_columns_and_empty_data(table, tmp_path, tiny_checkpoint):
    fit = ["fit", "--text-column", "review", "--target", "label", "--checkpoint", tiny_checkpoint,
           "--output", tmp_path / "m"]
    err = _one_line_error(*run(*fit, "--data", tmp_path / "nope.csv")[::2])
    assert "nope.csv does not exist" in err
    err = _one_line_error(*run(*fit[:2], "text", *fit[3:], "--data", table)[::2])
    assert "text column 'text' not found" in err and "available columns: 'id', 'review', 'other'" in err
    err = _one_line_error(*run(*fit[:4], "labels", *fit[5:], "--data", table)[::2])
    assert "target column 'labels' not found" in err
    (tmp_path / "header.csv").write_text("review,label\n")
    err = _one_line_error(*run(*fit, "--data", tmp_path / "header.csv")[::2])
    assert "has a header but no rows" in err
    (tmp_path / "empty.csv").write_text("")
    assert "is empty" in _one_line_error(*run(*fit, "--data", tmp_path / "empty.csv")[::2])
    (tmp_path / "data.json").write_text("{}")
    assert "neither CSV nor Parquet" in _one_line_error(*run(*fit, "--data", tmp_path / "data.json")[::2])
    (tmp_path / "holes.csv").write_text("review,label\ngood,pos\n,neg\n")
    assert "1 rows of" in _one_line_error(*run(*fit, "--data", tmp_path / "holes.csv")[::2])
    err = _one_line_error(*run("predict", "--model", tmp_path / "none", "--data", table,
                               "--output", tmp_path / "p.csv")[::2])
    assert "model directory" in err and "does not exist" in err
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    err = _one_line_error(*run(*fit[:-1], tmp_path / "notes", "--data", table)[::2])
    assert "without a saved model" in err and (tmp_path / "notes" / "keep.txt").exists()


def test_parquet_without_pyarrow_says_what_to_install(table, tmp_path, monkeypatch):
    monkeypatch.setattr(_tables.importlib.util, "find_spec", lambda name: None)
    (tmp_path / "x.parquet").write_bytes(b"PAR1")
    code, _, err = run("evaluate", "--model", tmp_path, "--data", tmp_path / "x.parquet")
    assert "model directory" in err or "pip install pyarrow" in err
    with pytest.raises(_tables.CLIError, match="pip install pyarrow"):
        _tables.read_table(tmp_path / "x.parquet")


def test_usage_errors_and_help():
    code, _, err = run("fit", "--data", "x.csv")
    assert code == 2 and "required" in err
    code, out, _ = run("fit", "--help")
    assert code == 0 and "--text-column" in out and "example:" in out


def test_module_help_in_a_subprocess():
    done = subprocess.run([sys.executable, "-m", "sklattn", "--help"], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    for word in ("fit", "predict", "evaluate", "examples:", "--checkpoint"):
        assert word in done.stdout


@pytest.mark.parametrize("option", ["--epochs", "--batch-size", "--max-length"])
@pytest.mark.parametrize("value, expected", [(None, "auto"), ("auto", "auto"), ("5", 5)])
def test_epochs_batch_size_and_max_length_default_to_auto_and_take_integers(option, value, expected):
    from sklattn.cli import build_parser

    argv = ["fit", "--data", "t.csv", "--text-column", "x", "--target", "y", "--checkpoint", "c",
            "--output", "o"] + ([] if value is None else [option, value])
    assert getattr(build_parser().parse_args(argv), option[2:].replace("-", "_")) == expected


@pytest.mark.parametrize("option", ["--epochs", "--batch-size", "--max-length"])
@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_bad_epochs_batch_size_and_max_length_are_a_one_line_usage_error(option, value, capsys):
    from sklattn.cli import build_parser

    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["fit", "--data", "t.csv", option, value])
    assert exit_info.value.code == 2
    assert "positive integer or 'auto'" in capsys.readouterr().err
