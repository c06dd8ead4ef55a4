"""The triplet store of one Tile2Vec training source (a workflow step of its own).

:func:`make_triplets` — ``goes``: every GOES scene; ``modis``: every Kaggle-layout image — with
whole scenes split into train / validation (:func:`eoml.clouds.tiles.split_scenes`) and the
triplets drawn by :func:`eoml.clouds.tiles.sample_triplets`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eoml.clouds.ingest import load_scenes
from eoml.clouds.tiles import sample_triplets, split_scenes, write_triplets
from eoml.core.errors import InputFileError
from eoml.core.settings import required_keys

__all__ = ["make_triplets"]


def make_triplets(stores: Sequence[str | os.PathLike], output: str | os.PathLike, cfg: Mapping[str, Any]) -> Path:
    """Triplets of the scenes in ``stores`` (``cfg``: the ``triplets`` section and ``seed``)."""
    t = required_keys(cfg["triplets"], ("tile_px", "n_triplets", "neighbour_offset", "min_valid", "val_fraction"),
                      "clouds.triplets")
    seed = int(cfg["seed"])
    scenes = load_scenes(stores)
    if len(scenes) < 2:
        raise InputFileError(Path(stores[0]), f"triplets need at least two scenes (a distant tile comes from another "
                                              f"scene), found {len(scenes)}")
    splits = split_scenes([s.id for s in scenes], float(t["val_fraction"]), seed)
    ds = sample_triplets(scenes, n=int(t["n_triplets"]), tile_px=int(t["tile_px"]),
                         neighbour_offset=float(t["neighbour_offset"]), seed=seed, min_valid=float(t["min_valid"]),
                         splits=splits)
    return write_triplets(ds, output, sources=[], config={"triplets": dict(t), "seed": seed})
