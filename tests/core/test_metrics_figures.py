"""core.figures: the shared confusion-matrix and loss-curve figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eoml.core.figures import confusion_matrices_figure, confusion_panel, loss_curves_figure
from eoml.core.plotting import paper_style, save_figure


def _history(best: int, n: int = 8, mge: bool = False) -> pd.DataFrame:
    e = np.arange(n)
    val = 1.0 + (e - best) ** 2 / 10.0
    h = pd.DataFrame({"epoch": e, "train_loss": 1.0 / (e + 1), "val_loss": val, "lr": 1e-3})
    if mge:
        h["train_mge"], h["val_mge"] = 0.5 / (e + 1), 0.6 / (e + 1)
    return h


def test_loss_curves_mark_best_epoch_and_scale(tmp_path):
    histories = {"a": _history(best=3), "b": _history(best=5, mge=True)}
    with paper_style():
        fig, axes = loss_curves_figure(histories, [("loss", "total"), ("mge", "MGE")], log_scale=True,
                                       empty_notes={"mge": "none"})
        assert [ax.get_yscale() for ax in axes] == ["log", "log"]
        # per model on the loss panel: train (dashed), val (solid), best-epoch dot at the val minimum
        dots = [ln for ln in axes[0].get_lines() if ln.get_marker() == "o"]
        assert sorted(float(d.get_xdata()[0]) for d in dots) == [3.0, 5.0]
        assert sorted(float(d.get_ydata()[0]) for d in dots) == [1.0, 1.0]
        assert len(axes[1].get_lines()) == 3  # only "b" logged the MGE term
        png, svg = save_figure(fig, tmp_path / "loss.png")
    assert png.stat().st_size > 5_000 and svg.exists()


def test_loss_curves_given_best_epoch_linear_scale_and_empty_note():
    with paper_style():
        fig, axes = loss_curves_figure(_history(best=2), [("loss", "loss"), ("mse", "MSE")],
                                       best_epochs={"model": 6}, log_scale=False)
        dots = [ln for ln in axes[0].get_lines() if ln.get_marker() == "o"]
        assert [float(d.get_xdata()[0]) for d in dots] == [6.0]
        assert axes[0].get_yscale() == "linear"
        assert [t.get_text() for t in axes[1].texts] == ["not logged"]
    with pytest.raises(ValueError, match="epoch"):
        loss_curves_figure({"x": pd.DataFrame({"val_loss": [1.0]})})


def test_confusion_grid_and_panel(tmp_path):
    m = np.array([[0.9, 0.1], [0.3, 0.7]])
    empty_row = np.array([[1.0, 0.0], [np.nan, np.nan]])
    matrices = {("imagenet", "s1"): m, ("imagenet", "s2"): m, ("random", "s1"): empty_row}
    with paper_style():
        fig, axes = confusion_matrices_figure(matrices, ["water", "ice"], true_label="chart")
        assert axes.shape == (2, 2)
        assert not axes[1, 1].get_visible()  # no (random, s2) matrix
        assert [t.get_text() for t in axes[0, 0].texts] == ["90.0 %", "10.0 %", "30.0 %", "70.0 %"]
        assert len(axes[1, 0].texts) == 2  # the empty reference row is left blank
        assert axes[1, 0].get_ylabel() == "random\nchart" and axes[0, 1].get_title() == "s2"
        png, _ = save_figure(fig, tmp_path / "conf.png")
    assert png.stat().st_size > 5_000
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="class names"):
        confusion_panel(ax, np.eye(3), ["a", "b"])
    plt.close(fig)


def test_confusion_panel_without_cell_text_for_many_classes():
    import matplotlib.pyplot as plt

    m = np.eye(30)
    with paper_style():
        fig, ax = plt.subplots()
        image = confusion_panel(ax, m, [f"c{i}" for i in range(30)], annotate=False)
        assert len(ax.texts) == 0 and image.get_array().max() == 100
        plt.close(fig)


def test_confusion_panel_draws_rectangular_matrices_with_their_column_names():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    m = np.array([[0.5, 0.5], [1.0, 0.0], [0.25, 0.75]])
    confusion_panel(ax, m, ["a", "b", "c"], column_names=["C0", "C1"])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["C0", "C1"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    assert sorted(t.get_text() for t in ax.texts)[:2] == ["0.0 %", "100.0 %"]
    with pytest.raises(ValueError, match="3 class names and 3 columns"):
        confusion_panel(ax, m, ["a", "b", "c"])
    plt.close(fig)
