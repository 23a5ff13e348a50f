"""Plot what a TabularAttentionClassifier learned on scikit-learn's wine data.

Fits with a stratified 20% validation split, so the history holds validation
loss and accuracy next to the training loss, prints the test accuracy next to
LogisticRegression's, and saves two figures: the training curves and the mean
attention each of the 13 features received on the test set.

Run: python examples/tabular_plots.py [--figures DIR]   (under a minute on 2 CPU cores)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.datasets import load_wine  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from skorch.dataset import ValidSplit  # noqa: E402

from sklattn import TabularAttentionClassifier  # noqa: E402
from sklattn.plotting import plot_feature_attention, plot_history  # noqa: E402

FIGURES = Path(__file__).resolve().parents[1] / "docs" / "gallery" / "figures"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--figures", type=Path, default=FIGURES, help="where to save the PNG files")
    args = parser.parse_args()
    args.figures.mkdir(parents=True, exist_ok=True)

    data = load_wine()
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.3, stratify=data.target, random_state=0)
    clf = TabularAttentionClassifier(max_epochs=60, train_split=ValidSplit(5, stratified=True),
                                     random_state=0)
    clf.fit(X_train, y_train)
    baseline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X_train, y_train)
    print(f"wine: {len(X_train)} train / {len(X_test)} test samples, 13 features, 3 classes")
    print(f"TabularAttentionClassifier test accuracy: {clf.score(X_test, y_test):.3f}")
    print(f"StandardScaler + LogisticRegression:      {baseline.score(X_test, y_test):.3f}")

    history = args.figures / "tabular_plots_history.png"
    plot_history(clf).figure.savefig(history, dpi=110)
    attention = clf.feature_attention(X_test).mean(axis=0)
    top = sorted(zip(attention, data.feature_names), reverse=True)[:3]
    print("most attended features: " + ", ".join(f"{name} {value:.3f}" for value, name in top))
    bars = args.figures / "tabular_plots_feature_attention.png"
    plot_feature_attention(clf, X_test, feature_names=data.feature_names).figure.savefig(bars, dpi=110)
    plt.close("all")
    print(f"saved {history.name} and {bars.name} to {args.figures}")


if __name__ == "__main__":
    main()
