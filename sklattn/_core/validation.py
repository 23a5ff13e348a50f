"""Input checks shared by every text estimator.

Every check raises ``TypeError``/``ValueError`` with a message that names the
problem and how to fix it, before any tokenization or training starts.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch

_TEXT_INPUT_HELP = (
    "Pass a list, 1-D numpy array or pandas Series of strings (or a DataFrame "
    "with one text column, or two for sentence pairs)."
)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isnan(value)


def _as_2d_object_array(X: Any, what: str) -> np.ndarray:
    """Turn any supported container of texts into an (n_samples, n_columns) object array."""
    if X is None:
        raise TypeError(f"{what} is None. {_TEXT_INPUT_HELP}")
    if isinstance(X, (str, bytes)):
        raise TypeError(
            f"{what} is a single string; pass a list of texts instead, e.g. [text]."
        )
    if hasattr(X, "columns") and hasattr(X, "iloc"):  # pandas DataFrame
        return X.to_numpy(dtype=object).reshape(len(X), len(X.columns))
    if hasattr(X, "to_numpy"):  # pandas Series and friends
        X = X.to_numpy(dtype=object)
    if isinstance(X, (list, tuple)):
        arr = np.empty(len(X), dtype=object)
        for i, item in enumerate(X):
            arr[i] = tuple(item) if isinstance(item, (list, tuple)) else item
        if len(arr) and all(isinstance(item, tuple) for item in arr):
            widths = {len(item) for item in arr}
            if len(widths) != 1:
                raise ValueError(
                    f"{what} mixes tuples of different lengths {sorted(widths)}; "
                    "sentence pairs must all be 2-tuples (text_a, text_b)."
                )
            return np.array([list(item) for item in arr], dtype=object).reshape(len(arr), -1)
        X = arr
    elif not isinstance(X, np.ndarray):
        raise TypeError(
            f"{what} has unsupported type {type(X).__name__}. {_TEXT_INPUT_HELP}"
        )
    if X.ndim == 1:
        return X.astype(object).reshape(-1, 1)
    if X.ndim == 2:
        return X.astype(object)
    raise ValueError(f"{what} must be 1-D or 2-D, got an array of shape {X.shape}.")


def _check_not_sparse(X: Any, what: str) -> None:
    """Reject scipy sparse matrices and arrays (and pandas sparse frames) with a clear TypeError."""
    from scipy.sparse import issparse

    # pandas: the .sparse accessor exists only on frames whose columns are all sparse.
    sparse_frame = hasattr(X, "columns") and len(X.columns) > 0 and hasattr(X, "sparse")
    if issparse(X) or sparse_frame:
        kind = "a pandas sparse DataFrame" if sparse_frame else f"a sparse matrix ({type(X).__name__})"
        raise TypeError(
            f"{what} is {kind} of shape {X.shape}, but sparse input is not supported: "
            "text estimators take texts, not a feature matrix. Pass the raw texts "
            "instead (a list, 1-D numpy array or pandas Series of strings); for sparse "
            "numeric features such as TfidfVectorizer output, use a scikit-learn "
            "estimator that accepts sparse input."
        )


def _select_text_columns(X: Any, text_columns: Any, what: str) -> Any:
    """Pick the text columns of a DataFrame (or 2-D array, by position)."""
    is_frame = hasattr(X, "columns") and hasattr(X, "iloc")
    if text_columns is not None:
        columns = [text_columns] if isinstance(text_columns, (str, int)) else list(text_columns)
        if not 1 <= len(columns) <= 2:
            raise ValueError(
                f"text_columns must name one column (texts) or two (sentence pairs), got {columns}."
            )
        if is_frame:
            missing = [c for c in columns if c not in X.columns]
            if missing:
                raise ValueError(
                    f"text_columns {missing} not found in {what}; its columns are {list(X.columns)}."
                )
            return X[columns]
        array = np.asarray(X, dtype=object)
        if array.ndim == 2 and all(isinstance(c, (int, np.integer)) for c in columns):
            return array[:, columns]
        raise ValueError(
            f"text_columns={text_columns!r} needs {what} to be a DataFrame (or a 2-D array "
            "with integer column positions)."
        )
    if not is_frame:
        return X
    non_text = [
        c for c in X.columns
        if not (X[c].dtype == object or str(X[c].dtype) in {"string", "str"})
    ]
    if non_text or len(X.columns) > 2:
        raise ValueError(
            f"{what} has columns {list(X.columns)}, but sklattn text estimators take one text "
            "column (or two for sentence pairs)"
            + (f"; {non_text} are not text" if non_text else "")
            + ". Pick the text columns with text_columns=[...], or route other columns "
            "through sklearn.compose.ColumnTransformer."
        )
    return X


def check_texts(X: Any, *, text_columns: Any = None, what: str = "X") -> np.ndarray:
    """Validate text input and return it as a 2-D object array of ``str``.

    Parameters
    ----------
    X : list, tuple, numpy array, pandas Series or DataFrame
        One text per sample, or two (a sentence pair) per sample.
    text_columns : str, int, list of them, or None
        Columns of a DataFrame (names) or 2-D array (positions) holding the
        texts. None takes all columns of a one- or two-column DataFrame.
    what : str
        Name used in error messages.

    Returns
    -------
    texts : ndarray of shape (n_samples, n_columns), dtype object
        ``n_columns`` is 1 for single texts and 2 for sentence pairs.
    """
    _check_not_sparse(X, what)
    texts = _as_2d_object_array(_select_text_columns(X, text_columns, what), what)
    n_samples, n_columns = texts.shape
    if n_samples == 0:
        raise ValueError(f"{what} is empty: at least one text is needed.")
    if n_columns == 0 or n_columns > 2:
        raise ValueError(
            f"{what} has {n_columns} columns; pass one text column, or two for "
            "sentence pairs. Select the text columns first (e.g. with "
            "sklearn.compose.ColumnTransformer)."
        )
    for row in range(n_samples):
        for col in range(n_columns):
            value = texts[row, col]
            if isinstance(value, str):
                continue
            where = f"row {row}" + (f", column {col}" if n_columns > 1 else "")
            if _is_missing(value):
                raise ValueError(
                    f"{what} has a missing value (None/NaN) at {where}; drop or "
                    "fill missing texts (e.g. with '') before fitting."
                )
            raise TypeError(
                f"{what} must contain only strings, but {where} is "
                f"{type(value).__name__} ({value!r}); convert it with str() first."
            )
    return texts


def check_sample_weight(sample_weight: Any, n_samples: int) -> np.ndarray | None:
    """Validate per-sample weights: 1-D, finite, non-negative, one per sample."""
    if sample_weight is None:
        return None
    try:
        weights = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            "sample_weight must hold numbers (one non-negative weight per sample), got "
            f"{type(sample_weight).__name__} with non-numeric values."
        ) from None
    if weights.ndim == 0:
        weights = np.full(n_samples, float(weights))
    if weights.ndim != 1 or len(weights) != n_samples:
        raise ValueError(
            f"sample_weight has shape {weights.shape} but X has {n_samples} samples; "
            "pass one weight per sample."
        )
    if not np.all(np.isfinite(weights)):
        raise ValueError("sample_weight contains NaN or infinite values.")
    if np.any(weights < 0):
        raise ValueError("sample_weight contains negative values; weights must be >= 0.")
    if weights.sum() <= 0:
        raise ValueError("sample_weight sums to zero; at least one sample needs weight > 0.")
    return weights


def check_consistent_length(n_samples: int, y: Any) -> None:
    n_targets = y.shape[0] if hasattr(y, "shape") and len(y.shape) else len(y)
    if n_targets != n_samples:
        raise ValueError(
            f"X has {n_samples} samples but y has {n_targets}; pass one target per text."
        )


def validate_params(estimator) -> None:
    """Check an estimator's parameters against its ``_parameter_constraints``.

    Also checks that a requested accelerator exists, so ``device="cuda"`` on a
    machine without a GPU fails with a clear message before any loading.
    """
    from sklearn.utils._param_validation import validate_parameter_constraints

    validate_parameter_constraints(
        estimator._parameter_constraints, estimator.get_params(deep=False), type(estimator).__name__
    )
    device = getattr(estimator, "device", "cpu")
    try:
        device_type = torch.device(device).type
    except (RuntimeError, TypeError):
        raise ValueError(
            f"device={device!r} is not a torch device; use 'cpu', 'cuda' or 'cuda:N'."
        ) from None
    if device_type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} but no CUDA GPU is available here; use device='cpu' "
            "(or install a CUDA build of PyTorch on a GPU machine)."
        )
