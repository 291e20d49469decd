"""Train and evaluate a classifier; save the model and a confusion-matrix figure."""
from __future__ import annotations

from typing import TYPE_CHECKING

import joblib
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.model_selection import train_test_split

if TYPE_CHECKING:
    from pandas import DataFrame


def describe(frame: DataFrame) -> str:
    return frame.describe().to_string()


def main(seed: int = 0) -> None:
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=seed)
    model = RandomForestClassifier(n_estimators=200, random_state=seed).fit(X_train, y_train)
    print("accuracy", np.mean(model.predict(X_test) == y_test))
    ConfusionMatrixDisplay.from_estimator(model, X_test, y_test)
    plt.savefig("confusion.png")
    joblib.dump(model, "model.joblib")


if __name__ == "__main__":
    main()
