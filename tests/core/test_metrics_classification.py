"""core.metrics.classification_scores equals scikit-learn's accuracy, macro F1, kappa, P / R / F1."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    cohen_kappa_score,
    f1_score,
    precision_recall_fscore_support,
)

from eoml.core.metrics import classification_scores


@pytest.mark.parametrize("case", range(6))
def test_equals_sklearn_on_random_labels(case):
    rng = np.random.default_rng(case)
    k = int(rng.integers(2, 12))
    n = int(rng.integers(5, 400))
    y = rng.integers(0, k, n)
    # a mostly right classifier, sometimes missing or inventing classes
    p = np.where(rng.random(n) < 0.6, y, rng.integers(0, k + case % 2, n))
    s = classification_scores(y, p)
    assert s["accuracy"] == pytest.approx(accuracy_score(y, p), abs=1e-12)
    assert s["f1_macro"] == pytest.approx(f1_score(y, p, average="macro", zero_division=0), abs=1e-12)
    assert s["kappa"] == pytest.approx(cohen_kappa_score(y, p), abs=1e-12)
    prec, rec, f1, _ = precision_recall_fscore_support(y, p, zero_division=0)
    np.testing.assert_allclose(s["precision_per_class"], prec, atol=1e-12)
    np.testing.assert_allclose(s["recall_per_class"], rec, atol=1e-12)
    np.testing.assert_allclose(s["f1_per_class"], f1, atol=1e-12)
    assert s["n_samples"] == n and s["counts"].sum() == n


def test_explicit_labels_count_absent_classes_like_sklearn():
    y = np.array([0, 0, 1, 1, 2])
    p = np.array([0, 1, 1, 1, 2])
    s = classification_scores(y, p, labels=[0, 1, 2, 3])
    assert s["f1_macro"] == pytest.approx(
        f1_score(y, p, labels=[0, 1, 2, 3], average="macro", zero_division=0), abs=1e-12)
    assert s["f1_macro"] < classification_scores(y, p)["f1_macro"]  # class 3 scores 0 in the mean
    assert s["kappa"] == pytest.approx(cohen_kappa_score(y, p, labels=[0, 1, 2, 3]), abs=1e-12)
    with pytest.raises(ValueError, match="neither labels"):
        classification_scores(y, p, labels=[0, 1])


def test_perfect_chance_and_degenerate_cases():
    y = np.array([3, 5, 5, 7])
    s = classification_scores(y, y)
    assert (s["accuracy"], s["f1_macro"], s["kappa"]) == (1.0, 1.0, 1.0)
    assert s["labels"].tolist() == [3, 5, 7]
    # always predicting one class: kappa 0 (no agreement beyond chance)
    s = classification_scores(np.array([0, 1, 0, 1]), np.zeros(4, int))
    assert s["kappa"] == pytest.approx(0.0) and s["accuracy"] == 0.5
    # a single class everywhere: p_e = 1, kappa undefined (NaN), as scikit-learn
    s = classification_scores(np.ones(3, int), np.ones(3, int))
    assert np.isnan(s["kappa"]) and s["accuracy"] == 1.0
    s = classification_scores(np.array([], int), np.array([], int))
    assert s["n_samples"] == 0 and np.isnan(s["accuracy"]) and np.isnan(s["f1_macro"])
    with pytest.raises(ValueError, match="differ in shape"):
        classification_scores(np.zeros(3, int), np.zeros(4, int))
