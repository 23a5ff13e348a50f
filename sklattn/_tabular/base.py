"""Machinery the tabular estimators share: columns in, feature tokens, batched training.

A fit runs: validate parameters and inputs -> find the categorical columns
and their categories (or take them from ``init_from``) -> fit (or reuse) the
NaN-aware standardization of the numeric columns -> hold out a validation
split for early stopping -> (seeded) build the network and train with AdamW
until the validation loss stops improving. Batches are cut from the
in-memory arrays in one indexing step each, so an epoch over 50,000 rows
costs the network's time, not Python's per-row collation.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from types import MappingProxyType

import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y, validate_data
from torch.utils.data import BatchSampler, RandomSampler, SequentialSampler, Subset

from .._core.compat import resolve_seed
from .._core.inference import run_batches, slice_batches
from .._core.net import TRAINING_PARAMETER_CONSTRAINTS, SklattnNet
from .._core.validation import validate_params
from .columns import (
    as_table,
    categorical_mask,
    is_dataframe,
    object_table,
    column_label,
    encode_categories,
    fit_categories,
    numeric_values,
    pandas_categories,
)
from .modules import TABULAR_POOLING_MODES
from .training import BestValidationWeights, validation_indices
from .transfer import check_compatible

SHARED_CONSTRAINTS: dict[str, list] = {
    "d_model": [Interval(Integral, 1, None, closed="left")],
    "n_heads": [Interval(Integral, 1, None, closed="left")],
    "n_layers": [Interval(Integral, 1, None, closed="left")],
    "pooling": [StrOptions(set(TABULAR_POOLING_MODES))],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "attention_dropout": [Interval(Real, 0, 1, closed="left")],
    "categorical_features": [StrOptions({"from_dtype"}), "array-like", None],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    **TRAINING_PARAMETER_CONSTRAINTS,
    "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
}

# batch_size="auto": 32 up to ~4,000 training rows (where the small-table defaults
# were measured), then doubling with the data so that an epoch stays near 64-128
# steps, capped at 512 (FT-Transformer's batch sizes on medium tables).
AUTO_BATCH_MIN, AUTO_BATCH_MAX, AUTO_ROWS_PER_STEP = 32, 512, 64


def auto_batch_size(n_train: int) -> int:
    """The batch size ``batch_size="auto"`` picks for ``n_train`` training rows."""
    if n_train < AUTO_ROWS_PER_STEP * AUTO_BATCH_MIN * 2:
        return AUTO_BATCH_MIN
    power = 2 ** int(math.floor(math.log2(n_train / AUTO_ROWS_PER_STEP)))
    return int(min(AUTO_BATCH_MAX, max(AUTO_BATCH_MIN, power)))


class TabularNetBase(SklattnNet):
    """Columns, tokens, scaling and training shared by every tabular estimator; not public."""

    _parameter_constraints: dict[str, list] = SHARED_CONSTRAINTS
    _fitted_attributes = ("module_", "feature_mean_")
    # What module__<name> users mean (the network is built in initialize_module).
    _network_parameters = ("d_model", "n_heads", "n_layers", "pooling", "dropout", "attention_dropout")
    _module_argument_hints = MappingProxyType({
        "n_features": "the number of feature tokens is the number of columns of X in fit",
        "cardinalities": "the categories of each categorical column are read from X in fit",
        "n_outputs": "the width of the head is set by y in fit",
    })

    def _init_shared(
        self, *, d_model, n_heads, n_layers, pooling, dropout, attention_dropout,
        categorical_features, weight_decay, warmup_ratio, early_stopping, validation_fraction,
        n_iter_no_change, max_grad_norm, precision, random_state,
    ) -> None:
        self.d_model = d_model
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.pooling = pooling
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.categorical_features = categorical_features
        self.weight_decay = weight_decay
        self.warmup_ratio = warmup_ratio
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.max_grad_norm = max_grad_norm
        self.precision = precision
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags

    @property
    def _default_callbacks(self):
        return [*super()._default_callbacks, ("early_stopping", BestValidationWeights())]

    # ------------------------------------------------------------ columns
    @property
    def _is_categorical(self) -> np.ndarray:
        """The categorical-column mask (all numeric for models saved before categoricals)."""
        mask = getattr(self, "is_categorical_", None)
        return np.zeros(self.n_features_in_, dtype=bool) if mask is None else np.asarray(mask, bool)

    @property
    def _cardinalities(self) -> list[int]:
        return [len(categories) for categories in getattr(self, "categories_", [])]

    def _token_columns(self) -> np.ndarray:
        """Input column of each feature token: the numeric columns first, then the categorical."""
        mask = self._is_categorical
        return np.concatenate([np.flatnonzero(~mask), np.flatnonzero(mask)])

    def _validate_table(self, X, y="no_validation", *, reset: bool, source=None, **y_checks):
        """Check ``X`` (and ``y``) and split it into numeric values and category codes.

        Returns ``(numeric, codes, y)``: float64 (n, n_numeric) with NaN for missing,
        int64 (n, n_categorical) or None, and the validated ``y`` (None unless given;
        as in ``validate_data``, ``y=None`` is an error for a supervised fit).
        On ``reset`` (a new fit) the categorical columns and their categories are
        found, or taken from ``source`` (``init_from``).
        """
        X = as_table(X)
        if reset:
            n_columns = len(X.columns) if is_dataframe(X) else (
                X.shape[1] if isinstance(X, np.ndarray) and X.ndim == 2 else 0
            )  # 0: not a table; validate_data below says why
            names = [str(name) for name in X.columns] if is_dataframe(X) else None
            mask = categorical_mask(X, self.categorical_features, n_columns, names)
        else:
            mask = self._is_categorical
        with_y = not (isinstance(y, str) and y == "no_validation")
        if not mask.any():
            checked = validate_data(
                self, X, y, reset=reset, ensure_all_finite=False, dtype=np.float64, **y_checks,
            ) if with_y else validate_data(self, X, reset=reset, ensure_all_finite=False, dtype=np.float64)
            X_checked, y = checked if with_y else (checked, None)
            if reset:
                self._set_columns(mask, [], source)
            _check_no_inf(X_checked)
            return X_checked, None, y
        # Names and column count checked on X as given; the values then as an object
        # array built column by column (sklearn's own conversion of a frame holding
        # pd.NA would try to turn every column into floats).
        validate_data(self, X, skip_check_array=True, reset=reset)
        table = object_table(X)
        if with_y:
            X_checked, y = check_X_y(
                table, y, dtype=None, ensure_all_finite=False, estimator=self, **y_checks
            )
        else:
            X_checked = check_array(table, dtype=None, ensure_all_finite=False, estimator=self)
        names = getattr(self, "feature_names_in_", None)
        if reset:
            categories = [
                _declared(pandas_categories(X, j), X_checked[:, j]) for j in np.flatnonzero(mask)
            ]
            self._set_columns(mask, categories, source)
        numeric = np.empty((len(X_checked), int((~mask).sum())), dtype=np.float64)
        for position, j in enumerate(np.flatnonzero(~mask)):
            numeric[:, position] = numeric_values(X_checked[:, j], column_label(names, j))
            _check_no_inf(numeric[:, position:position + 1], column=j)
        codes = np.stack([
            encode_categories(X_checked[:, j], categories)
            for j, categories in zip(np.flatnonzero(mask), self.categories_)
        ], axis=1)  # (n, n_categorical)
        return numeric, codes, y

    def _set_columns(self, mask: np.ndarray, categories: list, source) -> None:
        if source is None:
            self.is_categorical_ = mask
            self.categories_ = categories
            return
        check_compatible(source, self, len(mask))
        source_mask = source._is_categorical
        if not np.array_equal(source_mask, mask):
            names = getattr(self, "feature_names_in_", None)
            differing = ", ".join(column_label(names, j) for j in np.flatnonzero(source_mask != mask))
            raise ValueError(
                f"init_from treats different columns as categorical: columns {differing} "
                "differ. Pass X with the same column types (e.g. the same DataFrame dtypes) "
                "or set categorical_features to match init_from.is_categorical_."
            )
        self.is_categorical_ = source_mask.copy()
        self.categories_ = [np.array(c, copy=True) for c in getattr(source, "categories_", [])]

    def _network_inputs(self, numeric: np.ndarray, codes: np.ndarray | None) -> dict:
        """What the network's forward takes: standardized numbers, and codes if any."""
        data = {"x": self._standardize(numeric)}
        if codes is not None:
            data["x_cat"] = codes
        return data

    # ------------------------------------------------------------ scaling
    def _fit_scaling(self, X: np.ndarray, source) -> None:
        if source is not None:
            self.feature_mean_ = source.feature_mean_.copy()
            self.feature_scale_ = source.feature_scale_.copy()
            return
        observed = ~np.isnan(X)
        counts = observed.sum(axis=0)
        filled = np.where(observed, X, 0.0)
        mean = filled.sum(axis=0) / np.maximum(counts, 1)
        var = (np.where(observed, X - mean, 0.0) ** 2).sum(axis=0) / np.maximum(counts, 1)
        self.feature_mean_ = mean
        self.feature_scale_ = np.where(var > 1e-12, np.sqrt(var), 1.0)

    def _standardize(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.feature_mean_) / self.feature_scale_).astype(np.float32)  # NaN stays NaN

    # ----------------------------------------------------------- training
    def _check_architecture(self) -> None:
        validate_params(self)
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model={self.d_model} must be divisible by n_heads={self.n_heads}; "
                "e.g. use n_heads=8 with d_model=64."
            )

    def _prepare_split(self, targets: np.ndarray, n_rows: int, stratify: bool) -> None:
        """The seeded early-stopping split of this fit, and the batch size it implies."""
        split = None
        if self.early_stopping and self.train_split is None:
            rng = check_random_state(resolve_seed(self.random_state))
            split = validation_indices(targets, self.validation_fraction, stratify, rng)
        self.__dict__["_split_indices"] = split  # read by get_split_datasets during this fit
        n_train = n_rows if split is None else len(split[0])
        self.batch_size_ = auto_batch_size(n_train) if self.batch_size == "auto" else int(self.batch_size)

    def get_split_datasets(self, X, y=None, **fit_params):
        split = self.__dict__.get("_split_indices")
        if split is None:
            return super().get_split_datasets(X, y, **fit_params)
        dataset = self.get_dataset(X, y)
        return Subset(dataset, split[0]), Subset(dataset, split[1])

    def _resolved_batch_size(self) -> int:
        if self.batch_size != "auto":
            return int(self.batch_size)
        return int(getattr(self, "batch_size_", AUTO_BATCH_MIN))

    def _iterator_kwargs(self, dataset, training: bool, kwargs: dict) -> dict:
        if kwargs.get("batch_size") == "auto":
            kwargs["batch_size"] = self._resolved_batch_size()
        if {"sampler", "batch_sampler", "collate_fn"} & kwargs.keys():
            return kwargs  # the user's own loading
        # One dataset[indices] per batch (skorch's Dataset indexes arrays with a
        # list), instead of a __getitem__ per row and a collate: the same batches
        # (BatchSampler over RandomSampler is what shuffle=True builds), far faster.
        order = RandomSampler(dataset) if kwargs.pop("shuffle", False) else SequentialSampler(dataset)
        kwargs["sampler"] = BatchSampler(order, kwargs.pop("batch_size"), kwargs.pop("drop_last", False))
        kwargs["batch_size"] = None
        return kwargs

    # ---------------------------------------------------------- prediction
    def _checked_features(self, X) -> dict:
        check_is_fitted(self)
        numeric, codes, _ = self._validate_table(X, reset=False)
        return self._network_inputs(numeric, codes)

    def _backbone_outputs(self, data: dict, step) -> np.ndarray:
        """``step(backbone, x, x_cat)`` over ``data`` in eval mode, in batches, stacked."""
        backbone = self.module_.backbone
        was_training = backbone.training
        backbone.eval()
        try:
            return run_batches(
                {name: torch.from_numpy(values) for name, values in data.items()},
                lambda batch: step(backbone, batch["x"], batch.get("x_cat")).float().cpu().numpy(),
                batches=lambda rows: slice_batches(rows, self._resolved_batch_size()),
                device=self.device, progress=self._shows_progress(),
            )
        finally:
            backbone.train(was_training)

    def _pooled_features(self, data: dict) -> np.ndarray:
        """The backbone's pooled vector of each row of ``data`` (eval mode), float32 (n, D)."""
        return self._backbone_outputs(data, lambda backbone, x, x_cat: backbone(x, x_cat)[0])

    def feature_attention(self, X) -> np.ndarray:
        """Per-sample attention paid to each input column by the pooled output.

        Read from the last encoder block: with ``pooling="cls"`` the CLS
        token's attention row, with ``"mean"`` the mean row of the feature
        tokens; averaged over heads, the CLS column dropped and each row
        renormalised to sum to 1. Columns are in the order of ``X``
        (``feature_names_in_`` names them for a DataFrame), numeric and
        categorical alike. High values mark the columns the model looked at
        for that sample (attention, not a causal importance).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_features), rows sum to 1
        """
        data = self._checked_features(X)
        attention = self._backbone_outputs(
            data, lambda backbone, x, x_cat: backbone.feature_attention(x, x_cat)
        )  # (n, tokens) in token order
        by_column = np.empty_like(attention)
        by_column[:, self._token_columns()] = attention
        return by_column.astype(np.float64)


def _declared(declared: np.ndarray | None, values: np.ndarray) -> np.ndarray:
    """A pandas column's declared categories, else the sorted values seen."""
    return fit_categories(values) if declared is None else declared


def _check_no_inf(X: np.ndarray, column: int | None = None) -> None:
    if np.isinf(X).any():
        row, col = np.argwhere(np.isinf(X))[0]
        col = col if column is None else column
        raise ValueError(
            f"X contains infinite values (first at row {row}, column {col}). NaN is "
            "accepted as a missing value, inf is not: replace it, e.g. X[np.isinf(X)] = np.nan."
        )


def require_fitted_network(estimator, names: tuple[str, ...] = ("feature_mean_",)) -> None:
    """The error ``initialize()`` raises before ``fit``: the network is built from the data."""
    if not all(hasattr(estimator, name) for name in names):
        raise NotFittedError(
            f"{type(estimator).__name__} builds its network from the data; call fit "
            "instead of initialize()."
        )
