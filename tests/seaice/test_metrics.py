"""segmentation_scores against scikit-learn on random label maps with ignore pixels."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, f1_score, jaccard_score

from eoml.seaice import metrics
from eoml.seaice.metrics import (
    confusion_counts,
    scores_from_confusion,
    segmentation_scores,
)


def _sklearn(t: np.ndarray, p: np.ndarray, labels, ignore=255) -> dict:
    keep = (t != ignore) & (p != ignore)
    t, p = t[keep].ravel(), p[keep].ravel()
    lab = list(labels)
    kw = {"labels": lab, "zero_division": 0}
    return {
        "f1_weighted": f1_score(t, p, average="weighted", **kw),
        "iou_micro": jaccard_score(t, p, average="micro", **kw),
        "iou_macro": jaccard_score(t, p, average="macro", **kw),
        "iou_weighted": jaccard_score(t, p, average="weighted", **kw),
        "confusion": confusion_matrix(t, p, labels=lab, normalize="true"),
    }


def _check(ours: dict, ref: dict) -> None:
    for key in ("f1_weighted", "iou_micro", "iou_macro", "iou_weighted"):
        assert ours[key] == pytest.approx(ref[key], abs=1e-12), key
    np.testing.assert_allclose(ours["confusion"], ref["confusion"], atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_sklearn_random_binary(seed):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 2, size=(37, 53)).astype(np.uint8)
    # correlated prediction so scores are neither trivial nor 0.5
    p = np.where(rng.random(t.shape) < 0.8, t, 1 - t).astype(np.uint8)
    t[rng.random(t.shape) < 0.1] = 255
    p[rng.random(t.shape) < 0.05] = 255
    ours = segmentation_scores(t, p)
    _check(ours, _sklearn(t, p, (0, 1)))
    keep = (t != 255) & (p != 255)
    assert ours["n_pixels"] == keep.sum()
    np.testing.assert_allclose(ours["confusion"].sum(axis=1), 1.0)


def test_matches_sklearn_multiclass_unsorted_labels_and_chunks(monkeypatch):
    monkeypatch.setattr(metrics, "CHUNK", 100)  # exercise accumulation over chunks
    rng = np.random.default_rng(5)
    labels = (3, 0, 7)
    t = rng.choice(labels + (255,), size=(31, 29), p=[0.5, 0.2, 0.2, 0.1]).astype(
        np.int32
    )
    p = np.where(rng.random(t.shape) < 0.6, t, rng.choice(labels, size=t.shape)).astype(
        np.int32
    )
    p[t == 255] = rng.choice(labels, size=int((t == 255).sum()))
    _check(segmentation_scores(t, p, labels=labels), _sklearn(t, p, labels))


def test_non_integer_labels_path():
    t = np.array([-1, 2, 2, -1, 9, 2])
    p = np.array([-1, -1, 2, 2, 2, 2])
    ours = segmentation_scores(t, p, labels=(2, -1), ignore=9)
    _check(ours, _sklearn(t, p, (2, -1), ignore=9))


def test_class_absent_from_reference():
    t = np.zeros((10, 10), dtype=np.uint8)
    p = t.copy()
    p[:2] = 1  # 20 false positives of class 1
    ours = segmentation_scores(t, p)
    ref = _sklearn(t, p, (0, 1))
    _check(ours, ref)
    assert ours["iou_per_class"][1] == 0.0
    assert ours["iou_macro"] == pytest.approx(0.8 / 2)
    np.testing.assert_array_equal(ours["confusion"], [[0.8, 0.2], [0.0, 0.0]])


def test_class_absent_everywhere_counts_zero_in_macro():
    t = np.array([0, 0, 0, 255], dtype=np.uint8)
    p = np.array([0, 0, 0, 1], dtype=np.uint8)
    ours = segmentation_scores(t, p)
    _check(ours, _sklearn(t, p, (0, 1)))
    assert (
        ours["iou_micro"] == 1.0
        and ours["iou_macro"] == 0.5
        and ours["f1_weighted"] == 1.0
    )


def test_perfect_and_all_wrong():
    t = np.array([[0, 1], [1, 0]], dtype=np.uint8)
    best = segmentation_scores(t, t)
    worst = segmentation_scores(t, 1 - t)
    assert best["f1_weighted"] == best["iou_micro"] == best["iou_macro"] == 1.0
    np.testing.assert_array_equal(best["confusion"], np.eye(2))
    assert worst["f1_weighted"] == worst["iou_micro"] == worst["iou_weighted"] == 0.0


def test_all_ignored_gives_nan():
    t = np.full((4, 4), 255, dtype=np.uint8)
    s = segmentation_scores(t, np.zeros_like(t))
    assert (
        s["n_pixels"] == 0 and np.isnan(s["f1_weighted"]) and np.isnan(s["iou_macro"])
    )


def test_pooled_counts_equal_concatenation():
    rng = np.random.default_rng(3)
    a_t, a_p = rng.integers(0, 2, (20, 20)), rng.integers(0, 2, (20, 20))
    b_t, b_p = rng.integers(0, 2, (15, 20)), rng.integers(0, 2, (15, 20))
    pooled = scores_from_confusion(
        confusion_counts(a_t, a_p) + confusion_counts(b_t, b_p)
    )
    joint = segmentation_scores(np.concatenate([a_t, b_t]), np.concatenate([a_p, b_p]))
    assert (
        pooled["iou_macro"] == joint["iou_macro"]
        and pooled["f1_weighted"] == joint["f1_weighted"]
    )


def test_bad_inputs():
    with pytest.raises(ValueError, match="shape"):
        segmentation_scores(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match=r"\[2\]"):
        segmentation_scores(np.array([0, 2]), np.array([0, 1]))
    with pytest.raises(ValueError, match="ignore"):
        segmentation_scores(np.zeros(3), np.zeros(3), labels=(0, 255))


def test_large_array_fast_path():
    # 4 M pixels, uint8, across several chunks: result equals a direct count
    rng = np.random.default_rng(9)
    t = rng.integers(0, 2, 4_000_000, dtype=np.uint8)
    p = t ^ (rng.random(t.size) < 0.1).astype(np.uint8)
    cm = confusion_counts(t, p)
    assert cm.sum() == t.size
    assert cm[0, 1] == np.sum((t == 0) & (p == 1)) and cm[1, 1] == np.sum(
        (t == 1) & (p == 1)
    )
