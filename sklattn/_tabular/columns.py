"""Column types of a table: which columns are categorical, their categories and integer codes.

A tabular estimator sees each input column as one token. Numeric columns
stay numbers (standardized later; NaN is a missing value). A categorical
column becomes integer codes into a per-column vocabulary:
``MISSING_CODE`` for a missing value (None, NaN, ``pd.NA``),
``UNKNOWN_CODE`` for a value not seen in ``fit``, and ``FIRST_CATEGORY_CODE + k``
for the k-th category of ``categories_``.

Which columns are categorical follows ``categorical_features``, with the
values of :class:`~sklearn.ensemble.HistGradientBoostingClassifier` plus one
reading of ``"from_dtype"`` that suits a network (which cannot take a string
as a number): pandas ``category``, ``string``, ``bool`` and ``object`` columns
(an object column of numbers only stays numeric), and, for a numpy object
array, the columns holding strings or booleans.
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

MISSING_CODE = 0
UNKNOWN_CODE = 1
FIRST_CATEGORY_CODE = 2


def is_missing(value: Any) -> bool:
    """True for None, NaN (float or numpy), pandas' NA and NaT."""
    if value is None:
        return True
    if isinstance(value, (str, bytes, bool, np.bool_)):
        return False
    if isinstance(value, numbers.Real):
        return value != value  # NaN only
    if type(value).__name__ == "NaTType":  # pd.NaT
        return True
    return value is _pandas_na()


def _pandas_na():
    try:
        import pandas
    except ImportError:  # pragma: no cover - pandas comes with most sklearn installs
        return object()
    return pandas.NA


def is_dataframe(X: Any) -> bool:
    return hasattr(X, "columns") and hasattr(X, "iloc") and hasattr(X, "dtypes")


def as_table(X: Any) -> Any:
    """``X`` unchanged if it is a DataFrame, an ndarray or sparse; other containers as arrays.

    A nested list of numbers and strings becomes an object array (numpy's
    default would turn every number into a string); anything that does not
    convert is returned as given, for sklearn's validation to report.
    """
    if is_dataframe(X) or isinstance(X, np.ndarray) or hasattr(X, "toarray"):
        return X
    try:
        array = np.asarray(X)
        if array.dtype.kind in "US" and isinstance(X, (list, tuple)):
            array = np.asarray(X, dtype=object)
    except (TypeError, ValueError):
        return X
    return array if array.ndim == 2 else X


def object_table(X: Any) -> Any:
    """A DataFrame as an (n, n_columns) object array, one column at a time; others unchanged."""
    if not is_dataframe(X):
        return X
    table = np.empty(X.shape, dtype=object)
    for j in range(X.shape[1]):
        table[:, j] = column_values(X, j)
    return table


def column_values(X: Any, j: int) -> np.ndarray:
    """Column ``j`` of a DataFrame or 2-D array as a 1-D numpy array (object for categoricals)."""
    if is_dataframe(X):
        column = X.iloc[:, j]
        if _pandas_kind(column.dtype) in ("category", "string"):
            return np.asarray(column.astype(object))
        return column.to_numpy()
    return np.asarray(X)[:, j]


def _pandas_kind(dtype) -> str:
    name = getattr(dtype, "name", str(dtype))
    if name == "category":
        return "category"
    if name in ("string", "str") or name.startswith("string["):
        return "string"
    if name in ("bool", "boolean"):
        return "bool"
    if getattr(dtype, "kind", None) == "O" or name == "object":
        return "object"
    return "numeric"


def _holds_non_numbers(values: np.ndarray) -> bool:
    return any(
        not is_missing(value) and not (isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)))
        for value in values
    )


def categorical_mask(
    X: Any, categorical_features: Any, n_features: int, feature_names: Sequence[str] | None,
) -> np.ndarray:
    """Boolean mask of the categorical columns of ``X``, as ``categorical_features`` asks."""
    if categorical_features is None:
        return np.zeros(n_features, dtype=bool)
    if isinstance(categorical_features, str):  # "from_dtype" (validated by the estimator)
        return _mask_from_dtypes(X, n_features)
    chosen = np.asarray(categorical_features)
    if chosen.ndim != 1:
        raise ValueError(
            "categorical_features must be 'from_dtype', None, or a 1-D list of column indices, "
            f"column names or a boolean mask; got an array of shape {chosen.shape}."
        )
    mask = np.zeros(n_features, dtype=bool)
    if chosen.size == 0:
        return mask
    if chosen.dtype.kind == "b":
        if len(chosen) != n_features:
            raise ValueError(
                f"categorical_features is a boolean mask of length {len(chosen)} but X has "
                f"{n_features} columns; give one entry per column."
            )
        return chosen.astype(bool)
    if chosen.dtype.kind in "iu":
        bad = chosen[(chosen < 0) | (chosen >= n_features)]
        if bad.size:
            raise ValueError(
                f"categorical_features holds column index {bad[0]}, but X has {n_features} "
                f"columns (valid indices are 0 to {n_features - 1})."
            )
        mask[chosen] = True
        return mask
    if chosen.dtype.kind in "UO":
        if feature_names is None:
            raise ValueError(
                "categorical_features names columns, but X has no column names; pass a pandas "
                "DataFrame or give column indices instead."
            )
        position = {str(name): j for j, name in enumerate(feature_names)}
        for name in chosen:
            if str(name) not in position:
                raise ValueError(
                    f"categorical_features names column {str(name)!r}, which is not in X; its "
                    f"columns are {list(position)}."
                )
            mask[position[str(name)]] = True
        return mask
    raise ValueError(
        "categorical_features must list column indices (int), column names (str) or be a "
        f"boolean mask; got values of dtype {chosen.dtype}."
    )


def _mask_from_dtypes(X: Any, n_features: int) -> np.ndarray:
    if is_dataframe(X):
        kinds = [_pandas_kind(dtype) for dtype in X.dtypes]
        return np.array([
            kind in ("category", "string", "bool")
            or (kind == "object" and _holds_non_numbers(column_values(X, j)))
            for j, kind in enumerate(kinds)
        ], dtype=bool)
    array = np.asarray(X) if not hasattr(X, "toarray") else None
    if array is None or array.ndim != 2:
        return np.zeros(n_features, dtype=bool)  # validation reports the shape
    if array.dtype.kind in "USb":
        return np.ones(n_features, dtype=bool)
    if array.dtype.kind != "O":
        return np.zeros(n_features, dtype=bool)
    return np.array([_holds_non_numbers(array[:, j]) for j in range(n_features)], dtype=bool)


def fit_categories(values: np.ndarray) -> np.ndarray:
    """Sorted distinct non-missing values of one column (a pandas column keeps its categories)."""
    seen = {value for value in values.tolist() if not is_missing(value)}
    try:
        ordered = sorted(seen)
    except TypeError:  # mixed types: a stable order all the same
        ordered = sorted(seen, key=lambda value: (type(value).__name__, repr(value)))
    if ordered and all(isinstance(value, str) for value in ordered):
        return np.array(ordered, dtype=object)
    if ordered and all(isinstance(value, (bool, np.bool_)) for value in ordered):
        return np.array(ordered, dtype=bool)
    if ordered and all(isinstance(value, numbers.Integral) for value in ordered):
        return np.array(ordered, dtype=np.int64)
    if ordered and all(isinstance(value, numbers.Real) for value in ordered):
        return np.array(ordered, dtype=np.float64)
    return np.array(ordered, dtype=object)


def pandas_categories(X: Any, j: int) -> np.ndarray | None:
    """The declared categories of a pandas ``category`` column, else None."""
    if not is_dataframe(X) or _pandas_kind(X.dtypes.iloc[j]) != "category":
        return None
    return fit_categories(np.asarray(X.iloc[:, j].cat.categories, dtype=object))


def encode_categories(values: np.ndarray, categories: np.ndarray) -> np.ndarray:
    """Integer codes (int64) of one column: missing, unknown, or the category's position."""
    lookup = {value: FIRST_CATEGORY_CODE + k for k, value in enumerate(categories.tolist())}
    return np.fromiter(
        (MISSING_CODE if is_missing(value) else lookup.get(value, UNKNOWN_CODE)
         for value in values.tolist()),
        dtype=np.int64, count=len(values),
    )


def numeric_values(values: np.ndarray, name: str) -> np.ndarray:
    """One numeric column as float64 (missing values as NaN), or a ValueError naming the fix."""
    if values.dtype.kind in "biuf":
        return values.astype(np.float64)
    out = np.empty(len(values), dtype=np.float64)
    for row, value in enumerate(values.tolist()):
        if is_missing(value):
            out[row] = np.nan
            continue
        if isinstance(value, (str, bytes)) or not isinstance(value, numbers.Real):
            raise ValueError(
                f"Column {name} holds a non-numeric value {value!r} (row {row}) but is treated "
                "as numeric; list it in categorical_features (or leave "
                "categorical_features='from_dtype' and give it a string or category dtype)."
            )
        out[row] = float(value)
    return out


def column_label(feature_names: Sequence[str] | None, j: int) -> str:
    """How an error message names column ``j``."""
    return repr(str(feature_names[j])) if feature_names is not None else str(j)
