"""clouds DeepCluster: a network trained on the k-means clusters of its own features, and its clusters.

DeepCluster (Caron et al. 2018) learns image features without labels by alternating clustering and
classification. :class:`DeepCluster` is ImageNet normalisation → a core backbone
(:func:`eoml.core.backbones.build_backbone`: EfficientNet-Lite0, ResNet ..., ImageNet or random
weights, cut at a named depth) → global average pooling → the features ``(N, C)``, plus a *top
layer* (linear ``C → k``) that classifies them into the current clusters. Every BatchNorm uses
PyTorch's momentum 0.1 (:func:`eoml.core.backbones.set_batchnorm_momentum`).

Each epoch of :func:`train_deepcluster` starts (:class:`DeepClusterTask`, from the weights at the
epoch's start, in eval mode, on tiles without augmentation) by

1. the features of every training tile → PCA-whitening to ``pca_dim`` components (capped at
   ``n − 1`` tiles and ``C`` channels; each component divided by the square root of its variance,
   floored at 10⁻⁶ of the largest) → L2 normalisation (:func:`cluster_features`, scikit-learn's
   PCA) → k-means with ``k`` clusters (scikit-learn, k-means++ seeded by ``(seed, epoch)``): the
   cluster of each tile is its *pseudo-label*; validation tiles get the label of the nearest
   centroid;
2. the top layer re-initialised (weights normal with standard deviation 0.01, biases 0, drawn from
   a generator seeded by ``(seed, epoch)``) and its optimiser state cleared — the classes of the
   previous epoch mean nothing now;
3. the cross-entropy weighted by inverse cluster frequency (a cluster of ``n_c`` of the ``n``
   tiles weighs ``n / (k' n_c)``, ``k'`` non-empty clusters): Caron et al. sample images uniformly
   over the clusters so that a big cluster does not dominate; these weights are that sampling's
   expectation, with core's seeded ``(seed, epoch)`` data order kept.

The epoch then trains the backbone and the top layer on the pseudo-labels (with ``augment``, each
tile gets a random quarter turn and left-right flip, :func:`eoml.core.data.flip_rotate`, from its
per-sample seed). Everything an epoch's clustering depends on is the weights at its start and
``(seed, epoch)``, so a job resumed from ``last.ckpt`` continues exactly as the uninterrupted run
(the checkpoints also keep every epoch's training pseudo-labels, for the NMI below). The
validation loss is against other targets every epoch and does not select a model: the kept model
is the last epoch's (core's ``monitor="last"``, no early stopping). ``history.csv`` holds, per
epoch, core's columns, the pseudo-label accuracy / macro F1 (``train_acc`` ...), the number of
empty clusters and ``nmi_previous``, the normalised mutual information between this epoch's and
the previous epoch's pseudo-labels of the training tiles (Caron et al.'s Fig. 2 stability curve; it
approaches 1 as the clusters settle).

After training, the clustering of the final features (as the next epoch would compute it) is
stored in the network as persistent buffers — the PCA mean, the whitening matrix
(``(pca_dim, C)``: principal axes divided by their standard deviations) and the centroids — so a
loaded model gives :meth:`DeepCluster.embedding` (the whitened, L2-normalised features, the space
the clusters live in) and :meth:`DeepCluster.assign` (the nearest centroid's cluster) without its
training data. ``out_dir`` receives ``model.pt`` (kind :data:`MODEL_KIND`) and ``history.csv``
(:data:`HISTORY_COLUMNS`).

Training tiles are the anchor, neighbour and distant tiles of the ``train`` triplets of a triplet
store (:func:`eoml.clouds.embedding.load_triplet_data`, :func:`eoml.clouds.embedding.split_tiles`), validation tiles those
of the ``val`` triplets. :func:`deepcluster_examples_figure` / :func:`plot_deepcluster_examples`
draw a few tiles of each cluster (one row per cluster).

References: Caron, Bojanowski, Joulin & Douze (2018) "Deep clustering for unsupervised learning
of visual features", ECCV (and the facebookresearch/deepcluster code: PCA-whitening to 256
dimensions, L2 normalisation, k-means, re-initialised top layer, uniform sampling over clusters,
NMI between epochs); the LMD/IPSL internship study (2021) of trade-wind cloud organisation, which
applied it to Sugar, Gravel, Fish and Flower tiles with k = 7.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import normalized_mutual_info_score
from torch import nn

from eoml.clouds.embedding import (
    TripletData,
    load_triplet_data,
    split_tiles,
)
from eoml.clouds.tiles import SPLITS
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
from eoml.core.data import ImageDataset
from eoml.core.errors import ConfigError, InputFileError
from eoml.core.modelfile import ModelFile, load_network
from eoml.core.plotting import paper_style, save_figure
from eoml.core.settings import required_keys
from eoml.core.tasks import ClassificationTask
from eoml.core.training import (
    HISTORY_COLUMNS as CORE_HISTORY_COLUMNS,
)
from eoml.core.training import (
    MONITOR_LAST,
    TRAINING_KEYS,
    save_training_outputs,
    select_device,
    train_task,
    training_job,
)

log = logging.getLogger(__name__)

__all__ = [
    "CONFIG_KEYS",
    "HISTORY_COLUMNS",
    "MODEL_KIND",
    "TRAINING_SECTION_KEYS",
    "Clustering",
    "DeepCluster",
    "DeepClusterTask",
    "build_deepcluster",
    "cluster_features",
    "cluster_weights",
    "deepcluster_examples_figure",
    "load_deepcluster",
    "pca_components",
    "plot_deepcluster_examples",
    "train_deepcluster",
]

MODEL_KIND = "clouds.deepcluster"
#: keys of the deepcluster config section (all required: the schema fills them)
CONFIG_KEYS = ("backbone", "weights", "weights_path", "cut", "k", "pca_dim", "augment", "training")
#: keys of its ``training`` section: core's, plus mixed precision on a GPU
TRAINING_SECTION_KEYS = (*TRAINING_KEYS, "mixed_precision")
#: the epoch metrics: pseudo-label accuracy and macro F1 (core's ClassificationTask), clustering
_METRICS = ["train_acc", "train_f1", "val_acc", "val_f1", "nmi_previous", "empty_clusters"]
HISTORY_COLUMNS = [*CORE_HISTORY_COLUMNS, *_METRICS]
#: salts: per-sample augmentation seeds; the k-means and the top layer of each epoch
SAMPLE_SALT = 0xDC01
_KMEANS_SALT, _TOP_SALT = 0xDC02, 0xDC03
#: standard deviation of the re-initialised top layer's weights (Caron et al.'s code)
TOP_INIT_STD = 0.01
#: whitening floor: a component's variance is at least this fraction of the largest
VARIANCE_FLOOR = 1e-6
#: checkpoint entry holding the training pseudo-labels of every epoch done
_CKPT_ASSIGNMENTS = "deepcluster_assignments"

PathLike = str | os.PathLike


# --------------------------------------------------------------------------------------------
# clustering
# --------------------------------------------------------------------------------------------
@dataclass
class Clustering:
    """One DeepCluster clustering: ``mean`` ``(C,)`` and ``whitening`` ``(d, C)`` (features ``f`` →
    ``(f − mean) @ whitening.T``, then L2-normalised), ``centroids`` ``(k, d)`` and the ``labels``
    ``(n,)`` of the clustered features; float32 / int64 arrays."""

    mean: np.ndarray
    whitening: np.ndarray
    centroids: np.ndarray
    labels: np.ndarray

    def transform(self, features: np.ndarray) -> np.ndarray:
        """Whitened, L2-normalised features ``(n, d)`` (float64)."""
        z = (np.asarray(features, dtype=np.float64) - self.mean) @ self.whitening.T.astype(np.float64)
        return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)

    def assign(self, features: np.ndarray) -> np.ndarray:
        """The nearest centroid's cluster ``(n,)`` int64 of features ``(n, C)``."""
        z = self.transform(features)
        c = self.centroids.astype(np.float64)
        d2 = (z * z).sum(1, keepdims=True) - 2 * z @ c.T + (c * c).sum(1)
        return np.argmin(d2, axis=1).astype(np.int64)


def pca_components(n: int, channels: int, pca_dim: int) -> int:
    """The number of PCA components of ``n`` features of ``channels`` channels: ``pca_dim`` capped at
    ``n − 1`` and ``channels``."""
    return int(min(int(pca_dim), int(n) - 1, int(channels)))


def cluster_features(features: np.ndarray, k: int, pca_dim: int, seed: int) -> Clustering:
    """DeepCluster's clustering of features ``(n, C)``: PCA-whitening to ``pca_dim`` components
    (:func:`pca_components`), L2 normalisation, k-means with ``k`` clusters (scikit-learn, one
    k-means++ start seeded by ``seed``). Deterministic for given features and seed."""
    x = np.asarray(features, dtype=np.float64)
    n, channels = x.shape
    if int(k) < 2 or int(k) > n:
        raise ConfigError(f"deepcluster.k must be between 2 and the number of tiles clustered ({n}); got {k}")
    d = pca_components(n, channels, pca_dim)
    if d < 1:
        raise ConfigError(f"deepcluster: {n} tiles cannot be PCA-whitened (need at least 2)")
    pca = PCA(n_components=d, svd_solver="full").fit(x)
    variance = np.maximum(pca.explained_variance_, max(VARIANCE_FLOOR * float(pca.explained_variance_[0]), 1e-12))
    partial = Clustering(mean=pca.mean_.astype(np.float32),
                         whitening=(pca.components_ / np.sqrt(variance)[:, None]).astype(np.float32),
                         centroids=np.zeros((int(k), d), np.float32), labels=np.zeros(n, np.int64))
    z = partial.transform(x)
    kmeans = KMeans(n_clusters=int(k), init="k-means++", n_init=1, random_state=int(seed)).fit(z)
    partial.centroids = kmeans.cluster_centers_.astype(np.float32)
    partial.labels = kmeans.labels_.astype(np.int64)
    return partial


def _seed(seed: int, epoch: int, salt: int) -> int:
    """A 32-bit seed of ``(seed, epoch, salt)`` (stable across runs and resumes)."""
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(epoch), int(salt)]).generate_state(1)[0])


def cluster_weights(labels: np.ndarray, k: int) -> np.ndarray:
    """Inverse cluster frequencies ``n / (k' n_c)`` (0 for empty clusters) of pseudo-labels."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=int(k)).astype(np.float64)
    nonempty = counts > 0
    weights = np.zeros(int(k))
    weights[nonempty] = counts.sum() / (nonempty.sum() * counts[nonempty])
    return weights


# --------------------------------------------------------------------------------------------
# the network
# --------------------------------------------------------------------------------------------
class DeepCluster(nn.Module):
    """ImageNet normalisation → ``base`` → global average pooling (the features ``(N, C)``) → ``top``
    (linear to ``k``), with the final clustering as persistent buffers ``pca_mean`` ``(C,)``,
    ``pca_whitening`` ``(pca_dim, C)`` and ``centroids`` ``(k, pca_dim)`` (module docstring).

    Input: tiles ``(N, 3, H, W)`` in [0, 1]; ``forward`` gives the top layer's logits ``(N, k)``.
    """

    def __init__(self, base: Backbone, k: int, pca_dim: int, *, backbone: str, cut: str, weights: str):
        super().__init__()
        channels = int(base.out_channels)
        if not 1 <= int(pca_dim) <= channels:
            raise ConfigError(f"deepcluster.pca_dim must be between 1 and the {channels} feature channels of "
                              f"{backbone} cut at {cut} (got {pca_dim})")
        if int(k) < 2:
            raise ConfigError(f"deepcluster.k must be at least 2 (got {k})")
        self.normalize = ImageNetNormalize()
        self.base = base
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.top = nn.Linear(channels, int(k))
        self.register_buffer("pca_mean", torch.zeros(channels))
        self.register_buffer("pca_whitening", torch.zeros(int(pca_dim), channels))
        self.register_buffer("centroids", torch.zeros(int(k), int(pca_dim)))
        self.backbone, self.cut, self.weights = backbone, cut, weights

    @property
    def dim(self) -> int:
        """Size of :meth:`embedding` (the PCA components)."""
        return int(self.pca_whitening.shape[0])

    @property
    def k(self) -> int:
        return int(self.top.out_features)

    @property
    def channels(self) -> int:
        return int(self.top.in_features)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Globally pooled backbone features ``(N, C)`` of tiles in [0, 1]."""
        return self.pool(self.base(self.normalize(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.top(self.features(x))

    def embedding(self, x: torch.Tensor) -> torch.Tensor:
        """The whitened, L2-normalised features ``(N, dim)`` (the space of the centroids)."""
        z = (self.features(x) - self.pca_mean) @ self.pca_whitening.T
        return z / z.norm(dim=1, keepdim=True).clamp_min(1e-12)

    def assign(self, x: torch.Tensor) -> torch.Tensor:
        """The cluster ``(N,)`` int64 of each tile: its nearest centroid."""
        return self.nearest_centroid(self.embedding(x))

    def nearest_centroid(self, z: torch.Tensor) -> torch.Tensor:
        """The cluster ``(N,)`` int64 of embeddings ``z`` ``(N, dim)`` (:meth:`embedding`): the
        nearest centroid, distances in float64."""
        return torch.cdist(z.double(), self.centroids.double()).argmin(1)

    @torch.no_grad()
    def set_clustering(self, clustering: Clustering) -> None:
        """Store a clustering in the buffers (shapes must fit)."""
        for name, value in (("pca_mean", clustering.mean), ("pca_whitening", clustering.whitening),
                            ("centroids", clustering.centroids)):
            buffer = getattr(self, name)
            if tuple(value.shape) != tuple(buffer.shape):
                raise ValueError(f"{name}: clustering of shape {value.shape} for a buffer of {tuple(buffer.shape)}")
            buffer.copy_(torch.from_numpy(np.asarray(value, dtype=np.float32)))


def build_deepcluster(backbone: str, weights: str, cut: str, k: int, pca_dim: int,
                      weights_path: str | Path | None = None) -> DeepCluster:
    """A DeepCluster network: core backbone ``backbone`` with ``weights`` (``imagenet`` / ``random``;
    ImageNet checkpoints from ``weights_path`` or torchvision's cache, never downloaded) cut at
    ``cut``, a top layer to ``k`` clusters and buffers for a ``pca_dim``-component clustering."""
    base = build_backbone(backbone, weights, cut, in_channels=3, weights_path=weights_path)
    set_batchnorm_momentum(base, BN_MOMENTUM)
    return DeepCluster(base, int(k), int(pca_dim), backbone=backbone, cut=cut, weights=weights)


def load_deepcluster(path: str | Path, device: str | torch.device | None = None
                     ) -> tuple[DeepCluster, ModelFile]:
    """A trained DeepCluster (eval mode, on ``device``: CUDA when visible unless told otherwise),
    with its final clustering, and its model-file record; :class:`InputFileError` naming the file
    when it is unusable. Needs no ImageNet checkpoint."""
    def build(record: ModelFile):
        arch = record.arch
        return build_deepcluster(arch["backbone"], "random", arch["cut"], int(arch["k"]), int(arch["pca_dim"])), None

    net, record, _ = load_network(path, MODEL_KIND, build, device)
    if not isinstance(record.arch.get("tile_px"), int):
        raise InputFileError(path, "DeepCluster model file lacks its tile size (arch.tile_px)")
    return net, record


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------
@torch.no_grad()
def _features(net: DeepCluster, tiles: torch.Tensor, batch: int, device: torch.device) -> np.ndarray:
    """Features float32 ``(n, C)`` of uint8 tiles ``(n, 3, T, T)``, ``net`` in eval mode (restored)."""
    was_training = net.training
    net.eval()
    try:
        out = [np.zeros((0, net.channels), np.float32)]
        for start in range(0, len(tiles), int(batch)):
            x = tiles[start:start + int(batch)].to(device=device, dtype=torch.float32) / 255.0
            out.append(net.features(x).float().cpu().numpy())
        return np.concatenate(out)
    finally:
        net.train(was_training)


# --------------------------------------------------------------------------------------------
# the task
# --------------------------------------------------------------------------------------------
class DeepClusterTask(ClassificationTask):
    """Cross-entropy on the pseudo-labels of the epoch (module docstring).

    ``tiles``: uint8 ``(n, 3, T, T)``, the ``n_train`` training tiles first, then the validation
    tiles (:meth:`set_tiles`); batches are ``{"x", "i"}`` (:class:`eoml.core.data.ImageDataset`, ``i`` indexing
    ``tiles``). At every epoch start the training tiles are clustered (:meth:`recluster`); the
    pseudo-labels of every epoch done are kept in :attr:`assignments` and in the checkpoints.
    """

    def __init__(self, model: DeepCluster, *, pca_dim: int, seed: int, feature_batch: int, **kwargs):
        super().__init__(model, model.k, class_weights=[1.0] * model.k, **kwargs)
        self.pca_dim, self.seed, self.feature_batch = int(pca_dim), int(seed), int(feature_batch)
        self.tiles: torch.Tensor | None = None
        self.n_train = 0
        self.labels = torch.zeros(0, dtype=torch.int64)
        #: training pseudo-labels (int32) of each epoch done
        self.assignments: dict[int, torch.Tensor] = {}

    def set_tiles(self, tiles: torch.Tensor, n_train: int) -> None:
        self.tiles, self.n_train = tiles, int(n_train)

    def cluster(self, epoch: int) -> tuple[Clustering, np.ndarray]:
        """The clustering of the training tiles' features by the current weights, seeded by
        ``(seed, epoch)``, and the validation tiles' labels (nearest centroid)."""
        if self.tiles is None:
            raise RuntimeError("DeepClusterTask: set_tiles() first")
        features = _features(self.model, self.tiles, self.feature_batch, self.device)
        clustering = cluster_features(features[:self.n_train], self.model.k, self.pca_dim,
                                      _seed(self.seed, epoch, _KMEANS_SALT))
        return clustering, clustering.assign(features[self.n_train:])

    def reset_top(self, epoch: int, optimizers: Sequence[torch.optim.Optimizer] = ()) -> None:
        """Re-initialise the top layer (normal weights, standard deviation :data:`TOP_INIT_STD`,
        from a generator seeded by ``(seed, epoch)``; zero biases) and drop its state from
        ``optimizers`` (the other parameters keep theirs)."""
        top = self.model.top
        gen = torch.Generator().manual_seed(_seed(self.seed, epoch, _TOP_SALT))
        with torch.no_grad():
            top.weight.copy_(torch.randn(tuple(top.weight.shape), generator=gen) * TOP_INIT_STD)
            top.bias.zero_()
        for optimizer in optimizers:
            for p in top.parameters():
                optimizer.state.pop(p, None)

    def recluster(self, epoch: int) -> None:
        """Pseudo-labels, loss weights and a fresh top layer for ``epoch`` (module docstring)."""
        clustering, val_labels = self.cluster(epoch)
        self.model.set_clustering(clustering)
        labels = np.concatenate([clustering.labels, val_labels])
        self.labels = torch.from_numpy(labels).to(self.device)
        with torch.no_grad():
            self.loss.weight.copy_(torch.from_numpy(cluster_weights(clustering.labels, self.model.k)))
        self.reset_top(epoch, self.trainer.optimizers if self._trainer is not None else ())
        current = torch.from_numpy(clustering.labels.astype(np.int32))
        previous = self.assignments.get(epoch - 1)
        self.assignments[int(epoch)] = current
        if self._trainer is not None:
            if previous is not None:
                self.log("nmi_previous", float(normalized_mutual_info_score(previous.numpy(), current.numpy())),
                         on_step=False, on_epoch=True)
            empty = self.model.k - len(np.unique(clustering.labels))
            self.log("empty_clusters", float(empty), on_step=False, on_epoch=True)

    def on_train_epoch_start(self) -> None:
        super().on_train_epoch_start()
        self.recluster(self.current_epoch)

    def compute_loss(self, batch) -> torch.Tensor:
        x, i = batch["x"], batch["i"]
        return super().compute_loss({"x": x, "y": self.labels[i.to(self.labels.device)].to(x.device)})

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[_CKPT_ASSIGNMENTS] = {int(e): t.clone() for e, t in self.assignments.items()}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.assignments = {int(e): t.clone() for e, t in checkpoint.get(_CKPT_ASSIGNMENTS, {}).items()}


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------
def _settings(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The deepcluster section, checked (every key required: the schema fills them)."""
    s = required_keys(cfg, CONFIG_KEYS, "deepcluster")
    s["training"] = required_keys(s["training"], TRAINING_SECTION_KEYS, "deepcluster.training")
    if s["backbone"] not in BACKBONES:
        raise ConfigError(f"deepcluster.backbone: {s['backbone']!r} is not one of {BACKBONES}")
    if int(s["k"]) < 2:
        raise ConfigError(f"deepcluster.k must be at least 2 (got {s['k']})")
    if int(s["pca_dim"]) < 1:
        raise ConfigError(f"deepcluster.pca_dim must be at least 1 (got {s['pca_dim']})")
    return {**s, "k": int(s["k"]), "pca_dim": int(s["pca_dim"]), "augment": bool(s["augment"]),
            "weights_path": None if s["weights_path"] is None else str(s["weights_path"])}


def _check_store(data: TripletData, store: PathLike, backbone: str) -> None:
    for split in SPLITS:
        if len(data.splits[split]) == 0:
            raise InputFileError(store, f"the {split} split holds no triplet (hold out at least one scene "
                                        "for validation)")
    if data.tile_px < min_input_size(backbone):
        raise ConfigError(f"tile_px {data.tile_px} of {store} is below the {min_input_size(backbone)} px that "
                          f"{backbone} needs")


def train_deepcluster(triplets_store: str | Path, out_dir: str | Path, ckpt_dir: str | Path,
                      cfg: Mapping[str, Any], seed: int) -> Path:
    """Train a DeepCluster network on the tiles of a triplet store; write ``out_dir/model.pt`` and
    ``out_dir/history.csv``; return the model file's path (module docstring).

    ``cfg`` = the deepcluster section: ``backbone, weights, weights_path, cut, k, pca_dim, augment,
    training`` (``training``: core's keys and ``mixed_precision``; ``early_stopping_patience`` is
    not used: every epoch runs and the last is kept). ``ckpt_dir`` (outside ``out_dir``) receives
    the resumable checkpoints and logs. The network is built before the store is read, so a missing
    ImageNet checkpoint fails the job at once. Triplets with split ``train`` train, ``val``
    validate; either empty is an :class:`InputFileError` naming the store; ``k`` above the number
    of training tiles a :class:`ConfigError`.
    """
    s = _settings(cfg)
    training = s["training"]
    out_dir, ckpt_dir, settings, seed = training_job(
        out_dir, ckpt_dir, {k: training[k] for k in TRAINING_KEYS}, "deepcluster.training", seed)
    base = build_backbone(s["backbone"], s["weights"], s["cut"], in_channels=3, weights_path=s["weights_path"])
    set_batchnorm_momentum(base, BN_MOMENTUM)

    data = load_triplet_data(triplets_store)
    _check_store(data, triplets_store, s["backbone"])
    train_tiles, val_tiles = split_tiles(data, "train"), split_tiles(data, "val")
    n_train = len(train_tiles)
    if s["k"] > n_train:
        raise ConfigError(f"deepcluster.k ({s['k']}) exceeds the {n_train} training tiles of {triplets_store}")
    pca_dim = pca_components(n_train, base.out_channels, s["pca_dim"])
    if pca_dim != s["pca_dim"]:
        log.info("PCA-whitening to %d components (pca_dim %d capped by %d training tiles and %d channels)",
                 pca_dim, s["pca_dim"], n_train, base.out_channels)
    net = DeepCluster(base, s["k"], pca_dim, backbone=s["backbone"], cut=s["cut"], weights=s["weights"])

    tiles = torch.cat([train_tiles, val_tiles])
    task = DeepClusterTask.from_config(net, settings, pca_dim=pca_dim, seed=seed,
                                       feature_batch=int(settings["batch_size"]))
    task.set_tiles(tiles, n_train)
    train_ds = ImageDataset(tiles, np.arange(n_train), augment=s["augment"], with_index=True)
    val_ds = ImageDataset(tiles, np.arange(n_train, len(tiles)), with_index=True)
    config = plain_json(s)
    fingerprint = {"config": config, "data": data.digest,
                   "weights_path": s["weights_path"] if s["weights"] == "imagenet" else None}
    result = train_task(task, train_ds, val_ds, ckpt_dir=ckpt_dir, training_cfg=settings, seed=seed,
                        fingerprint=fingerprint, sample_salt=SAMPLE_SALT, avoid_single_batch=True,
                        history_columns=_METRICS, monitor=MONITOR_LAST,
                        mixed_precision=training["mixed_precision"])
    # the final clustering: of the last epoch's features, as the next epoch would compute it
    device = select_device(None)
    net.to(device)
    task.to(device)
    clustering, val_labels = task.cluster(result.epochs_run)
    net.set_clustering(clustering)
    net.cpu()
    history = result.history[HISTORY_COLUMNS]
    sizes = {"train": np.bincount(clustering.labels, minlength=s["k"]).tolist(),
             "val": np.bincount(val_labels, minlength=s["k"]).tolist()}
    model_path = save_training_outputs(
        out_dir, history, kind=MODEL_KIND, weights=net.state_dict(),
        arch={"backbone": s["backbone"], "cut": s["cut"], "k": s["k"], "pca_dim": pca_dim,
              "channels": int(base.out_channels), "tile_px": data.tile_px, "in_channels": 3},
        norm={"scale": 1.0 / 255.0, "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)},
        settings={"seed": seed, "best_epoch": int(result.best_epoch), "epochs_run": int(result.epochs_run),
                  "config": config, "data_digest": data.digest, "store": data.path,
                  "n_tiles": {"train": n_train, "val": len(val_tiles)}, "cluster_sizes": sizes},
    )
    last = history.iloc[-1]
    log.info("wrote %s: %d epochs, last NMI with the previous epoch %.3f, final cluster sizes %s",
             model_path, result.epochs_run, last["nmi_previous"], sizes["train"])
    return model_path


# --------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------
def deepcluster_examples_figure(tiles: np.ndarray, clusters: Sequence[int], n_per_cluster: int = 8):
    """The figure of :func:`plot_deepcluster_examples`: ``(fig, axes)``, one row per cluster."""
    tiles, clusters = np.asarray(tiles), np.asarray(clusters)
    if tiles.ndim != 4 or len(tiles) != len(clusters):
        raise ValueError(f"tiles (n, y, x, 3) and one cluster per tile expected, got {tiles.shape} and "
                         f"{clusters.shape}")
    ids = np.unique(clusters)
    if len(ids) == 0 or int(n_per_cluster) < 1:
        raise ValueError("no tile to draw")
    n = int(n_per_cluster)
    fig, axes = plt.subplots(len(ids), n, squeeze=False, figsize=(0.9 * n + 0.8, 0.9 * len(ids) + 0.3))
    for row, c in enumerate(ids):
        members = np.flatnonzero(clusters == c)
        for j in range(n):
            ax = axes[row, j]
            ax.set_xticks([])
            ax.set_yticks([])
            ax.spines[:].set_visible(False)
            if j < len(members):
                ax.imshow(tiles[members[j]], interpolation="nearest", aspect="auto")
        axes[row, 0].set_ylabel(f"{c}\n(n={len(members)})", rotation=0, ha="right", va="center", fontsize=7)
    fig.supylabel("cluster", fontsize=8)
    return fig, axes


def plot_deepcluster_examples(tiles: np.ndarray, clusters: Sequence[int], output: PathLike, *,
                              n_per_cluster: int = 8) -> tuple[Path, Path]:
    """The first ``n_per_cluster`` tiles (uint8 ``(n, y, x, 3)``) of each cluster, one row per
    cluster (labelled with its size); PNG + SVG (:func:`eoml.core.plotting.save_figure`)."""
    with paper_style():
        fig, _ = deepcluster_examples_figure(tiles, clusters, n_per_cluster)
        return save_figure(fig, output)
