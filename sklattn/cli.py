"""Command line: fine-tune, predict and evaluate from CSV or Parquet files.

``python -m sklattn fit`` trains an :class:`~sklattn.AttentionClassifier` or
:class:`~sklattn.AttentionRegressor` on a table (``--task tokens``: an
:class:`~sklattn.AttentionTokenClassifier` on a CoNLL file or on columns of
token and tag lists) and saves it (safe format,
``estimator.save``) to a directory together with ``history.png`` and the
column names it was trained on; ``predict`` and ``evaluate`` load that
directory with :func:`sklattn.load`. Problems with the user's files or
columns end the command with one line on stderr and exit code 2.

Examples
--------
>>> from sklattn.cli import build_parser
>>> args = build_parser().parse_args(
...     ["fit", "--data", "train.csv", "--text-column", "review", "--target", "label",
...      "--checkpoint", "path/to/model", "--output", "my-model"])
>>> args.command, args.text_column, args.task, args.epochs
('fit', ['review'], 'auto', 'auto')
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._cli.tables import CLIError, check_columns, read_table, write_table

__all__ = ["build_parser", "main"]

METADATA_FILE = "sklattn_cli.json"
TASKS = ("auto", "classification", "regression", "multilabel", "tokens")

_EXAMPLES = """\
examples:
  python -m sklattn fit --data train.csv --text-column review --target label \\
      --checkpoint sentence-transformers/all-MiniLM-L6-v2 --output my-model
  python -m sklattn predict --model my-model --data new.csv --output predictions.csv
  python -m sklattn evaluate --model my-model --data test.csv --target label

Run "python -m sklattn COMMAND --help" for the options of each command.
"""


# ---------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """The ``python -m sklattn`` argument parser (``fit``, ``predict``, ``evaluate``)."""
    parser = argparse.ArgumentParser(
        prog="python -m sklattn",
        description="Fine-tune a pretrained transformer on a CSV or Parquet table of texts,\n"
        "then predict and evaluate with the saved model. No Python to write.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fit = commands.add_parser(
        "fit", help="fine-tune on a table and save the model to a directory",
        description="Fine-tune a transformer encoder on the texts and targets of a table, show\n"
        "progress, and save the model, history.png and the column names to --output.",
        epilog="example:\n  python -m sklattn fit --data train.csv --text-column review "
        "--target label \\\n      --checkpoint sentence-transformers/all-MiniLM-L6-v2 --output my-model",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_data(fit)
    _add_text_columns(fit, "column holding the texts; give it twice for sentence pairs "
                      "(e.g. --text-column question --text-column answer); --task tokens: the "
                      "column of token lists (default for a CoNLL file: tokens)")
    fit.add_argument("--target", action="append", metavar="COLUMN",
                     help="column to predict; several for multi-label (0/1 columns) or "
                     "multi-output regression; --task tokens: the column of tag lists "
                     "(default for a CoNLL file: tags)")
    fit.add_argument("--task", choices=TASKS, default="auto",
                     help="auto (default): regression for non-integer numbers, classification "
                     "otherwise, multilabel for several 0/1 target columns; tokens: a tag per "
                     "word (named entities) from a CoNLL file (.conll, .bio, .iob: word ... tag "
                     "per line) or columns of token and tag lists")
    fit.add_argument("--label-sep", default="|", metavar="SEP",
                     help='multilabel with one target column: labels separated by SEP (default "|")')
    fit.add_argument("--checkpoint", required=True,
                     help="Hugging Face model id or local directory of the pretrained encoder")
    fit.add_argument("--output", required=True, type=Path, metavar="DIR",
                     help="directory to save the fine-tuned model in")
    fit.add_argument("--overwrite", action="store_true", help="replace a model saved in --output before")
    fit.add_argument("--max-length", type=_positive_or_auto, default="auto",
                     help="tokens per text, or 'auto' (default): 256 below 256 training texts, "
                          "128 from there up")
    fit.add_argument("--epochs", type=_positive_or_auto, default="auto",
                     help="training epochs, or 'auto' (default): at least 60 optimizer steps on "
                          "small data, 3 epochs on large data")
    fit.add_argument("--batch-size", type=_positive_or_auto, default="auto",
                     help="texts per step, or 'auto' (default): 32 from 512 training texts up, "
                          "8-16 below")
    fit.add_argument("--lr", type=float, default=None,
                     help="peak learning rate (default: the estimator's default)")
    fit.add_argument("--valid-fraction", type=float, default=0.0, metavar="F",
                     help="hold out this fraction to report valid_loss per epoch (default 0: none)")
    fit.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
    fit.add_argument("--device", default="cpu", help='e.g. "cuda" (default cpu)')
    fit.add_argument("--precision", choices=("auto", "fp32", "bf16", "int8"), default="auto",
                     help="auto: bf16 where the hardware runs it fast, else fp32 (default auto)")
    _add_verbose(fit)

    predict = commands.add_parser(
        "predict", help="add predictions (and probabilities) to a table",
        description="Predict every row of --data with a model saved by fit and write the table\n"
        "with a 'prediction' column (and 'proba_<class>' columns for classifiers).",
        epilog="example:\n  python -m sklattn predict --model my-model --data new.csv "
        "--output predictions.csv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_model(predict)
    _add_data(predict)
    predict.add_argument("--output", required=True, type=Path, metavar="FILE",
                         help="where to write the table with predictions (.csv, .tsv or .parquet)")
    _add_text_columns(predict, "text column(s); default: those the model was trained on")
    _add_verbose(predict, default=0)

    evaluate = commands.add_parser(
        "evaluate", help="score a saved model on a labelled table",
        description="Print accuracy and F1 (classification) or R², MAE and RMSE (regression)\n"
        "of a model saved by fit on a labelled table.",
        epilog="example:\n  python -m sklattn evaluate --model my-model --data test.csv "
        "--target label --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_model(evaluate)
    _add_data(evaluate)
    evaluate.add_argument("--target", action="append", metavar="COLUMN",
                          help="true target column(s); default: those the model was trained on")
    _add_text_columns(evaluate, "text column(s); default: those the model was trained on")
    evaluate.add_argument("--json", action="store_true", help="print the scores as JSON")
    _add_verbose(evaluate, default=0)
    return parser


def _add_data(parser) -> None:
    parser.add_argument("--data", required=True, type=Path, metavar="FILE",
                        help="table of texts: .csv, .tsv or .parquet (optionally .gz)")


def _add_model(parser) -> None:
    parser.add_argument("--model", required=True, type=Path, metavar="DIR",
                        help="directory written by 'python -m sklattn fit' (or estimator.save)")


def _add_text_columns(parser, help_text: str, required: bool = False) -> None:
    parser.add_argument("--text-column", action="append", required=required, metavar="COLUMN",
                        help=help_text)


def _add_verbose(parser, default: int = 1) -> None:
    parser.add_argument("--verbose", type=int, default=default, metavar="N",
                        help=f"0 silent, 1 progress bars and the epoch table (default {default})")
    parser.add_argument("-q", "--quiet", dest="verbose", action="store_const", const=0,
                        help="same as --verbose 0")


# ---------------------------------------------------------------- inputs
def _texts(frame, columns: Sequence[str], path: Path):
    """The text columns as strings; missing texts are an error, not the string 'nan'."""
    if not 1 <= len(columns) <= 2:
        raise CLIError(f"give --text-column once (texts) or twice (sentence pairs), got {len(columns)}.")
    check_columns(frame, columns, path, "text")
    texts = frame[list(columns)]
    _reject_missing(texts, path, "text")
    return texts.astype(str)


def _reject_missing(values, path: Path, what: str) -> None:
    missing = values.isna().any(axis=1).to_numpy()
    if missing.any():
        first = int(np.flatnonzero(missing)[0])
        raise CLIError(f"{int(missing.sum())} rows of {path} have no {what} (first: row {first}); "
                       "drop or fill them.")


def _resolve_task(task: str, frame, targets: Sequence[str]) -> str:
    from sklearn.utils.multiclass import type_of_target

    if task != "auto":
        if task == "classification" and len(targets) > 1:
            raise CLIError("classification takes one --target; use --task multilabel for "
                           "several 0/1 columns.")
        return task
    if len(targets) > 1:
        values = frame[list(targets)]
        binary = values.isin([0, 1]).all().all()
        return "multilabel" if binary else "regression"
    kind = type_of_target(frame[targets[0]].dropna().to_numpy())
    return "regression" if kind.startswith("continuous") else "classification"


def _targets(frame, targets: Sequence[str], task: str, label_sep: str, label_names, path: Path):
    """``y`` for the estimator, and the label names of a multi-label task."""
    check_columns(frame, targets, path, "target")
    values = frame[list(targets)]
    _reject_missing(values, path, "target")
    if task == "regression":
        try:
            y = values.to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise CLIError(f"regression needs numeric targets, but {list(targets)} hold text.") from None
        return (y.ravel() if len(targets) == 1 else y), None
    if task == "classification":
        return values.iloc[:, 0].to_numpy(), None
    if len(targets) > 1:  # multilabel: one 0/1 column per label
        if not values.isin([0, 1]).all().all():
            raise CLIError(f"multilabel target columns {list(targets)} must hold only 0 and 1.")
        return values.to_numpy(dtype=np.int64), list(targets)
    from sklearn.preprocessing import MultiLabelBinarizer

    label_sets = [
        [label.strip() for label in str(cell).split(label_sep) if label.strip()]
        for cell in values.iloc[:, 0]
    ]
    binarizer = MultiLabelBinarizer(classes=label_names)
    return binarizer.fit_transform(label_sets), [str(name) for name in binarizer.classes_]


def _positive_or_auto(value: str) -> int | str:
    """``--epochs`` and ``--batch-size``: a positive integer or ``auto``."""
    if value == "auto":
        return value
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', got {value!r}")
    return number


# ---------------------------------------------------------------- commands
def _fit(args) -> None:
    from ._text.classifier import AttentionClassifier
    from ._text.regressor import AttentionRegressor

    output: Path = args.output
    _check_output_dir(output, args.overwrite)  # before training, not after an hour of it
    if not 0.0 <= args.valid_fraction < 1.0:
        raise CLIError(f"--valid-fraction must be in [0, 1), got {args.valid_fraction}.")
    if args.task == "tokens":
        return _fit_tokens(args)
    if not args.text_column or not args.target:
        raise CLIError("fit needs --text-column and --target (the columns of texts and targets).")
    frame = read_table(args.data)
    texts = _texts(frame, args.text_column, args.data)
    check_columns(frame, args.target, args.data, "target")
    task = _resolve_task(args.task, frame, args.target)
    y, label_names = _targets(frame, args.target, task, args.label_sep, None, args.data)

    estimator_class = AttentionRegressor if task == "regression" else AttentionClassifier
    train_split = None
    if args.valid_fraction > 0:
        from skorch.dataset import ValidSplit

        train_split = ValidSplit(args.valid_fraction, stratified=task == "classification",
                                 random_state=args.random_state)
    columns = list(args.text_column)
    optional = {"lr": args.lr} if args.lr is not None else {}
    estimator = estimator_class(
        args.checkpoint, text_columns=columns[0] if len(columns) == 1 else columns,
        max_length=args.max_length, max_epochs=args.epochs, batch_size=args.batch_size,
        random_state=args.random_state, device=args.device, precision=args.precision,
        train_split=train_split, verbose=args.verbose, **optional,
    )
    _say(args, f"{task} on {len(frame)} rows of {args.data}: text {columns}, target {list(args.target)}")
    start = time.perf_counter()
    estimator.fit(texts, y)
    seconds = time.perf_counter() - start

    # A ValidSplit object cannot be stored without pickle (save would warn); the
    # metadata records the fraction instead, and predictions do not need it.
    estimator.set_params(train_split=None)
    estimator.save(output)  # replaces an older model atomically
    metadata = {
        "task": task, "text_columns": columns, "targets": list(args.target),
        "label_names": label_names, "label_sep": args.label_sep,
        "checkpoint": str(args.checkpoint), "trained_on": str(args.data), "n_rows": len(frame),
        "valid_fraction": args.valid_fraction,
    }
    (output / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    plot_note = _save_history_plot(estimator, output / "history.png")
    last = estimator.history_[-1]
    losses = ", ".join(f"{key} {last[key]:.4f}" for key in ("train_loss", "valid_loss") if key in last)
    _say(args, f"trained {len(estimator.history_)} epochs in {seconds:.0f} s ({losses}); "
               f"saved to {output}/ {plot_note}")
    _say(args, f"next: python -m sklattn predict --model {output} --data new.csv --output predictions.csv")


def _read_tokens(args, target_required: bool):
    """Sentences (and their tags) of ``--data`` for the token task, and the column names."""
    from ._cli import tokens

    frame = tokens.read_conll(args.data) if tokens.is_conll(args.data) else read_table(args.data)
    text = tokens.one_column(args.text_column, tokens.TOKENS, "--text-column")
    target = tokens.one_column(getattr(args, "target", None), tokens.TAGS, "--target")
    sentences = tokens.token_column(frame, text, args.data, "token")
    tags = tokens.token_column(frame, target, args.data, "tag") if target_required else None
    return frame, sentences, tags, text, target


def _fit_tokens(args) -> None:
    from ._text.token_classifier import AttentionTokenClassifier

    frame, sentences, tags, text, target = _read_tokens(args, target_required=True)
    train_split = None
    if args.valid_fraction > 0:
        from skorch.dataset import ValidSplit

        train_split = ValidSplit(args.valid_fraction, random_state=args.random_state)
    optional = {"lr": args.lr} if args.lr is not None else {}
    tagger = AttentionTokenClassifier(
        args.checkpoint, max_length=args.max_length, max_epochs=args.epochs,
        batch_size=args.batch_size, random_state=args.random_state, device=args.device,
        precision=args.precision, train_split=train_split, verbose=args.verbose, **optional,
    )
    _say(args, f"tokens on {len(sentences)} sentences of {args.data}: words {text!r}, tags {target!r}")
    start = time.perf_counter()
    try:
        tagger.fit(sentences, tags)
    except (TypeError, ValueError) as exc:
        if "sentence" not in str(exc) and "tag" not in str(exc):
            raise
        raise CLIError(f"{args.data}: {exc}") from None
    seconds = time.perf_counter() - start
    tagger.set_params(train_split=None)
    tagger.save(args.output)
    metadata = {
        "task": "tokens", "text_columns": [text], "targets": [target],
        "checkpoint": str(args.checkpoint), "trained_on": str(args.data), "n_rows": len(frame),
        "valid_fraction": args.valid_fraction,
    }
    (args.output / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    plot_note = _save_history_plot(tagger, args.output / "history.png")
    _say(args, f"trained {len(tagger.history_)} epochs in {seconds:.0f} s "
               f"(train_loss {tagger.history_[-1, 'train_loss']:.4f}); saved to {args.output}/ {plot_note}")


def _predict_tokens(args, model, metadata) -> None:
    from ._cli import tokens

    args.text_column = args.text_column or metadata.get("text_columns")
    frame, sentences, _, text, _ = _read_tokens(args, target_required=False)
    predicted = model.predict(sentences)
    if tokens.is_conll(args.output):
        tokens.write_conll(args.output, sentences, predicted)
    else:
        out = frame.copy()
        parquet = str(args.output).lower().endswith((".parquet", ".pq"))
        out["prediction"] = predicted if parquet else [" ".join(tags) for tags in predicted]
        if not parquet:
            out[text] = [" ".join(words) for words in sentences]
            for column in out.columns:  # other list columns (a CoNLL file's tags) as strings
                if len(out) and isinstance(out[column].iloc[0], list):
                    out[column] = [" ".join(map(str, cell)) for cell in out[column]]
        write_table(out, args.output)
    _say(args, f"wrote the tags of {len(sentences)} sentences to {args.output}")


def _evaluate_tokens(args, model, metadata) -> None:
    from ._cli import tokens

    args.text_column = args.text_column or metadata.get("text_columns")
    args.target = args.target or metadata.get("targets")
    frame, sentences, tags, _, _ = _read_tokens(args, target_required=True)
    try:
        model._check_known_tags(_check_tags(tags, sentences), "the model never saw in fit")
    except (TypeError, ValueError) as exc:
        raise CLIError(f"{args.data}: {exc}") from None
    scores = {"task": "tokens", "n_samples": len(sentences), **tokens.token_scores(model, sentences, tags)}
    if args.json:
        print(json.dumps(scores))
        return
    for name, value in scores.items():
        print(f"{name:<17} {value:.4f}" if isinstance(value, float) else f"{name:<17} {value}")


def _check_tags(tags, sentences):
    from ._text.word_alignment import check_sentences, check_tag_lists

    return check_tag_lists(tags, check_sentences(sentences, allow_empty=True))


def _check_output_dir(output: Path, overwrite: bool) -> None:
    from ._io.format import MANIFEST

    if output.exists() and not output.is_dir():
        raise CLIError(f"--output {output} is a file; give a directory.")
    if not output.is_dir() or not any(output.iterdir()):
        return
    if not (output / MANIFEST).is_file():
        raise CLIError(f"--output {output} is a non-empty directory without a saved model; "
                       "choose a new directory.")
    if not overwrite:
        raise CLIError(f"--output {output} already holds a model; pass --overwrite to replace it.")


def _save_history_plot(estimator, path: Path) -> str:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return '(pip install "sklattn[plot]" to get history.png)'
    from .plotting import plot_history

    figure = Figure(figsize=(6.4, 4.0), layout="constrained")
    plot_history(estimator, ax=figure.subplots())
    figure.savefig(path, dpi=120)
    return "with history.png"


def _load(model_dir: Path):
    """The saved estimator and the fit command's metadata (empty if saved from Python)."""
    from ._io.load import load

    if not model_dir.is_dir():
        raise CLIError(f"model directory {model_dir} does not exist; pass the --output "
                       "directory of 'python -m sklattn fit'.")
    try:
        model = load(model_dir)
    except (OSError, ValueError, TypeError) as exc:
        raise CLIError(f"cannot load a model from {model_dir}: {exc}") from None
    if not hasattr(model, "explain"):
        raise CLIError(f"the command line handles text models; {model_dir} holds a {type(model).__name__}.")
    meta_path = model_dir / METADATA_FILE
    metadata = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    return model, metadata


def _model_texts(args, frame, model, metadata):
    """The text columns of ``frame`` under the names the model was fitted with."""
    columns = args.text_column or metadata.get("text_columns") or model.text_columns
    if columns is None:
        raise CLIError("the model does not record its text columns; pass --text-column.")
    texts = _texts(frame, [columns] if isinstance(columns, str) else list(columns), args.data)
    expected = model.text_columns
    if expected is None:
        return texts
    expected = [expected] if isinstance(expected, str) else list(expected)
    if len(expected) != texts.shape[1]:
        raise CLIError(f"the model reads {len(expected)} text column(s) {expected}; "
                       f"got {list(texts.columns)}.")
    return texts.set_axis(expected, axis=1)  # --text-column may name them differently


def _model_task(model) -> str:
    if not hasattr(model, "classes_"):
        return "regression"
    return "multilabel" if model.multilabel_ else "classification"


def _predict(args) -> None:
    model, metadata = _load(args.model)
    model.set_params(verbose=args.verbose)
    if metadata.get("task") == "tokens" or type(model).__name__ == "AttentionTokenClassifier":
        return _predict_tokens(args, model, metadata)
    frame = read_table(args.data)
    texts = _model_texts(args, frame, model, metadata)
    task = _model_task(model)
    out = frame.copy()
    if task == "regression":
        predictions = model.predict(texts)
        if predictions.ndim == 1:
            out["prediction"] = predictions
        else:
            names = metadata.get("targets") or [str(j) for j in range(predictions.shape[1])]
            for j, name in enumerate(names):
                out[f"prediction_{name}"] = predictions[:, j]
    else:
        probabilities = model.predict_proba(texts)
        if task == "multilabel":
            names = metadata.get("label_names") or [str(c) for c in model.classes_]
            chosen = probabilities >= model.threshold
            sep = metadata.get("label_sep", "|")
            out["prediction"] = [sep.join(n for n, c in zip(names, row) if c) for row in chosen]
        else:
            names = [str(c) for c in model.classes_]
            out["prediction"] = model.classes_[probabilities.argmax(axis=1)]
        for j, name in enumerate(names):
            out[f"proba_{name}"] = probabilities[:, j]
    write_table(out, args.output)
    _say(args, f"wrote {len(out)} predictions to {args.output}")


def _scores(task: str, y_true, y_pred) -> dict[str, float]:
    from sklearn import metrics

    if task == "regression":
        return {
            "r2": float(metrics.r2_score(y_true, y_pred)),
            "mae": float(metrics.mean_absolute_error(y_true, y_pred)),
            "rmse": float(np.sqrt(metrics.mean_squared_error(y_true, y_pred))),
        }
    scores = {"accuracy": float(metrics.accuracy_score(y_true, y_pred))}
    if task == "multilabel":
        scores["f1_micro"] = float(metrics.f1_score(y_true, y_pred, average="micro", zero_division=0))
    scores["f1_macro"] = float(metrics.f1_score(y_true, y_pred, average="macro", zero_division=0))
    return scores


def _evaluate(args) -> None:
    model, metadata = _load(args.model)
    model.set_params(verbose=args.verbose)
    if metadata.get("task") == "tokens" or type(model).__name__ == "AttentionTokenClassifier":
        return _evaluate_tokens(args, model, metadata)
    targets = args.target or metadata.get("targets")
    if not targets:
        raise CLIError("the model does not record its target column; pass --target.")
    frame = read_table(args.data)
    texts = _model_texts(args, frame, model, metadata)
    task = _model_task(model)
    y_true, _ = _targets(frame, targets, task, metadata.get("label_sep", "|"),
                         metadata.get("label_names"), args.data)
    if task == "classification":
        y_true = y_true.astype(model.classes_.dtype, copy=False)
    scores = {"task": task, "n_samples": len(frame), **_scores(task, y_true, model.predict(texts))}
    if args.json:
        print(json.dumps(scores))
        return
    for name, value in scores.items():
        print(f"{name:<10} {value:.4f}" if isinstance(value, float) else f"{name:<10} {value}")


def _say(args, message: str) -> None:
    if args.verbose:
        print(message, file=sys.stderr)


_COMMANDS = {"fit": _fit, "predict": _predict, "evaluate": _evaluate}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 success, 2 bad input).

    Parameters
    ----------
    argv : sequence of str, default=None
        Arguments without the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    int
    """
    from sklearn.exceptions import NotFittedError

    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help (0) or a usage error (2), already printed
        return int(exit_.code or 0)
    try:
        _COMMANDS[args.command](args)
    except (CLIError, ValueError, TypeError, ImportError, NotFittedError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"python -m sklattn {args.command}: error: {message}", file=sys.stderr)
        return 2
    return 0
