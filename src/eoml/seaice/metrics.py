"""seaice metrics: F1 and intersection-over-union from one pixel confusion matrix.

Sea-ice charts are scored pixel-wise over whole scenes (10^8 pixels and more), so every score is
derived from a single ``K × K`` confusion matrix built with :func:`numpy.bincount` over
``true_index * K + pred_index`` in chunks (bounded memory, one pass, no sorting). Pixels whose
reference *or* prediction equals ``ignore`` (land, no-data, border: 255 in the AI4Arctic /
ExtremeEarth convention) are dropped. Matrices from several scenes can be summed before scoring
(:func:`confusion_counts` + :func:`scores_from_confusion`), which gives the pooled scores the
literature reports rather than an average of per-scene scores.

Definitions follow scikit-learn with explicit ``labels`` and ``zero_division=0`` (what its default
"warn" returns), so the numbers are interchangeable with ``f1_score`` / ``jaccard_score`` /
``confusion_matrix``:

* per class ``c``: ``F1_c = 2 TP / (2 TP + FP + FN)``, ``IoU_c = TP / (TP + FP + FN)``; a class
  absent from both reference and prediction scores 0 (it still counts in the macro mean);
* ``f1_weighted`` / ``iou_weighted``: mean weighted by the reference support of each class;
* ``iou_micro``: ``ΣTP / Σ(TP + FP + FN)`` over classes; ``iou_macro``: unweighted mean;
* ``confusion``: rows (reference) normalised to sum to 1; an empty row stays 0.

If no pixel is valid every score is NaN (not 0: there is nothing to score).

Reference: Everingham et al. (2010) "The PASCAL visual object classes (VOC) challenge", IJCV
(IoU); scikit-learn's ``sklearn.metrics`` documentation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

CHUNK = 1 << 24  # pixels per bincount pass: ~130 MB of int64 indices at most


def _label_index(
    values: np.ndarray, labels: np.ndarray, lut: np.ndarray | None
) -> np.ndarray:
    """Map label values to 0..K-1; -1 for values that are not labels."""
    if (
        lut is not None
        and lut.size == labels.size
        and np.all(lut == np.arange(lut.size))
    ):
        out = values.astype(np.int64)  # labels are 0..K-1: the values are the indices
        out[(out < 0) | (out >= lut.size)] = -1
        return out
    if lut is not None:
        out = np.full(values.shape, -1, dtype=np.int64)
        inside = (values >= 0) & (values < lut.size)
        out[inside] = lut[values[inside].astype(np.int64)]
        return out
    order = np.argsort(labels)
    pos = np.searchsorted(labels[order], values).clip(0, labels.size - 1)
    return np.where(labels[order][pos] == values, order[pos], -1).astype(np.int64)


def confusion_counts(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    labels: Sequence[int] = (0, 1),
    ignore: int | None = 255,
) -> np.ndarray:
    """``K × K`` int64 counts, rows = reference label, columns = predicted label (labels' order)."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred differ in shape: {y_true.shape} vs {y_pred.shape}"
        )
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.size == 0 or np.unique(lab).size != lab.size:
        raise ValueError(f"labels must be distinct values, got {labels!r}")
    if ignore is not None and np.any(lab == ignore):
        raise ValueError(f"ignore value {ignore} is also a label")
    k = lab.size
    lut = None
    if np.issubdtype(lab.dtype, np.integer) and lab.min() >= 0 and lab.max() < 65536:
        lut = np.full(int(lab.max()) + 1, -1, dtype=np.int64)
        lut[lab.astype(np.int64)] = np.arange(k)
    t_flat, p_flat = y_true.reshape(-1), y_pred.reshape(-1)
    counts = np.zeros(k * k, dtype=np.int64)
    for start in range(0, t_flat.size, CHUNK):
        t = t_flat[start : start + CHUNK]
        p = p_flat[start : start + CHUNK]
        if ignore is not None:
            keep = (t != ignore) & (p != ignore)
            if not keep.all():
                t, p = t[keep], p[keep]
        ti, pi = _label_index(t, lab, lut), _label_index(p, lab, lut)
        bad = (ti < 0) | (pi < 0)
        if bad.any():
            vals = np.unique(np.concatenate([t[ti < 0], p[pi < 0]]))[:10]
            raise ValueError(
                f"values {vals.tolist()} are neither labels {lab.tolist()} nor ignore={ignore}"
            )
        counts += np.bincount(ti * k + pi, minlength=k * k)
    return counts.reshape(k, k)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.divide(
        num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0
    )


def scores_from_confusion(counts: np.ndarray) -> dict[str, Any]:
    """Scores (see module docstring) from a ``K × K`` count matrix (rows = reference)."""
    cm = np.asarray(counts, dtype=np.int64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"confusion counts must be square, got shape {cm.shape}")
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    fp, fn = predicted - tp, support - tp
    f1 = _safe_div(2 * tp, 2 * tp + fp + fn)
    iou = _safe_div(tp, tp + fp + fn)
    total = support.sum()
    if total == 0:
        nan = float("nan")
        return {
            "f1_weighted": nan, "iou_micro": nan, "iou_macro": nan, "iou_weighted": nan,
            "confusion": np.full(cm.shape, np.nan), "f1_per_class": f1, "iou_per_class": iou,
            "counts": cm, "n_pixels": 0,
        }  # fmt: skip
    return {
        "f1_weighted": float((f1 * support).sum() / total),
        "iou_micro": float(_safe_div(tp.sum(), (tp + fp + fn).sum())),
        "iou_macro": float(iou.mean()),
        "iou_weighted": float((iou * support).sum() / total),
        "confusion": _safe_div(cm, support[:, None]),
        "f1_per_class": f1,
        "iou_per_class": iou,
        "counts": cm,
        "n_pixels": int(total),
    }


def segmentation_scores(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    labels: Sequence[int] = (0, 1),
    ignore: int | None = 255,
) -> dict[str, Any]:
    """F1 (support-weighted), IoU (micro, macro, weighted) and the row-normalised confusion matrix.

    Returns a dict with ``f1_weighted, iou_micro, iou_macro, iou_weighted`` (floats),
    ``confusion`` (``K × K`` float, rows sum to 1), plus ``f1_per_class``, ``iou_per_class``,
    ``counts`` (raw confusion) and ``n_pixels`` (valid pixels scored).
    """
    return scores_from_confusion(
        confusion_counts(y_true, y_pred, labels=labels, ignore=ignore)
    )
