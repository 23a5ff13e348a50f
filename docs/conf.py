"""Sphinx configuration: API reference from the numpydoc docstrings, a user guide
drawn from the README, the command line's --help, and the examples gallery.

Builds offline: no intersphinx, no remote images. ``bash scripts/build_docs.sh``
builds HTML with warnings as errors and runs the doctests.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))
sys.path.insert(0, str(DOCS / "_ext"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing in a docs build may reach the network
os.environ.setdefault("MPLBACKEND", "Agg")

import sklattn  # noqa: E402

project = "sklattn"
author = "the sklattn developers"
copyright = "the sklattn developers, BSD-3-Clause"
version = release = sklattn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "myst_parser",
    "sklattn_docs",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_generated/readme", "_generated/cli_help"]  # included, not pages
templates_path = ["_templates"]

# API reference: one page per public object; classes list the methods users call,
# not the dozens skorch's NeuralNet defines.
autosummary_generate = True
autosummary_context = {
    "public_methods": [
        "fit", "partial_fit", "predict", "predict_proba", "transform", "fit_transform",
        "explain", "feature_attention", "save", "export_pretrained",
        "to_html", "plot",
    ],
    "callback_methods": ["on_train_begin", "on_epoch_begin", "on_batch_end", "on_epoch_end"],
}
autodoc_typehints = "none"  # the numpydoc sections carry the types
autodoc_member_order = "bysource"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_param = False  # free-form numpydoc types ("array-like of shape ...") stay text

# Broken references fail the build (-W); types from other libraries are not documented here.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(torch|numpy|np|sklearn|skorch|transformers|pandas|matplotlib|os|pathlib|tqdm)(\..*)?"),
    # numpydoc types are prose ("ndarray of shape (n_samples,)"): only sklattn's own
    # classes must resolve.
    (r"py:class", r"(?!sklattn\.).*"),
    ("py:meth", "save"),  # sklattn.load's docstring points at each estimator's save()
]

myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

# The API examples use a variable ``checkpoint`` (a hub id in the rendered text, skipped
# in tests): here it is the tiny random checkpoint the test suite builds, and every
# example runs in a temporary directory, so ``clf.save("sentiment-model")`` writes there.
doctest_global_setup = """
import os, sys, tempfile
import matplotlib
matplotlib.use("Agg")
import torch
torch.set_num_threads(1)
if "_SKLATTN_DOCTEST_DIR" not in os.environ:
    os.environ["_SKLATTN_DOCTEST_DIR"] = tempfile.mkdtemp(prefix="sklattn-doctest-")
_doctest_dir = os.environ["_SKLATTN_DOCTEST_DIR"]
checkpoint = os.path.join(_doctest_dir, "tiny-bert")
if not os.path.isdir(checkpoint):
    sys.path.insert(0, os.path.join(os.getcwd(), "tests"))
    from conftest import build_tiny_checkpoint
    build_tiny_checkpoint(checkpoint)
_cwd = os.getcwd()
os.chdir(_doctest_dir)
"""
doctest_global_cleanup = "os.chdir(_cwd)"

html_theme = "alabaster"
html_title = f"sklattn {version}"
html_theme_options = {
    "description": "scikit-learn estimators that fine-tune transformer encoders",
    "fixed_sidebar": True,
}
html_static_path: list[str] = []
