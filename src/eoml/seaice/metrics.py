"""seaice scores: the core class-map scores on the ice-chart classes.

Sea-ice charts are scored pixel-wise over whole scenes with
:func:`eoml.core.metrics.segmentation_scores` (see there for the definitions, which are
scikit-learn's) on the chart classes ``0`` water and ``1`` ice; pixels labelled ``255`` (land, no
data, border: the AI4Arctic / ExtremeEarth convention, :data:`eoml.seaice.charts.IGNORE`) in the
chart *or* the prediction are dropped. Confusion counts of several scenes are summed before
scoring (:func:`eoml.core.metrics.scores_from_confusion`) for pooled (per-season) scores.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from eoml.core.metrics import segmentation_scores
from eoml.seaice.charts import ICE, IGNORE, WATER

#: chart classes in score order (rows / columns of the confusion matrix)
LABELS = (WATER, ICE)


def scene_scores(label: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    """Scores of a predicted class map against a chart label map (255 ignored in either)."""
    return segmentation_scores(label, pred, labels=LABELS, ignore=IGNORE)
