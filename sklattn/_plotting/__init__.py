"""Implementation of :mod:`sklattn.plotting`, the public module; import from there.

``_axes`` holds the lazy matplotlib import and the axes helper, ``history``
the training curves, ``text_attention`` the token heat map and
``feature_attention`` the tabular bar chart. This package sits above the
estimators: nothing in ``sklattn._core``, ``_text`` or ``_tabular`` imports it.
"""
