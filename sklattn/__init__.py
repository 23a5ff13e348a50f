"""sklattn: scikit-learn estimators that fine-tune pretrained transformer encoders."""

from ._classifier import AttentionClassifier
from ._embedder import AttentionEmbedder
from ._feature_cache import clear_feature_cache
from ._loading import load
from ._regressor import AttentionRegressor
from ._tabular import TabularAttentionClassifier, TabularAttentionRegressor

__version__ = "0.1.0"

__all__ = [
    "AttentionClassifier",
    "AttentionRegressor",
    "AttentionEmbedder",
    "TabularAttentionClassifier",
    "TabularAttentionRegressor",
    "clear_feature_cache",
    "load",
    "__version__",
]
