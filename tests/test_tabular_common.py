"""scikit-learn's common estimator checks on the tabular attention estimators.

Instances use a tiny network (d_model=8, one layer) so the whole suite stays fast.
"""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklattn import TabularAttentionClassifier, TabularAttentionRegressor

TINY = dict(d_model=8, n_heads=2, n_layers=1, max_epochs=15, lr=1e-2, batch_size=64, random_state=0)

_SGD_NOT_WEIGHT_EQUIVALENT = (
    "minibatch SGD: a sample weight of k and k copies of the sample change the "
    "number and composition of minibatches, so the fits agree only in expectation"
)


def _expected_failed_checks(estimator) -> dict[str, str]:
    return {
        "check_sample_weight_equivalence_on_dense_data": _SGD_NOT_WEIGHT_EQUIVALENT,
    }


@parametrize_with_checks(
    [TabularAttentionClassifier(**TINY), TabularAttentionRegressor(**TINY)],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_common_checks(estimator, check):
    check(estimator)
