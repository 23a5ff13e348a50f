"""sklattn: scikit-learn estimators that fine-tune pretrained transformer encoders."""

from ._classifier import AttentionClassifier
from ._regressor import AttentionRegressor

__version__ = "0.1.0"

__all__ = ["AttentionClassifier", "AttentionRegressor", "__version__"]

from ._tabular import TabularAttentionClassifier, TabularAttentionRegressor  # noqa: E402

__all__ += ["TabularAttentionClassifier", "TabularAttentionRegressor"]

from ._embedder import AttentionEmbedder  # noqa: E402

__all__ += ["AttentionEmbedder"]
