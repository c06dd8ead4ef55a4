"""seaice scores: the core class-map scores on the chart classes, 255 ignored."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, jaccard_score

from eoml.core.metrics import segmentation_scores
from eoml.seaice.charts import ICE, IGNORE, WATER
from eoml.seaice.metrics import LABELS, scene_scores


def test_chart_classes_in_score_order():
    assert LABELS == (WATER, ICE) == (0, 1) and IGNORE == 255


def test_scene_scores_ignore_255_in_chart_and_prediction():
    rng = np.random.default_rng(0)
    label = rng.integers(0, 2, (30, 40)).astype(np.uint8)
    pred = np.where(rng.random(label.shape) < 0.85, label, 1 - label).astype(np.uint8)
    label[:4] = IGNORE  # land in the chart
    pred[rng.random(label.shape) < 0.05] = IGNORE  # no prediction
    s = scene_scores(label, pred)
    keep = (label != IGNORE) & (pred != IGNORE)
    assert s["n_pixels"] == keep.sum()
    assert s["f1_weighted"] == pytest.approx(
        f1_score(label[keep], pred[keep], labels=[0, 1], average="weighted"), abs=1e-12)
    assert s["iou_micro"] == pytest.approx(
        jaccard_score(label[keep], pred[keep], labels=[0, 1], average="micro"), abs=1e-12)
    core = segmentation_scores(label, pred, labels=(0, 1), ignore=255)
    assert all(s[k] == core[k] for k in ("f1_weighted", "iou_micro", "iou_macro", "iou_weighted"))
    np.testing.assert_array_equal(s["counts"], core["counts"])


def test_scene_scores_refuse_other_classes():
    with pytest.raises(ValueError, match=r"\[2\]"):
        scene_scores(np.array([0, 1, 2], np.uint8), np.array([0, 1, 1], np.uint8))
