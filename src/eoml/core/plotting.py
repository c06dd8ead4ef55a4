"""Paper-quality figure style and atomic figure output, shared by every study.

Figures are drawn with the non-interactive Agg backend (workflow jobs have no display). Use::

    with paper_style():
        fig, ax = plt.subplots(figsize=(3.5, 2.5))
        ...
        save_figure(fig, "results/x/figure.png")   # also writes results/x/figure.svg
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (backend must be chosen first)
from cycler import cycler  # noqa: E402

from eoml.core.io import atomic_path  # noqa: E402

PNG_DPI = 200

# Okabe & Ito (2008) colour-blind-safe palette (black first is kept for observations).
OKABE_ITO = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
)
OBSERVED_COLOR = "#000000"

PAPER_RC = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica", "Liberation Sans"],
    "mathtext.default": "regular",
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "legend.fontsize": 7.5,
    "legend.frameon": False,
    "axes.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": cycler(color=list(OKABE_ITO)),
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.minor.width": 0.4,
    "ytick.minor.width": 0.4,
    "xtick.major.size": 3,
    "ytick.major.size": 3,
    "lines.linewidth": 1.0,
    "lines.markersize": 3,
    "grid.linewidth": 0.4,
    "figure.constrained_layout.use": True,
    "figure.dpi": 100,
    "savefig.dpi": PNG_DPI,
    "image.cmap": "viridis",
    "svg.fonttype": "none",  # text stays text in the SVG (editable)
    "svg.hashsalt": "eoml",  # deterministic SVG ids
}


@contextlib.contextmanager
def paper_style() -> Iterator[None]:
    """Temporarily apply eoml's paper style (small sans-serif fonts, thin axes, constrained
    layout, colour-blind-safe colour cycle); the previous rcParams are restored on exit."""
    with matplotlib.rc_context(PAPER_RC):
        yield


def model_colors(names: Iterable[str], fixed: Mapping[str, str] | None = None) -> dict[str, str]:
    """Stable colour for each name.

    ``observed`` is black; names in ``fixed`` (a study's own palette, so a model keeps its colour
    in every figure of the study) get their colour; other names get the remaining palette colours
    in sorted-name order (cycling if there are many), so the mapping depends only on the set of
    names, not on their order.
    """
    names = list(dict.fromkeys(names))
    known = {"observed": OBSERVED_COLOR, **(fixed or {})}
    out = {n: known[n] for n in names if n in known}
    used = set(out.values())
    free = [c for c in OKABE_ITO if c not in used] or list(OKABE_ITO)
    others = sorted(n for n in names if n not in known)
    for i, name in enumerate(others):
        out[name] = free[i % len(free)]
    return {n: out[n] for n in names}


def save_figure(fig, path: str | Path) -> tuple[Path, Path]:
    """Write ``fig`` as a PNG (200 dpi) at ``path`` and as an SVG with the same stem beside it,
    each atomically (temporary sibling, then rename), and close the figure.

    Returns ``(png_path, svg_path)``.
    """
    png = Path(path)
    svg = png.with_suffix(".svg")
    try:
        with atomic_path(png) as tmp:
            fig.savefig(tmp, format="png", dpi=PNG_DPI, metadata={"Software": None})
        with atomic_path(svg) as tmp:
            fig.savefig(tmp, format="svg", metadata={"Date": None})
    finally:
        plt.close(fig)
    return png, svg
