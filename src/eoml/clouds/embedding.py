"""clouds embedding: the Tile2Vec network, its training on a triplet store, and embeddings of tiles.

:class:`Tile2Vec` (Jean et al. 2019; Denby 2020) maps an RGB tile to a ``dim``-vector (100 in both
papers): ImageNet normalisation → a core backbone (:func:`eoml.core.backbones.build_backbone`:
ResNet-18/34, EfficientNet-Lite0 ..., ImageNet or random weights, cut at a named depth) → global
average pooling → one linear layer to ``dim``. Inputs are tiles ``(N, 3, H, W)`` scaled to
[0, 1]; the ImageNet mean / standard deviation normalisation is part of the network (not of its
state dict), whatever the weights. Every BatchNorm of the backbone uses PyTorch's momentum 0.1
(EfficientNet-Lite0 ships TensorFlow's 0.01, whose running statistics would barely move in a
short training).

:func:`train_tile2vec` trains it on a triplet store (:mod:`eoml.clouds.tiles`) with core's
:class:`~eoml.core.tasks.TripletTask` (margin loss on squared — convml-tt — or Euclidean —
tile2vec — distances, optional L2 penalty on the embeddings' norms) through
:func:`eoml.core.training.train_task`: the ``(seed, epoch)`` data order, resumable fingerprinted
checkpoints in ``ckpt_dir``, early stopping, and the best validation epoch (lowest ``val_loss``
on the triplets of the held-out scenes) kept. With ``augment`` each of the three tiles of a
training triplet gets its own random quarter turn and left-right flip (the 8 symmetries of a
square; :func:`eoml.core.data.flip_rotate`, drawn in the order anchor, neighbour, distant from
the sample seed), as tile2vec's ``RandomFlipAndRotate``: cloud fields have no preferred
orientation at these scales. ``out_dir`` receives ``model.pt`` (kind :data:`MODEL_KIND`) and
``history.csv`` (:data:`HISTORY_COLUMNS`: the loss and, per epoch, the mean anchor–neighbour and
anchor–distant distances of the loss and the fraction of triplets meeting the margin).

:func:`embed` maps uint8 tiles ``(n, y, x, 3)`` of any size to float32 embeddings ``(n, dim)``,
resizing them to the model's tile size first (:func:`eoml.clouds.tiles.resize_tiles`).

References: Jean et al. (2019) "Tile2Vec: unsupervised representation learning for spatially
distributed data", AAAI; Denby (2020) "Discovering the importance of mesoscale cloud organization
through unsupervised classification", GRL 47; the tile2vec and convml-tt code.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from eoml.clouds.tiles import SPLITS, TILES, open_triplets, resize_tiles
from eoml.core.backbones import (
    BACKBONES,
    BN_MOMENTUM,
    IMAGENET_MEAN,
    IMAGENET_STD,
    Backbone,
    ImageNetNormalize,
    build_backbone,
    min_input_size,
    set_batchnorm_momentum,
)
from eoml.core.config import plain_json
from eoml.core.data import flip_rotate, sample_key
from eoml.core.errors import ConfigError, InputFileError
from eoml.core.io import array_digest
from eoml.core.modelfile import ModelFile, load_network, save_model_file
from eoml.core.settings import required_keys
from eoml.core.tasks import TRIPLET_DISTANCES, TripletTask
from eoml.core.training import (
    HISTORY_COLUMNS as CORE_HISTORY_COLUMNS,
)
from eoml.core.training import (
    TRAINING_KEYS,
    save_training_outputs,
    select_device,
    train_task,
    training_job,
)

log = logging.getLogger(__name__)

__all__ = [
    "CONFIG_KEYS",
    "FEATURES_KIND",
    "HISTORY_COLUMNS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MODEL_KIND",
    "TRAINING_SECTION_KEYS",
    "ImageNetFeatures",
    "Tile2Vec",
    "TripletData",
    "TripletDataset",
    "build_tile2vec",
    "embed",
    "embed_tiles",
    "load_features_model",
    "load_tile2vec",
    "load_triplet_data",
    "save_features_model",
    "split_tiles",
    "train_tile2vec",
]

MODEL_KIND = "clouds.tile2vec"
#: kind of the untrained-features model file (the comparison's floor)
FEATURES_KIND = "clouds.features"
#: keys of the embedding config section (all required: the schema fills them)
CONFIG_KEYS = ("backbone", "weights", "weights_path", "cut", "dim", "margin", "distance", "l2", "augment",
               "training")
#: keys of its ``training`` section: core's, plus mixed precision on a GPU
TRAINING_SECTION_KEYS = (*TRAINING_KEYS, "mixed_precision")
#: the triplet task's epoch metrics (core's TripletTask)
_METRICS = [f"{stage}_{m}" for stage in ("train", "val") for m in ("dist_neighbour", "dist_distant", "satisfied")]
HISTORY_COLUMNS = [*CORE_HISTORY_COLUMNS, *_METRICS]
#: salt of the per-sample augmentation seeds (eoml.core.training.DataModule)
SAMPLE_SALT = 0x7113


# --------------------------------------------------------------------------------------------
# the network
# --------------------------------------------------------------------------------------------
class Tile2Vec(nn.Module):
    """ImageNet normalisation → ``base`` → global average pooling → ``head`` (linear to ``dim``).

    Input: tiles ``(N, 3, H, W)`` in [0, 1]; output: embeddings ``(N, dim)``. Parameter names:
    ``base.<full network's layer names>``, ``head.weight``, ``head.bias``.
    """

    def __init__(self, base: Backbone, dim: int, *, backbone: str, cut: str, weights: str):
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.base = base
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.head = nn.Linear(int(base.out_channels), int(dim))
        self.backbone, self.cut, self.weights = backbone, cut, weights

    @property
    def dim(self) -> int:
        return int(self.head.out_features)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Globally pooled backbone features ``(N, C)`` of tiles in [0, 1]."""
        return self.pool(self.base((x - self.mean) / self.std))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def embedding(self, x: torch.Tensor) -> torch.Tensor:
        """The embedding ``(N, dim)`` (the network's output)."""
        return self(x)


class ImageNetFeatures(nn.Module):
    """The floor of the comparison: ImageNet normalisation → an untrained ``base`` (ImageNet or
    random weights, as built) → global average pooling; the embedding is the ``(N, C)`` pooled
    features. Parameter names: ``base.<full network's layer names>``."""

    def __init__(self, base: Backbone, *, backbone: str, cut: str, weights: str):
        super().__init__()
        self.normalize = ImageNetNormalize()
        self.base = base
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.backbone, self.cut, self.weights = backbone, cut, weights

    @property
    def dim(self) -> int:
        return int(self.base.out_channels)

    def embedding(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.base(self.normalize(x)))

    forward = embedding


def build_tile2vec(backbone: str, weights: str, cut: str, dim: int,
                   weights_path: str | Path | None = None) -> Tile2Vec:
    """A Tile2Vec network: core backbone ``backbone`` with ``weights`` (``imagenet`` / ``random``;
    ImageNet checkpoints from ``weights_path`` or torchvision's cache, never downloaded: a missing
    file is core's :class:`~eoml.core.backbones.MissingWeightsError` naming it; EfficientNet-Lite0's
    ship with its package) cut at ``cut`` (a named depth or layer), and a linear head to ``dim``."""
    if int(dim) < 1:
        raise ConfigError(f"dim must be >= 1 (got {dim})")
    base = build_backbone(backbone, weights, cut, in_channels=3, weights_path=weights_path)
    set_batchnorm_momentum(base, BN_MOMENTUM)
    return Tile2Vec(base, int(dim), backbone=backbone, cut=cut, weights=weights)


def load_tile2vec(path: str | Path, device: str | torch.device | None = None) -> tuple[Tile2Vec, ModelFile]:
    """A trained Tile2Vec (eval mode, on ``device``: CUDA when visible unless told otherwise) and its
    model-file record; :class:`InputFileError` naming the file when it is unusable. Needs no
    ImageNet checkpoint (the network is rebuilt with random weights, then loaded)."""
    def build(record: ModelFile):
        arch = record.arch
        return build_tile2vec(arch["backbone"], "random", arch["cut"], int(arch["dim"])), None

    net, record, _ = load_network(path, MODEL_KIND, build, device)
    if not isinstance(record.arch.get("tile_px"), int):
        raise InputFileError(path, "Tile2Vec model file lacks its tile size (arch.tile_px)")
    return net, record


def save_features_model(out_dir: str | Path, cfg: Mapping[str, Any], tile_px: int) -> Path:
    """Write ``out_dir/model.pt`` (kind :data:`FEATURES_KIND`): the backbone of ``cfg`` (``backbone,
    weights, weights_path, cut``: the embedding section's) with its initial weights, untrained —
    the ImageNet-features floor of the comparison — for tiles of ``tile_px``."""
    s = required_keys(cfg, ("backbone", "weights", "weights_path", "cut"), "embedding")
    if s["backbone"] not in BACKBONES:
        raise ConfigError(f"embedding.backbone: {s['backbone']!r} is not one of {BACKBONES}")
    if int(tile_px) < min_input_size(s["backbone"]):
        raise ConfigError(f"tile_px {tile_px} is below the {min_input_size(s['backbone'])} px that "
                          f"{s['backbone']} needs")
    base = build_backbone(s["backbone"], s["weights"], s["cut"], in_channels=3, weights_path=s["weights_path"])
    net = ImageNetFeatures(base, backbone=s["backbone"], cut=s["cut"], weights=s["weights"])
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    path = Path(out_dir) / "model.pt"
    save_model_file(path, kind=FEATURES_KIND, weights=net.state_dict(),
                    arch={"backbone": s["backbone"], "cut": s["cut"], "tile_px": int(tile_px), "in_channels": 3,
                          "dim": net.dim},
                    norm={"scale": 1.0 / 255.0, "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)},
                    settings={"config": plain_json(dict(s)), "trained": False})
    log.info("wrote %s: %s %s weights cut at %s, %d features, untrained", path, s["backbone"], s["weights"],
             s["cut"], net.dim)
    return path


def load_features_model(path: str | Path, device: str | torch.device | None = None
                        ) -> tuple[ImageNetFeatures, ModelFile]:
    """The untrained-features network of :func:`save_features_model` (eval mode, on ``device``)."""
    def build(record: ModelFile):
        arch = record.arch
        base = build_backbone(arch["backbone"], "random", arch["cut"], in_channels=3)
        return ImageNetFeatures(base, backbone=arch["backbone"], cut=arch["cut"], weights="loaded"), None

    net, record, _ = load_network(path, FEATURES_KIND, build, device)
    return net, record


# --------------------------------------------------------------------------------------------
# embeddings
# --------------------------------------------------------------------------------------------
@torch.no_grad()
def embed_tiles(net: Tile2Vec, tiles: np.ndarray, batch: int, device: str | torch.device | None = None
                ) -> np.ndarray:
    """Embeddings float32 ``(n, dim)`` (``net.embedding``) of uint8 tiles ``(n, y, x, 3)`` already of
    the network's size, in batches of ``batch`` with ``net`` in eval mode on ``device`` (its mode and device are
    restored)."""
    tiles = np.asarray(tiles)
    if tiles.dtype != np.uint8 or tiles.ndim != 4 or tiles.shape[-1] != 3:
        raise ValueError(f"tiles must be uint8 (n, y, x, 3), got {tiles.dtype} {tiles.shape}")
    if int(batch) < 1:
        raise ValueError(f"batch must be >= 1 (got {batch})")
    device = select_device(device)
    was_training, was_on = net.training, next(net.parameters()).device
    net.eval().to(device)
    try:
        out = [np.zeros((0, net.dim), dtype=np.float32)]
        for start in range(0, tiles.shape[0], int(batch)):
            x = torch.from_numpy(np.ascontiguousarray(tiles[start:start + int(batch)].transpose(0, 3, 1, 2)))
            out.append(net.embedding(x.to(device=device, dtype=torch.float32) / 255.0).float().cpu().numpy())
        return np.concatenate(out)
    finally:
        net.train(was_training).to(was_on)


def embed(model_path: str | Path, tiles: np.ndarray, batch: int,
          device: str | torch.device | None = None) -> np.ndarray:
    """Embeddings float32 ``(n, dim)`` of uint8 tiles ``(n, y, x, 3)`` by the embedding model of
    ``model_path`` (:func:`eoml.clouds.embedders.load_embedder`); tiles of another size than the model's are resized to
    it first (:func:`eoml.clouds.tiles.resize_tiles`)."""
    from eoml.clouds.embedders import load_embedder

    net, record = load_embedder(model_path, device)
    return embed_tiles(net, resize_tiles(np.asarray(tiles), int(record.arch["tile_px"])), batch, device)


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------
@dataclass
class TripletData:
    """A triplet store in memory: ``tiles`` name → uint8 ``(N, 3, H, W)`` (anchor, neighbour,
    distant), ``splits`` triplet indices per split, ``digest`` (of the tiles and the split) and the
    store's ``path``."""

    tiles: dict[str, torch.Tensor]
    splits: dict[str, np.ndarray]
    digest: str
    path: str = ""

    @property
    def tile_px(self) -> int:
        return int(self.tiles["anchor"].shape[-1])


def load_triplet_data(store: str | Path) -> TripletData:
    """Read a triplet store (:func:`eoml.clouds.tiles.open_triplets`, checked there) into memory."""
    ds = open_triplets(store)
    arrays = {name: np.asarray(ds[name].transpose("triplet", "band", "y", "x").values) for name in TILES}
    split = np.asarray(ds["split"].values)
    return TripletData(
        tiles={name: torch.from_numpy(np.ascontiguousarray(a)) for name, a in arrays.items()},
        splits={name: np.flatnonzero(split == code).astype(np.int64) for code, name in enumerate(SPLITS)},
        digest=array_digest(*arrays.values(), split),
        path=str(store),
    )


class TripletDataset(Dataset):
    """``{"anchor", "neighbour", "distant"}``: float32 ``(3, H, W)`` tiles in [0, 1] of the triplets
    ``index``. Keys are ``i`` or ``(i, sample seed)``; with ``augment`` and a seed, each tile gets
    its own random quarter turn and left-right flip (:func:`eoml.core.data.flip_rotate`), drawn
    from one generator seeded with the sample seed, in the order anchor, neighbour, distant."""

    def __init__(self, tiles: Mapping[str, torch.Tensor], index: np.ndarray, augment: bool = False):
        self.tiles, self.index, self.augment = dict(tiles), np.asarray(index, dtype=np.int64), bool(augment)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, key) -> dict[str, torch.Tensor]:
        i, seed = sample_key(key)
        j = int(self.index[i])
        out = {name: self.tiles[name][j].to(torch.float32) / 255.0 for name in TILES}
        if self.augment and seed is not None:
            rng = np.random.default_rng(seed)
            out = {name: flip_rotate({name: out[name]}, rng, rotate=True, flips=("x",))[name] for name in TILES}
        return out


def split_tiles(data: TripletData, split: str) -> torch.Tensor:
    """uint8 tiles ``(3n, 3, T, T)`` of the ``n`` triplets of ``split``: their anchors, then their
    neighbours, then their distant tiles."""
    index = torch.from_numpy(data.splits[split])
    return torch.cat([data.tiles[name][index] for name in TILES])


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------
def _settings(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The embedding section, checked (every key required: the schema fills them)."""
    s = required_keys(cfg, CONFIG_KEYS, "embedding")
    s["training"] = required_keys(s["training"], TRAINING_SECTION_KEYS, "embedding.training")
    if s["backbone"] not in BACKBONES:
        raise ConfigError(f"embedding.backbone: {s['backbone']!r} is not one of {BACKBONES}")
    if s["distance"] not in TRIPLET_DISTANCES:
        raise ConfigError(f"embedding.distance: {s['distance']!r} is not one of {TRIPLET_DISTANCES}")
    if int(s["dim"]) < 1:
        raise ConfigError(f"embedding.dim must be >= 1 (got {s['dim']})")
    if float(s["margin"]) < 0 or float(s["l2"]) < 0:
        raise ConfigError(f"embedding.margin ({s['margin']}) and embedding.l2 ({s['l2']}) must not be negative")
    return {**s, "dim": int(s["dim"]), "margin": float(s["margin"]), "l2": float(s["l2"]),
            "augment": bool(s["augment"]),
            "weights_path": None if s["weights_path"] is None else str(s["weights_path"])}


def train_tile2vec(triplets_store: str | Path, out_dir: str | Path, ckpt_dir: str | Path,
                   cfg: Mapping[str, Any], seed: int) -> Path:
    """Train a Tile2Vec on a triplet store; write ``out_dir/model.pt`` and ``out_dir/history.csv``;
    return the model file's path (module docstring).

    ``cfg`` = the embedding section: ``backbone, weights, weights_path, cut, dim, margin, distance,
    l2, augment, training`` (``training``: core's keys and ``mixed_precision``). ``ckpt_dir``
    (outside ``out_dir``) receives the resumable checkpoints and logs. The network is built before
    the store is read, so a missing ImageNet checkpoint fails the job at once. Triplets with split
    ``train`` train, ``val`` validate; either empty is an :class:`InputFileError` naming the store.
    """
    s = _settings(cfg)
    training = s["training"]
    core_training = {k: training[k] for k in TRAINING_KEYS}
    out_dir, ckpt_dir, settings, seed = training_job(out_dir, ckpt_dir, core_training, "embedding.training", seed)
    net = build_tile2vec(s["backbone"], s["weights"], s["cut"], s["dim"], s["weights_path"])

    data = load_triplet_data(triplets_store)
    for split in SPLITS:
        if len(data.splits[split]) == 0:
            raise InputFileError(triplets_store, f"the {split} split holds no triplet (hold out at least one scene "
                                                 "for validation)")
    if data.tile_px < min_input_size(s["backbone"]):
        raise ConfigError(f"tile_px {data.tile_px} is below the {min_input_size(s['backbone'])} px that "
                          f"{s['backbone']} needs")
    train_ds = TripletDataset(data.tiles, data.splits["train"], augment=s["augment"])
    val_ds = TripletDataset(data.tiles, data.splits["val"])
    task = TripletTask.from_config(net, settings, margin=s["margin"], l2=s["l2"], distance=s["distance"])
    config = plain_json(s)
    fingerprint = {"config": config, "data": data.digest,
                   "weights_path": s["weights_path"] if s["weights"] == "imagenet" else None}
    # a last batch of one triplet is kept: its three tiles go through the network together
    result = train_task(task, train_ds, val_ds, ckpt_dir=ckpt_dir, training_cfg=settings, seed=seed,
                        fingerprint=fingerprint, sample_salt=SAMPLE_SALT,
                        history_columns=_METRICS, mixed_precision=training["mixed_precision"])
    history = result.history[HISTORY_COLUMNS]
    model_path = save_training_outputs(
        out_dir, history, kind=MODEL_KIND, weights=result.weights,
        arch={"backbone": s["backbone"], "cut": s["cut"], "dim": s["dim"], "tile_px": data.tile_px, "in_channels": 3},
        norm={"scale": 1.0 / 255.0, "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)},
        settings={"seed": seed, "best_epoch": int(result.best_epoch), "epochs_run": int(result.epochs_run),
                  "config": config, "data_digest": data.digest, "store": data.path,
                  "n_triplets": {k: len(v) for k, v in data.splits.items()}},
    )
    row = history.set_index("epoch").loc[result.best_epoch]
    log.info("wrote %s: best epoch %d of %d, val_loss %.4f, val distances neighbour %.4g / distant %.4g",
             model_path, result.best_epoch, result.epochs_run, row["val_loss"], row["val_dist_neighbour"],
             row["val_dist_distant"])
    return model_path
