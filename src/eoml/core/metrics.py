"""Metrics shared by every study: NaN-aware forecast verification and class-map scores.

Forecast verification (:func:`performance_efficiency`, :func:`rmse`, :func:`bias`): the functions
take an observation array ``y`` and a forecast array ``f`` of the same shape (any number of
dimensions; they are flattened) and use only the pairs where *both* are finite, so a gap in either
the data or the forecast simply drops that sample.

Classification / segmentation (:func:`confusion_counts`, :func:`scores_from_confusion`,
:func:`segmentation_scores`): every score is derived from one ``K × K`` confusion matrix built with
:func:`numpy.bincount` over ``true_index * K + pred_index`` in chunks (bounded memory, one pass, no
sorting), so whole images of 10^8 pixels and more are scored at once. Pixels whose reference *or*
prediction equals ``ignore`` (land, no data, a border: e.g. 255 in the PASCAL VOC and AI4Arctic
conventions) are dropped. Matrices of several images can be summed before scoring
(:func:`confusion_counts` + :func:`scores_from_confusion`), which gives the pooled scores the
literature reports rather than an average of per-image scores.

Definitions follow scikit-learn with explicit ``labels`` and ``zero_division=0`` (what its default
"warn" returns), so the numbers are interchangeable with ``f1_score`` / ``jaccard_score`` /
``confusion_matrix`` (tests/core/test_metrics_segmentation.py checks this):

* per class ``c``: ``F1_c = 2 TP / (2 TP + FP + FN)``, ``IoU_c = TP / (TP + FP + FN)``; a class
  absent from both reference and prediction scores 0 (it still counts in the macro mean);
* ``f1_weighted`` / ``iou_weighted``: mean weighted by the reference support of each class;
* ``iou_micro``: ``ΣTP / Σ(TP + FP + FN)`` over classes; ``iou_macro``: unweighted mean;
* ``confusion``: rows (reference) normalised to sum to 1; an empty row stays 0.

If no pixel is valid every score is NaN (not 0: there is nothing to score).

Whole-sample classification (:func:`classification_scores`: accuracy, macro F1, Cohen's kappa,
per-class precision / recall / F1) uses the same confusion matrix; with ``labels=None`` the labels
are those present in either array, as scikit-learn's defaults, so the scores equal
``accuracy_score``, ``f1_score(average="macro")`` and ``cohen_kappa_score``
(tests/core/test_metrics_classification.py).

References: Everingham et al. (2010) "The PASCAL visual object classes (VOC) challenge", IJCV
(IoU); Cohen (1960) "A coefficient of agreement for nominal scales", Educ. Psychol. Meas. (kappa);
scikit-learn's ``sklearn.metrics`` documentation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

CHUNK = 1 << 24  # pixels per bincount pass of confusion_counts: ~130 MB of int64 indices at most


def nan_pairs(y: ArrayLike, f: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Flattened float64 copies of ``y`` and ``f`` restricted to the pairs where both are finite.

    Raises ``ValueError`` if the two arrays do not have the same shape.
    """
    y = np.asarray(y, dtype=np.float64)
    f = np.asarray(f, dtype=np.float64)
    if y.shape != f.shape:
        raise ValueError(f"observation shape {y.shape} != forecast shape {f.shape}")
    y = y.ravel()
    f = f.ravel()
    keep = np.isfinite(y) & np.isfinite(f)
    return y[keep], f[keep]


def performance_efficiency(y: ArrayLike, f: ArrayLike) -> float:
    """Performance efficiency PE = 1 − Σ(y − f)² / Σ(y − ȳ)² over the finite pairs.

    ȳ is the mean of the observations *of those pairs*. PE is exactly the coefficient of
    determination R² as computed by ``sklearn.metrics.r2_score(y, f)`` (not the squared
    correlation): 1 is a perfect forecast, 0 is no better than the observed mean, and it is
    unbounded below. This is the PE of PreMevE 2.0 (Pires de Lima et al. 2020), computed on
    log10 flux.

    Returns NaN when fewer than two finite pairs remain or the observations have zero variance.
    """
    y, f = nan_pairs(y, f)
    if y.size < 2:
        return float("nan")
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    if ss_tot == 0.0:
        return float("nan")
    ss_res = float(np.sum((y - f) ** 2))
    return 1.0 - ss_res / ss_tot


def rmse(y: ArrayLike, f: ArrayLike) -> float:
    """Root-mean-square error over the finite pairs (NaN if there is none)."""
    y, f = nan_pairs(y, f)
    if y.size == 0:
        return float("nan")
    return float(np.sqrt(np.mean((y - f) ** 2)))


def bias(y: ArrayLike, f: ArrayLike) -> float:
    """Mean error ⟨f − y⟩ over the finite pairs (NaN if there is none)."""
    y, f = nan_pairs(y, f)
    if y.size == 0:
        return float("nan")
    return float(np.mean(f - y))


# --------------------------------------------------------------------------------------------
# classification / segmentation scores from one confusion matrix
# --------------------------------------------------------------------------------------------
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
    y_true: ArrayLike,
    y_pred: ArrayLike,
    labels: Sequence[int],
    ignore: int | None = None,
) -> np.ndarray:
    """``K × K`` int64 counts, rows = reference label, columns = predicted label (labels' order).

    ``y_true`` and ``y_pred`` are label maps of one shape (any number of dimensions); a pixel is
    dropped when either equals ``ignore``. Every other value must be one of ``labels``
    (``ValueError`` otherwise, naming the values). Equals ``sklearn.metrics.confusion_matrix`` of
    the kept pixels with ``labels=labels``.
    """
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


def scores_from_confusion(counts: ArrayLike) -> dict[str, Any]:
    """Scores (see the module docstring) from a ``K × K`` count matrix (rows = reference).

    Returns a dict with ``f1_weighted, iou_micro, iou_macro, iou_weighted`` (floats),
    ``confusion`` (``K × K`` float, rows sum to 1), plus ``f1_per_class``, ``iou_per_class``,
    ``counts`` (the raw matrix) and ``n_pixels`` (pixels scored).
    """
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
    y_true: ArrayLike,
    y_pred: ArrayLike,
    labels: Sequence[int],
    ignore: int | None = None,
) -> dict[str, Any]:
    """F1 (support-weighted), IoU (micro, macro, weighted) and the row-normalised confusion matrix
    of two label maps, pixels equal to ``ignore`` in either dropped.

    :func:`confusion_counts` then :func:`scores_from_confusion` (see there for the keys).
    """
    return scores_from_confusion(
        confusion_counts(y_true, y_pred, labels=labels, ignore=ignore)
    )


def classification_scores(
    y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence[int] | None = None
) -> dict[str, Any]:
    """Accuracy, macro F1, Cohen's kappa and per-class scores of two label arrays of one shape.

    ``labels`` defaults to the sorted labels present in ``y_true`` or ``y_pred`` (scikit-learn's
    default); given explicitly, a class absent from both arrays still counts in the macro mean
    (with F1 0) and any other value raises ``ValueError`` (:func:`confusion_counts`).

    Returns ``accuracy`` (ΣTP / n), ``f1_macro`` (unweighted mean of the per-class F1, 0 for a
    class never predicted nor present), ``kappa`` ((p_o − p_e) / (1 − p_e) with p_e from the row
    and column sums; NaN when p_e = 1, as scikit-learn), ``precision_per_class``,
    ``recall_per_class``, ``f1_per_class`` (zero_division = 0), ``labels``, ``counts`` (rows =
    reference) and ``n_samples``. Every score is NaN when the arrays are empty.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if labels is None:
        labels = np.union1d(y_true.ravel(), y_pred.ravel())
    lab = np.asarray(labels)
    nan = float("nan")
    if lab.size == 0:
        if y_true.shape != y_pred.shape:
            raise ValueError(f"y_true and y_pred differ in shape: {y_true.shape} vs {y_pred.shape}")
        empty = np.zeros(0)
        return {"accuracy": nan, "f1_macro": nan, "kappa": nan, "precision_per_class": empty,
                "recall_per_class": empty, "f1_per_class": empty, "labels": lab,
                "counts": np.zeros((0, 0), dtype=np.int64), "n_samples": 0}  # fmt: skip
    cm = confusion_counts(y_true, y_pred, labels=lab)
    n = float(cm.sum())
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    f1 = _safe_div(2 * tp, support + predicted)
    if n == 0:
        accuracy = f1_macro = kappa = nan
    else:
        accuracy = float(tp.sum() / n)
        f1_macro = float(f1.mean())
        expected = float(np.dot(support, predicted)) / (n * n)
        kappa = float((accuracy - expected) / (1.0 - expected)) if expected < 1.0 else nan
    return {
        "accuracy": accuracy,
        "f1_macro": f1_macro,
        "kappa": kappa,
        "precision_per_class": _safe_div(tp, predicted),
        "recall_per_class": _safe_div(tp, support),
        "f1_per_class": f1,
        "labels": lab,
        "counts": cm,
        "n_samples": int(n),
    }
