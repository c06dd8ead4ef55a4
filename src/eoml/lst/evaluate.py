"""LST evaluation: the same sharpening task for every method, scored with PSNR, SSIM and RMSE.

Datasets (each an "evaluation dataset" with a reference at the fine scale):

* ``modis_wald`` — Wald's protocol on the held-out (validation-date) MODIS patches: the 1 km LST
  patch is the reference, its ``factor``-aggregate (radiance-consistent by default) the coarse
  input, the 250 m NDVI block-averaged to 1 km the fine index.
* one dataset per validation scene (``lst.validation_scenes``, plus the demo's): the scene's LST is
  the reference, aggregated by the scene's factor, sharpened back with the scene's NDVI.

:func:`build_eval_inputs` writes one collection store (:func:`eoml.core.store.write_collection`)
with one group per dataset holding ``truth``, ``lst_coarse``, ``index_fine`` and ``index_coarse``
(float32; the index aggregated by block mean, so regression-based sharpeners are coherent; dims
``(n, y, x)`` fine and ``(n, yc, xc)`` coarse) and the group attribute ``factor``. Every method —
baseline or trained model — is then run on exactly these inputs by :func:`predict_baseline` /
:func:`predict_model`, which write a collection ``<method>.zarr`` with one group per dataset
holding ``pred`` (float32 ``(n, y, x)``) and the root attribute ``method``. :func:`evaluate` scores
all of them on the same pixels: those inside the border crop where the reference and *every*
method are finite.

Metrics (per image, then averaged over the dataset's images, i.e. patches): PSNR and SSIM from
scikit-image with ``data_range`` the reference image's own range (max − min); SSIM with the
default 7 × 7 window on the cropped image, averaged over the scored pixels only; RMSE in K pooled
over all scored pixels of the dataset.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from tqdm import tqdm

from eoml.core.errors import ConfigError, InputFileError
from eoml.core.io import atomic_path
from eoml.core.store import open_collection, open_store, write_collection
from eoml.lst.scaling import aggregate_lst, block_mean

log = logging.getLogger(__name__)

WALD = "modis_wald"
METRIC_COLUMNS = ["method", "dataset", "factor", "psnr", "ssim", "rmse_k", "n_pixels"]
ARRAYS = ("truth", "lst_coarse", "index_fine", "index_coarse")
SSIM_WIN = 7


DIMS_FINE = ("n", "y", "x")
DIMS_COARSE = ("n", "yc", "xc")


def _subset(n: int, limit: int | None) -> np.ndarray:
    """A deterministic, evenly spread subset of ``range(n)`` of at most ``limit`` items."""
    if limit is None or n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, int(limit)).round().astype(int))


def _dataset_group(name: str, truth: np.ndarray, index_fine: np.ndarray, factor: int,
                   aggregation: str) -> xr.Dataset:
    """One dataset's group of the evaluation inputs (see module doc)."""
    coarse = aggregate_lst(truth, factor, aggregation)
    index_coarse = block_mean(index_fine, factor)
    return xr.Dataset({
        "truth": (DIMS_FINE, truth.astype(np.float32),
                  {"units": "K", "long_name": f"{name}: reference LST at the fine scale"}),
        "lst_coarse": (DIMS_COARSE, coarse.astype(np.float32),
                       {"units": "K", "long_name": f"{name}: reference aggregated by {factor} ({aggregation})"}),
        "index_fine": (DIMS_FINE, index_fine.astype(np.float32),
                       {"units": "1", "long_name": f"{name}: NDVI at the fine scale"}),
        "index_coarse": (DIMS_COARSE, index_coarse.astype(np.float32),
                         {"units": "1", "long_name": f"{name}: NDVI block mean at the coarse scale"}),
    }, attrs={"factor": int(factor)})


def build_eval_inputs(patch_store: str | Path, scenes: Sequence[Mapping[str, Any]], output: str | Path,
                      cfg: Mapping[str, Any]) -> Path:
    """Write the evaluation inputs of every dataset (see module doc)."""
    from eoml.lst.readers import read_validation_scene

    factor = int(cfg["factor"])
    aggregation = cfg["wald_aggregation"]
    max_patches = cfg["evaluation"]["max_patches"]
    crop = int(cfg["evaluation"]["border_crop"])
    patches = open_store(patch_store)
    val = np.nonzero(patches["split"].values == "val")[0]
    if val.size == 0:
        raise InputFileError(patch_store, "no validation patch to evaluate on")
    val = val[_subset(val.size, max_patches)]
    truth = patches["lst"].values[val]
    ndvi_1km = block_mean(patches["ndvi"].values[val], factor)
    _check_crop(WALD, truth.shape[-2:], crop)
    groups = {WALD: _dataset_group(WALD, truth, ndvi_1km, factor, aggregation)}
    groups[WALD].attrs["patch_indices"] = val.astype(int).tolist()
    sources = []
    log.info("%s: %d held-out patches (%d x %d at 1 km, coarse input %d x %d)", WALD, len(val),
             truth.shape[1], truth.shape[2], truth.shape[1] // factor, truth.shape[2] // factor)
    for entry in scenes:
        scene = read_validation_scene(entry)
        f = int(entry["factor"])
        lst = scene["lst"].values
        h, w = (lst.shape[0] // f) * f, (lst.shape[1] // f) * f
        lst, ndvi = lst[:h, :w], scene["ndvi"].values[:h, :w]
        _check_crop(entry["name"], (h, w), crop)
        groups[entry["name"]] = _dataset_group(entry["name"], lst[None], ndvi[None], f, aggregation)
        sources.extend(str(entry[k]) for k in ("lst", "red", "nir"))
        log.info("%s: %d x %d pixels, factor %d, %.1f %% valid LST", entry["name"], h, w, f,
                 100 * np.isfinite(lst).mean())
    # read whole by every method: one chunk per variable
    return write_collection(groups, output, sources=sources, config=dict(cfg),
                            attrs={"aggregation": aggregation}, chunks="whole")


def _check_crop(dataset: str, shape: tuple[int, int], crop: int) -> None:
    """Refuse, before any method runs, a border crop that leaves nothing of a dataset's images."""
    if crop > 0 and min(shape) <= 2 * crop:
        raise ConfigError(
            f"  lst.evaluation.border_crop: {crop} px on each side leaves nothing of the "
            f"{shape[0]} x {shape[1]} images of dataset {dataset!r}; lower it below {(min(shape) + 1) // 2}"
        )


def load_inputs(path: str | Path) -> dict[str, xr.Dataset]:
    """The evaluation inputs: ``{dataset: its group, loaded}`` in the order written.

    Raises :class:`InputFileError` naming ``path`` when it is not an evaluation-inputs collection.
    """
    tree = open_collection(path)
    inputs = {name: tree[name].to_dataset().load() for name in tree.children}
    for name, ds in inputs.items():
        missing = [v for v in ARRAYS if v not in ds] + (["factor attribute"] if "factor" not in ds.attrs else [])
        if missing:
            raise InputFileError(path, f"group {name!r} is not an evaluation dataset, lacks {missing}")
    return inputs


def load_predictions(paths: Sequence[str | Path]) -> dict[str, dict[str, np.ndarray]]:
    """``{method: {dataset: float32 (n, y, x) prediction}}`` of predictions collections, in order.

    Raises :class:`InputFileError` naming the path of a store that is not a predictions
    collection or repeats a method.
    """
    out: dict[str, dict[str, np.ndarray]] = {}
    for path in paths:
        tree = open_collection(path)
        method = tree.attrs.get("method")
        if not method:
            raise InputFileError(path, "not a predictions collection: no 'method' root attribute")
        if method in out:
            raise InputFileError(path, f"method {method!r} given twice")
        preds = {}
        for name in tree.children:
            if "pred" not in tree[name]:
                raise InputFileError(path, f"group {name!r} has no 'pred' variable")
            preds[name] = tree[name]["pred"].values
        out[str(method)] = preds
    return out


def _write_predictions(preds: dict[str, np.ndarray], inputs: Mapping[str, xr.Dataset], output: str | Path,
                       method: str, attrs: Mapping[str, Any], config: Any = None, sources=()) -> Path:
    groups = {
        name: xr.Dataset({"pred": (inputs[name]["truth"].dims, pred.astype(np.float32),
                                   {"units": "K", "long_name": f"{method}: sharpened LST ({name})"})})
        for name, pred in preds.items()
    }
    return write_collection(groups, output, sources=sources, config=config, attrs={"method": method, **attrs},
                            chunks="whole")


def _run(inputs: Mapping[str, xr.Dataset], method: str, sharpen_one) -> dict[str, np.ndarray]:
    preds = {}
    for name, ds in inputs.items():
        factor = ds.attrs["factor"]
        arrays = {k: ds[k].values for k in ARRAYS}
        n = arrays["truth"].shape[0]
        out = np.empty(arrays["truth"].shape, dtype=np.float64)
        for i in tqdm(range(n), desc=f"{method} {name}", mininterval=5, disable=n < 20):
            out[i] = sharpen_one(arrays["lst_coarse"][i], arrays["index_coarse"][i],
                                 arrays["index_fine"][i], int(factor))
        preds[name] = out
    return preds


def predict_baseline(method: str, inputs_path: str | Path, output: str | Path,
                     options: Mapping[str, Any]) -> Path:
    """Run one classical sharpener on every evaluation image and write its predictions.

    ``options`` are the sharpener's keyword options (``lst.baseline_options.<method>``, ``{}`` for none).
    """
    from eoml.lst import baselines

    if method not in baselines.METHODS:
        raise ValueError(f"unknown LST baseline {method!r}; one of {sorted(baselines.METHODS)}")
    inputs = load_inputs(inputs_path)
    options = dict(options)

    def one(lst_c, idx_c, idx_f, factor):
        try:
            return baselines.sharpen(method, lst_c.astype(np.float64), idx_c.astype(np.float64),
                                     idx_f.astype(np.float64), factor, **options)
        except baselines.TooFewValidPixels as exc:
            # e.g. a mostly cloudy scene: this image is left out of every method's score
            log.warning("%s: image left unsharpened (%s)", method, exc)
            return np.full((lst_c.shape[0] * factor, lst_c.shape[1] * factor), np.nan)

    preds = _run(inputs, method, one)
    return _write_predictions(preds, inputs, output, method,
                              {"kind": "baseline", "options": repr(sorted(options.items()))}, config=options)


def predict_model(model_path: str | Path, inputs_path: str | Path, output: str | Path) -> Path:
    """Apply a trained U-Net to every evaluation dataset (batched) and write its predictions."""
    from eoml.lst.train import load_model

    model = load_model(model_path)
    inputs = load_inputs(inputs_path)
    preds = {}
    for name, ds in inputs.items():
        coarse = ds["lst_coarse"].values.astype(np.float64)
        fine = ds["index_fine"].values.astype(np.float64)
        preds[name] = model.sharpen(coarse, fine, int(ds.attrs["factor"]))
        log.info("%s: %s sharpened (%d images)", model.name, name, coarse.shape[0])
    return _write_predictions(preds, inputs, output, model.name, {"kind": "model", "model_path": str(model_path)},
                              sources=[model_path])


# --------------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------------
def _crop(a: np.ndarray, c: int) -> np.ndarray:
    if c <= 0:
        return a
    if a.shape[-1] <= 2 * c or a.shape[-2] <= 2 * c:
        raise ValueError(f"border crop {c} leaves nothing of images of shape {a.shape[-2:]}")
    return a[..., c:-c, c:-c]


def image_scores(truth: np.ndarray, pred: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """PSNR and SSIM of one image over the pixels in ``mask`` (data range of the reference)."""
    t, p = truth[mask], pred[mask]
    data_range = float(t.max() - t.min())
    if data_range <= 0:
        return float("nan"), float("nan")
    with np.errstate(divide="ignore"):  # a perfect prediction has an infinite PSNR
        psnr = peak_signal_noise_ratio(t, p, data_range=data_range)
    # SSIM needs whole images: pixels outside the mask get the reference value in both; the
    # map is averaged over the masked pixels at least half a window from the edge (as skimage)
    t_full = np.where(mask, truth, np.nanmean(t))
    p_full = np.where(mask, pred, t_full)
    _, smap = structural_similarity(t_full, p_full, data_range=data_range, full=True, win_size=SSIM_WIN)
    inner = np.zeros_like(mask)
    pad = (SSIM_WIN - 1) // 2
    inner[pad:-pad, pad:-pad] = True
    use = mask & inner if (mask & inner).any() else mask
    return float(psnr), float(smap[use].mean())


def score(truth: np.ndarray, preds: Mapping[str, np.ndarray], border_crop: int) -> pd.DataFrame:
    """Scores of every method on the pixels where the reference and all methods are finite."""
    truth = _crop(np.asarray(truth, dtype=np.float64), border_crop)
    preds = {m: _crop(np.asarray(p, dtype=np.float64), border_crop) for m, p in preds.items()}
    common = np.isfinite(truth)
    for p in preds.values():
        common &= np.isfinite(p)
    rows = []
    for method, pred in preds.items():
        psnrs, ssims = [], []
        for i in range(truth.shape[0]):
            if common[i].sum() < 2:
                continue
            ps, ss = image_scores(truth[i], pred[i], common[i])
            psnrs.append(ps)
            ssims.append(ss)
        err = (pred - truth)[common]
        rows.append({
            "method": method,
            "psnr": float(np.nanmean(psnrs)) if psnrs else float("nan"),
            "ssim": float(np.nanmean(ssims)) if ssims else float("nan"),
            "rmse_k": float(np.sqrt(np.mean(err**2))) if err.size else float("nan"),
            "n_pixels": int(common.sum()),
        })
    return pd.DataFrame(rows)


def evaluate(inputs_path: str | Path, predictions: Sequence[str | Path], metrics_csv: str | Path,
             ranking_csv: str | Path, cfg: Mapping[str, Any]) -> pd.DataFrame:
    """Score every method's predictions; write ``sharpening.csv`` and ``ranking.csv``."""
    inputs = load_inputs(inputs_path)
    border = int(cfg["evaluation"]["border_crop"])
    loaded = load_predictions(predictions)
    paths = dict(zip(loaded, predictions))
    tables = []
    for name, ds in inputs.items():
        truth = ds["truth"].values
        preds = {}
        for method, by_dataset in loaded.items():
            if name not in by_dataset:
                raise InputFileError(paths[method], f"no predictions for dataset {name}")
            preds[method] = by_dataset[name]
        table = score(truth, preds, border)
        table["dataset"] = name
        table["factor"] = int(ds.attrs["factor"])
        tables.append(table)
    metrics = pd.concat(tables, ignore_index=True)[METRIC_COLUMNS]
    metrics = metrics.sort_values(["dataset", "psnr"], ascending=[True, False], kind="mergesort")
    with atomic_path(metrics_csv) as tmp:
        metrics.to_csv(tmp, index=False, float_format="%.6g")
    ranking = rank_methods(metrics)
    with atomic_path(ranking_csv) as tmp:
        ranking.to_csv(tmp, index=False, float_format="%.4g")
    for name, group in metrics.groupby("dataset", sort=False):
        log.info("%s: %s", name, ", ".join(f"{r.method} {r.psnr:.2f} dB / {r.rmse_k:.3f} K"
                                          for r in group.itertuples()))
    return metrics


def rank_methods(metrics: pd.DataFrame) -> pd.DataFrame:
    """Rank per dataset by PSNR, SSIM and RMSE (1 = best), and the mean rank over datasets."""
    m = metrics.copy()
    by = m.groupby("dataset")
    m["rank_psnr"] = by["psnr"].rank(ascending=False, method="min")
    m["rank_ssim"] = by["ssim"].rank(ascending=False, method="min")
    m["rank_rmse"] = by["rmse_k"].rank(ascending=True, method="min")
    m["rank"] = m[["rank_psnr", "rank_ssim", "rank_rmse"]].mean(axis=1)
    overall = m.groupby("method")["rank"].mean().rename("mean_rank_all_datasets")
    m = m.join(overall, on="method")
    cols = ["dataset", "method", "rank_psnr", "rank_ssim", "rank_rmse", "rank", "mean_rank_all_datasets"]
    return m[cols].sort_values(["dataset", "rank"], kind="mergesort")
