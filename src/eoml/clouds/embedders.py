"""Every embedding model of the clouds study, loaded by the kind its model file names.

The analysis (:func:`eoml.clouds.evaluate.analyse_model`) embeds labelled tiles with any of:

=========================== ===================================================== =====================
kind                        model                                                 loader
=========================== ===================================================== =====================
``clouds.tile2vec``         Tile2Vec (GOES or MODIS triplets)                     :func:`eoml.clouds.embedding.load_tile2vec`
``clouds.features``         the untrained (ImageNet) backbone: the floor          :func:`eoml.clouds.embedding.load_features_model`
``clouds.deepcluster``      DeepCluster (whitened, L2-normalised features)        :func:`eoml.clouds.deepcluster.load_deepcluster`
``clouds.dcae``             the convolutional autoencoder (flattened latent)      :func:`eoml.clouds.autoencoder.load_dcae`
=========================== ===================================================== =====================

Each network has ``.dim`` and ``.embedding(x)`` (tiles ``(N, 3, T, T)`` in [0, 1] → ``(N, dim)``)
and its model file ``arch["tile_px"]`` (``T``). A module of its own, so that training one model
does not depend on the code of the others (the workflow reruns a step when its code changes).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from eoml.clouds import autoencoder, deepcluster, embedding
from eoml.core.errors import InputFileError
from eoml.core.modelfile import ModelFile, load_model_file

__all__ = ["LOADERS", "load_embedder"]

#: the loader of each embedding kind
LOADERS = {
    embedding.MODEL_KIND: embedding.load_tile2vec,
    embedding.FEATURES_KIND: embedding.load_features_model,
    deepcluster.MODEL_KIND: deepcluster.load_deepcluster,
    autoencoder.MODEL_KIND: autoencoder.load_dcae,
}


def load_embedder(path: str | Path, device: str | torch.device | None = None) -> tuple[nn.Module, ModelFile]:
    """Any embedding model of the study, by the kind its model file names: the network (eval
    mode; ``.dim``, ``.embedding(x)``) and its record (``arch["tile_px"]`` the tile size it
    embeds). :class:`InputFileError` naming the file for another kind or a missing tile size."""
    kind = load_model_file(path).kind
    if kind not in LOADERS:
        raise InputFileError(path, f"model kind {kind!r} is not an embedding of the clouds study "
                                   f"({', '.join(sorted(LOADERS))})")
    net, record = LOADERS[kind](path, device)
    if not isinstance(record.arch.get("tile_px"), int):
        raise InputFileError(path, "model file lacks its tile size (arch.tile_px)")
    return net, record
