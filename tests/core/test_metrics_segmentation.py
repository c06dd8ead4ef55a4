"""core.metrics class-map scores against scikit-learn on random label maps with ignore pixels."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, f1_score, jaccard_score

from eoml.core import metrics
from eoml.core.metrics import confusion_counts, scores_from_confusion, segmentation_scores

BINARY = (0, 1)


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
        "f1_per_class": f1_score(t, p, average=None, **kw),
        "iou_per_class": jaccard_score(t, p, average=None, **kw),
        "confusion": confusion_matrix(t, p, labels=lab, normalize="true"),
        "counts": confusion_matrix(t, p, labels=lab),
    }


def _check(ours: dict, ref: dict) -> None:
    for key in ("f1_weighted", "iou_micro", "iou_macro", "iou_weighted"):
        assert ours[key] == pytest.approx(ref[key], abs=1e-12), key
    for key in ("f1_per_class", "iou_per_class", "confusion"):
        np.testing.assert_allclose(ours[key], ref[key], atol=1e-12, err_msg=key)
    np.testing.assert_array_equal(ours["counts"], ref["counts"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_sklearn_random_binary(seed):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 2, size=(37, 53)).astype(np.uint8)
    # correlated prediction so scores are neither trivial nor 0.5
    p = np.where(rng.random(t.shape) < 0.8, t, 1 - t).astype(np.uint8)
    t[rng.random(t.shape) < 0.1] = 255
    p[rng.random(t.shape) < 0.05] = 255
    ours = segmentation_scores(t, p, BINARY, ignore=255)
    _check(ours, _sklearn(t, p, BINARY))
    keep = (t != 255) & (p != 255)
    assert ours["n_pixels"] == keep.sum()
    np.testing.assert_allclose(ours["confusion"].sum(axis=1), 1.0)


def test_matches_sklearn_multiclass_unsorted_labels_and_chunks(monkeypatch):
    monkeypatch.setattr(metrics, "CHUNK", 100)  # exercise accumulation over chunks
    rng = np.random.default_rng(5)
    labels = (3, 0, 7)
    t = rng.choice(labels + (255,), size=(31, 29), p=[0.5, 0.2, 0.2, 0.1]).astype(np.int32)
    p = np.where(rng.random(t.shape) < 0.6, t, rng.choice(labels, size=t.shape)).astype(np.int32)
    p[t == 255] = rng.choice(labels, size=int((t == 255).sum()))
    _check(segmentation_scores(t, p, labels=labels, ignore=255), _sklearn(t, p, labels))


def test_confusion_counts_equal_sklearn_confusion_matrix_3d():
    rng = np.random.default_rng(11)
    t = rng.integers(0, 4, size=(3, 20, 17))
    p = rng.integers(0, 4, size=t.shape)
    t[0, :5] = 99
    keep = (t != 99) & (p != 99)
    np.testing.assert_array_equal(confusion_counts(t, p, labels=(0, 1, 2, 3), ignore=99),
                                  confusion_matrix(t[keep], p[keep], labels=[0, 1, 2, 3]))


def test_no_ignore_value_counts_every_pixel():
    t = np.array([0, 1, 1, 2])
    p = np.array([0, 2, 1, 2])
    cm = confusion_counts(t, p, labels=(0, 1, 2))
    assert cm.sum() == 4
    np.testing.assert_array_equal(cm, confusion_matrix(t, p, labels=[0, 1, 2]))
    with pytest.raises(ValueError, match=r"\[255\]"):
        confusion_counts(np.array([0, 255]), np.array([0, 1]), labels=(0, 1))


def test_non_integer_labels_path():
    t = np.array([-1, 2, 2, -1, 9, 2])
    p = np.array([-1, -1, 2, 2, 2, 2])
    ours = segmentation_scores(t, p, labels=(2, -1), ignore=9)
    _check(ours, _sklearn(t, p, (2, -1), ignore=9))


def test_class_absent_from_reference():
    t = np.zeros((10, 10), dtype=np.uint8)
    p = t.copy()
    p[:2] = 1  # 20 false positives of class 1
    ours = segmentation_scores(t, p, BINARY, ignore=255)
    _check(ours, _sklearn(t, p, BINARY))
    assert ours["iou_per_class"][1] == 0.0
    assert ours["iou_macro"] == pytest.approx(0.8 / 2)
    np.testing.assert_array_equal(ours["confusion"], [[0.8, 0.2], [0.0, 0.0]])


def test_class_absent_everywhere_counts_zero_in_macro():
    t = np.array([0, 0, 0, 255], dtype=np.uint8)
    p = np.array([0, 0, 0, 1], dtype=np.uint8)
    ours = segmentation_scores(t, p, BINARY, ignore=255)
    _check(ours, _sklearn(t, p, BINARY))
    assert ours["iou_micro"] == 1.0 and ours["iou_macro"] == 0.5 and ours["f1_weighted"] == 1.0


def test_perfect_and_all_wrong():
    t = np.array([[0, 1], [1, 0]], dtype=np.uint8)
    best = segmentation_scores(t, t, BINARY)
    worst = segmentation_scores(t, 1 - t, BINARY)
    assert best["f1_weighted"] == best["iou_micro"] == best["iou_macro"] == 1.0
    np.testing.assert_array_equal(best["confusion"], np.eye(2))
    assert worst["f1_weighted"] == worst["iou_micro"] == worst["iou_weighted"] == 0.0


def test_all_ignored_gives_nan():
    t = np.full((4, 4), 255, dtype=np.uint8)
    s = segmentation_scores(t, np.zeros_like(t), BINARY, ignore=255)
    assert s["n_pixels"] == 0 and np.isnan(s["f1_weighted"]) and np.isnan(s["iou_macro"])


def test_pooled_counts_equal_concatenation():
    rng = np.random.default_rng(3)
    a_t, a_p = rng.integers(0, 2, (20, 20)), rng.integers(0, 2, (20, 20))
    b_t, b_p = rng.integers(0, 2, (15, 20)), rng.integers(0, 2, (15, 20))
    pooled = scores_from_confusion(confusion_counts(a_t, a_p, BINARY) + confusion_counts(b_t, b_p, BINARY))
    joint = segmentation_scores(np.concatenate([a_t, b_t]), np.concatenate([a_p, b_p]), BINARY)
    assert pooled["iou_macro"] == joint["iou_macro"] and pooled["f1_weighted"] == joint["f1_weighted"]


def test_bad_inputs():
    with pytest.raises(ValueError, match="shape"):
        segmentation_scores(np.zeros(3), np.zeros(4), BINARY)
    with pytest.raises(ValueError, match=r"\[2\]"):
        segmentation_scores(np.array([0, 2]), np.array([0, 1]), BINARY, ignore=255)
    with pytest.raises(ValueError, match="ignore"):
        segmentation_scores(np.zeros(3), np.zeros(3), labels=(0, 255), ignore=255)
    with pytest.raises(ValueError, match="distinct"):
        segmentation_scores(np.zeros(3), np.zeros(3), labels=(0, 0))
    with pytest.raises(ValueError, match="square"):
        scores_from_confusion(np.zeros((2, 3)))


def test_large_array_fast_path():
    # 4 M pixels, uint8, across several chunks: result equals a direct count
    rng = np.random.default_rng(9)
    t = rng.integers(0, 2, 4_000_000, dtype=np.uint8)
    p = t ^ (rng.random(t.size) < 0.1).astype(np.uint8)
    cm = confusion_counts(t, p, BINARY, ignore=255)
    assert cm.sum() == t.size
    assert cm[0, 1] == np.sum((t == 0) & (p == 1)) and cm[1, 1] == np.sum((t == 1) & (p == 1))
