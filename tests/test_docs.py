"""The documentation builds offline without warnings, and its examples run."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import sklattn

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_sphinx_builds_html_with_warnings_as_errors(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_parser")
    pytest.importorskip("matplotlib")
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-E", "-q",
         str(DOCS), str(tmp_path / "html")],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    html = tmp_path / "html"
    classifier = (html / "_generated/api/sklattn.AttentionClassifier.html").read_text(encoding="utf-8")
    for method in ("fit", "predict_proba", "explain", "save"):
        assert f'id="sklattn.AttentionClassifier.{method}"' in classifier
    assert "on_batch_end" not in classifier  # skorch's internals stay out of the reference
    examples = sorted(p.stem for p in (DOCS.parent / "examples").glob("*.py"))
    assert sorted(p.stem for p in (html / "_generated/gallery").glob("*.html")) == examples
    assert "attention_heatmap_attention.png" in (html / "_generated/gallery/attention_heatmap.html").read_text()
    assert "--text-column" in (html / "command_line.html").read_text(encoding="utf-8")


def _modules():
    for info in pkgutil.walk_packages(sklattn.__path__, "sklattn."):
        if not info.name.endswith("__main__"):
            yield info.name


# Public objects (and modules) whose docstring examples must run, not just be
# skipped, named where users find them. Each is checked in the module that
# defines it (doctest finds a docstring there only), wherever a refactoring
# moves it. Examples that need a checkpoint show a hub id on a skipped line,
#     >>> checkpoint = "sentence-transformers/all-MiniLM-L6-v2"  # doctest: +SKIP
# and run with ``checkpoint`` set to the tiny test checkpoint instead.
RUN_EXAMPLES = [
    "sklattn.AttentionClassifier",
    "sklattn.AttentionRegressor",
    "sklattn.AttentionEmbedder",
    "sklattn.AttentionTokenClassifier",
    "sklattn.AttentionClassifier.save",
    "sklattn.AttentionClassifier.export_pretrained",
    "sklattn.load",
    "sklattn.callbacks.ResumableCheckpoint",
    "sklattn.TabularAttentionClassifier",
    "sklattn.TabularAttentionRegressor",
    "sklattn.plotting.AttentionHeatmap",
    "sklattn.plotting.plot_history",
    "sklattn.plotting.plot_feature_attention",
    "sklattn.cli",
    "sklattn.accelerate",
]
PAGES_WITH_EXAMPLES = ["getting_started.rst"]
MIN_RUN_SHARE = 0.75  # of a module's or page's examples; the rest may be +SKIP
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _doctest_name(public: str) -> tuple[str, str]:
    """The module defining ``public``, and the name doctest gives its docstring there."""
    parts = public.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        break
    if inspect.ismodule(obj):
        return obj.__name__, obj.__name__
    return obj.__module__, f"{obj.__module__}.{obj.__qualname__}"


@pytest.fixture
def doctest_globals(tiny_checkpoint, tmp_path, monkeypatch):
    """``checkpoint`` for the examples; files they write land in a temp dir.
    (conftest's session fixture already runs torch on one thread.)"""
    pytest.importorskip("matplotlib").use("Agg")
    monkeypatch.chdir(tmp_path)
    return {"checkpoint": tiny_checkpoint}


def _run(tests) -> tuple[int, dict[str, tuple[int, int]]]:
    """Failures, and (run, skipped) examples per docstring."""
    runner = doctest.DocTestRunner(optionflags=FLAGS, verbose=False)
    counts = {}
    for test in tests:
        skipped = sum(bool(example.options.get(doctest.SKIP)) for example in test.examples)
        counts[test.name] = (runner.run(test).attempted, skipped)
    return runner.failures, counts


def _check_share(where: str, counts: dict[str, tuple[int, int]]) -> None:
    run = sum(r for r, _ in counts.values())
    total = run + sum(s for _, s in counts.values())
    assert run >= MIN_RUN_SHARE * total, (
        f"{where}: only {run} of {total} examples run; show what needs a checkpoint "
        f"with `checkpoint` (set by this test) instead of skipping: {counts}")


def test_required_examples_are_in_walked_modules():
    modules = set(_modules())
    for public in RUN_EXAMPLES:
        assert _doctest_name(public)[0] in modules, public


@pytest.mark.parametrize("name", sorted(_modules()))
def test_docstring_examples(name, doctest_globals):
    module = importlib.import_module(name)
    tests = doctest.DocTestFinder().find(module, name, extraglobs=doctest_globals)
    failed, counts = _run(tests)
    assert failed == 0
    _check_share(name, counts)
    for public in RUN_EXAMPLES:
        module_name, doc_name = _doctest_name(public)
        if module_name == name:
            assert counts.get(doc_name, (0, 0))[0] > 0, f"{public} has no docstring examples that run"


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.rst")))
def test_doc_page_examples(page, doctest_globals):
    path = DOCS / page
    test = doctest.DocTestParser().get_doctest(
        path.read_text(encoding="utf-8"), dict(doctest_globals), page, str(path), 0)
    failed, counts = _run([test])
    assert failed == 0
    _check_share(page, counts)
    if page in PAGES_WITH_EXAMPLES:
        assert counts[page][0] > 0, f"{page} no longer has examples that run"
