"""Paper figures of the lst study. Each function writes one PNG (200 dpi) and an SVG beside it.

* :func:`plot_maps` — reference, coarse input, NDVI and every method's sharpened LST on one colour
  scale, then every method's error map (method − reference) on a symmetric scale.
* :func:`plot_loss_curves` — train / validation loss per epoch, split into the MSE and MGE terms
  (:func:`eoml.core.figures.loss_curves_figure`).
* :func:`plot_metrics` — PSNR, SSIM and RMSE of every method on every dataset.
* :func:`plot_modis_250m` — a held-out MODIS region sharpened 1 km → 250 m by every method.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt  # noqa: E402,I001  (after eoml.core.plotting chose Agg)
import numpy as np
import pandas as pd

from eoml.core.figures import loss_curves_figure
from eoml.core.plotting import paper_style, save_figure
from eoml.core.store import open_store
from eoml.lst.evaluate import load_inputs, load_predictions
from eoml.lst.scaling import block_mean

log = logging.getLogger(__name__)

BASELINE_ORDER = ["bilinear", "bicubic", "tsharp", "atprk", "aatprk"]
LABELS = {"bilinear": "Bilinear", "bicubic": "Bicubic", "tsharp": "TsHARP", "atprk": "ATPRK",
          "aatprk": "AATPRK"}
LST_CMAP = "inferno"
ERR_CMAP = "RdBu_r"
NDVI_CMAP = "YlGn"
N_COLS = 6
#: the U-Nets: the warm and green Okabe & Ito colours (distinct from the sharpeners' blues/greys)
NET_COLORS = ("#D55E00", "#E69F00", "#CC79A7", "#009E73", "#F0E442", "#000000")


def label(method: str) -> str:
    """Display name: baselines by their published names, U-Nets as e.g. ``MRUNet paper / Wald``."""
    if method in LABELS:
        return LABELS[method]
    parts = method.split("_")
    if parts[0] == "mrunet" and len(parts) >= 3:
        proto = {"wald": "Wald", "mixgl": "MixGL"}.get(parts[2], parts[2])
        return f"MRUNet {parts[1]} / {proto}" + (" " + " ".join(parts[3:]) if len(parts) > 3 else "")
    return method


def method_order(methods: Sequence[str]) -> list[str]:
    base = [m for m in BASELINE_ORDER if m in methods]
    return base + sorted(m for m in methods if m not in BASELINE_ORDER)


def method_colors(methods: Sequence[str]) -> dict[str, Any]:
    """Greys/blues for the classical sharpeners, Okabe-Ito warm/green colours for the U-Nets."""
    base = {"bilinear": "#bdbdbd", "bicubic": "#737373", "tsharp": "#9ecae1", "atprk": "#3182bd",
            "aatprk": "#08519c"}
    nets = sorted(m for m in methods if m not in base)
    out = {m: base[m] for m in methods if m in base}
    out.update({m: NET_COLORS[i % len(NET_COLORS)] for i, m in enumerate(nets)})
    return out


def _grid(n_panels: int, panel_in: float = 1.15) -> tuple[plt.Figure, np.ndarray]:
    ncols = min(N_COLS, n_panels)
    nrows = int(np.ceil(n_panels / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_in * ncols + 0.6, panel_in * nrows + 0.3),
                             squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(True)
            spine.set_linewidth(0.4)
    for ax in axes.flat[n_panels:]:
        ax.set_visible(False)
    return fig, axes


# --------------------------------------------------------------------------------------------
def plot_maps(inputs_path: str | Path, prediction_paths: Sequence[str | Path], dataset: str,
              output: str | Path) -> Path:
    """Maps and error maps of one evaluation image (the highest-variance one for patch datasets)."""
    inputs = load_inputs(inputs_path)
    if dataset not in inputs:
        raise ValueError(f"dataset {dataset!r} not in {list(inputs)}")
    group = inputs[dataset]
    factor = int(group.attrs["factor"])
    truth = group["truth"].values
    variance = np.nanvar(truth.reshape(truth.shape[0], -1), axis=1)
    i = int(np.nanargmax(variance)) if truth.shape[0] > 1 else 0
    ref = truth[i].astype(np.float64)
    coarse = group["lst_coarse"].values[i]
    ndvi = group["index_fine"].values[i]
    preds = load_predictions(prediction_paths)
    methods = method_order(list(preds))
    missing = [m for m in methods if dataset not in preds[m]]
    if missing:
        raise ValueError(f"no predictions of dataset {dataset!r} by {missing}")
    fields = {m: preds[m][dataset][i].astype(np.float64) for m in methods}

    lo, hi = np.nanpercentile(ref, [1, 99])
    errors = {m: fields[m] - ref for m in methods}
    emax = max(float(np.nanpercentile(np.abs(e), 99)) for e in errors.values()) if errors else 1.0
    emax = max(emax, 0.1)
    n_top = 3 + len(methods)
    with paper_style():
        fig, axes = _grid(n_top + len(methods))
        flat = axes.flat
        im = flat[0].imshow(ref, cmap=LST_CMAP, vmin=lo, vmax=hi, interpolation="nearest")
        flat[0].set_title("reference")
        flat[1].imshow(np.kron(coarse, np.ones((factor, factor))), cmap=LST_CMAP, vmin=lo, vmax=hi,
                       interpolation="nearest")
        flat[1].set_title(f"input (÷{factor})")
        flat[2].imshow(ndvi, cmap=NDVI_CMAP, vmin=0, vmax=1, interpolation="nearest")
        flat[2].set_title("NDVI")
        for k, m in enumerate(methods):
            flat[3 + k].imshow(fields[m], cmap=LST_CMAP, vmin=lo, vmax=hi, interpolation="nearest")
            flat[3 + k].set_title(label(m), fontsize=7)
        last_err = None
        for k, m in enumerate(methods):
            ax = flat[n_top + k]
            last_err = ax.imshow(errors[m], cmap=ERR_CMAP, vmin=-emax, vmax=emax, interpolation="nearest")
            rmse = float(np.sqrt(np.nanmean(errors[m] ** 2)))
            ax.set_title(f"{label(m)} − ref", fontsize=7)
            ax.text(0.02, 0.02, f"RMSE {rmse:.2f} K", transform=ax.transAxes, fontsize=6,
                    color="k", bbox={"facecolor": "white", "alpha": 0.7, "pad": 1, "lw": 0})
        panels = list(axes.flat)
        fig.colorbar(im, ax=panels[:n_top], label="LST (K)", shrink=0.8, pad=0.01)
        if last_err is not None:
            fig.colorbar(last_err, ax=panels[n_top:n_top + len(methods)], label="error (K)",
                         shrink=0.8, pad=0.01)
        fig.suptitle(f"{dataset}: image {i}, factor {factor}", fontsize=9)
        save_figure(fig, output)
    return Path(output)


# --------------------------------------------------------------------------------------------
def plot_loss_curves(history_paths: Sequence[str | Path], output: str | Path) -> Path:
    """Total, MSE and MGE loss per epoch (train dashed, validation solid) of every model."""
    histories = {Path(p).parent.name: pd.read_csv(p) for p in history_paths}
    with paper_style():
        fig, _ = loss_curves_figure(
            histories, [("loss", "total loss"), ("mse", "MSE term"), ("mge", "MGE term")],
            colors=method_colors(list(histories)), labels={n: label(n) for n in histories},
            log_scale=True, ylabel="loss (standardised units)", empty_notes={"mge": "no MixGL model"},
            figsize=(7.2, 2.4))
        save_figure(fig, output)
    return Path(output)


# --------------------------------------------------------------------------------------------
def plot_metrics(metrics_csv: str | Path, output: str | Path) -> Path:
    """Grouped bars: PSNR, SSIM and RMSE of every method (colour) on every dataset (group)."""
    table = pd.read_csv(metrics_csv)
    datasets = list(dict.fromkeys(table["dataset"]))
    methods = method_order(list(dict.fromkeys(table["method"])))
    colors = method_colors(methods)
    width = 0.8 / len(methods)
    with paper_style():
        fig, axes = plt.subplots(1, 3, figsize=(7.2, 2.6))
        for ax, (col, title) in zip(axes, [("psnr", "PSNR (dB) ↑"), ("ssim", "SSIM ↑"), ("rmse_k", "RMSE (K) ↓")]):
            for k, m in enumerate(methods):
                rows = table[table["method"] == m].set_index("dataset").reindex(datasets)
                x = np.arange(len(datasets)) + (k - (len(methods) - 1) / 2) * width
                ax.bar(x, rows[col].values, width=width, color=colors[m], label=label(m), edgecolor="none")
            ax.set_xticks(np.arange(len(datasets)), datasets, rotation=15)
            ax.set_title(title)
            if col == "ssim":
                lo = float(np.nanmin(table["ssim"]))
                ax.set_ylim(max(0.0, lo - 0.05), 1.0)
            if col == "psnr":
                lo = float(np.nanmin(table["psnr"]))
                ax.set_ylim(max(0.0, lo - 3), None)
        handles, labels_ = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels_, loc="outside lower center", ncol=min(len(methods), 5))
        save_figure(fig, output)
    return Path(output)


# --------------------------------------------------------------------------------------------
def _example_region(patches_path: str | Path, scene_paths: Sequence[str | Path]):
    """The held-out patch with the largest LST variance and the scene store it comes from."""
    patches = open_store(patches_path)
    val = np.nonzero(patches["split"].values == "val")[0]
    lst = patches["lst"].values[val]
    k = val[int(np.argmax(lst.reshape(len(val), -1).var(axis=1)))]
    date = pd.Timestamp(patches["date"].values[k]).date().isoformat()
    tile = str(patches["tile"].values[k])
    for path in scene_paths:
        scene = open_store(path)
        if scene.attrs.get("date") == date and scene.attrs.get("tile") == tile:
            return patches, int(k), scene
    raise ValueError(f"no scene store for {tile} {date} among {list(scene_paths)}")


def plot_modis_250m(patches_path: str | Path, scene_paths: Sequence[str | Path],
                    model_paths: Sequence[str | Path], output: str | Path,
                    cfg: Mapping[str, Any]) -> Path:
    """Sharpen one held-out 1 km MODIS patch to 250 m with every method and show the results."""
    from eoml.lst import baselines
    from eoml.lst.train import load_model

    factor = int(cfg["factor"])
    patches, k, scene = _example_region(patches_path, scene_paths)
    lst = patches["lst"].values[k].astype(np.float64)
    ndvi = patches["ndvi"].values[k].astype(np.float64)
    ndvi_c = block_mean(ndvi, factor)
    fields = {}
    options = cfg["baseline_options"]
    for name in cfg["baselines"]:
        fields[name] = baselines.sharpen(name, lst, ndvi_c, ndvi, factor, **options[name])
    for path in model_paths:
        model = load_model(path)
        fields[model.name] = model.sharpen(lst, ndvi, factor)
    methods = method_order(list(fields))
    lo, hi = np.nanpercentile(lst, [1, 99])
    date = scene.attrs.get("date")
    with paper_style():
        fig, axes = _grid(2 + len(methods))
        flat = axes.flat
        im = flat[0].imshow(np.kron(lst, np.ones((factor, factor))), cmap=LST_CMAP, vmin=lo, vmax=hi,
                            interpolation="nearest")
        flat[0].set_title("MOD11A1 1 km", fontsize=7)
        flat[1].imshow(ndvi, cmap=NDVI_CMAP, vmin=0, vmax=1, interpolation="nearest")
        flat[1].set_title("MOD09GQ NDVI 250 m", fontsize=7)
        for j, m in enumerate(methods):
            flat[2 + j].imshow(fields[m], cmap=LST_CMAP, vmin=lo, vmax=hi, interpolation="nearest")
            flat[2 + j].set_title(label(m), fontsize=7)
        fig.colorbar(im, ax=axes.ravel().tolist(), label="LST (K)", shrink=0.7, pad=0.01)
        fig.suptitle(f"{scene.attrs.get('tile')} {date}: {lst.shape[0]} x {lst.shape[1]} km at 250 m "
                     f"(rows {int(patches['row0'].values[k])}+, cols {int(patches['col0'].values[k])}+)",
                     fontsize=9)
        save_figure(fig, output)
    return Path(output)
