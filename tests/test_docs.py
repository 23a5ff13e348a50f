"""The documentation builds offline without warnings, and its examples run."""

from __future__ import annotations

import doctest
import importlib
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


@pytest.mark.parametrize("name", sorted(_modules()))
def test_docstring_examples(name):
    pytest.importorskip("matplotlib").use("Agg")
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             verbose=False, report=True)
    assert result.failed == 0


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.rst")))
def test_doc_page_examples(page):
    pytest.importorskip("matplotlib").use("Agg")
    result = doctest.testfile(str(DOCS / page), module_relative=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
