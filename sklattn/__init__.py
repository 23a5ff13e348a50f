"""sklattn: scikit-learn estimators that fine-tune pretrained transformer encoders."""

from ._version import __version__
from ._text.classifier import AttentionClassifier
from ._text.embedder import AttentionEmbedder
from ._text.feature_cache import clear_feature_cache
from ._io.load import load
from ._text.regressor import AttentionRegressor
from ._text.token_classifier import AttentionTokenClassifier
from ._tabular.estimators import TabularAttentionClassifier, TabularAttentionRegressor
from ._tabular.pretrainer import TabularAttentionPretrainer


__all__ = [
    "AttentionClassifier",
    "AttentionRegressor",
    "AttentionEmbedder",
    "AttentionTokenClassifier",
    "TabularAttentionClassifier",
    "TabularAttentionRegressor",
    "TabularAttentionPretrainer",
    "clear_feature_cache",
    "load",
    "__version__",
]
