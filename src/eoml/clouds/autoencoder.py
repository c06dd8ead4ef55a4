"""clouds DCAE: the deep convolutional autoencoder of the study, its training and its latent vectors.

:class:`DCAE` is the architecture of the LMD/IPSL internship study (2021), configurable by its
encoder's ``channels`` (the study's ``[128, 64, 32, 16, 8]``):

* encoder — for each ``c`` in ``channels``: a 3 × 3 convolution to ``c`` channels ("same" padding),
  ReLU, 2 × 2 max pooling. A tile ``(3, T, T)`` becomes the latent map
  ``(channels[-1], T / 2^L, T / 2^L)``, ``L = len(channels)``: ``T`` must be a multiple of ``2^L``
  (:class:`ConfigError` naming both otherwise);
* decoder — transposed convolutions (kernel 2, stride 2: each doubles the size) back through the
  reversed channels to 3 (``8 → 16 → 32 → 64 → 128 → 3`` for the study's), ReLU between them and a
  sigmoid at the end: the reconstruction, like the input, lies in [0, 1].

Inputs are tiles ``(N, 3, T, T)`` scaled to [0, 1] (uint8 / 255); no other normalisation is needed,
the target being the tile itself. :meth:`DCAE.embedding` is the flattened latent map
(``channels[-1] · (T / 2^L)²`` values, 8 · 2 · 2 = 32 for the study's 64 px tiles): the vectors
the analysis clusters.

:func:`train_dcae` trains it on the tiles of a triplet store (the anchor, neighbour and distant
tiles of the ``train`` triplets; ``val`` triplets validate) to minimise the mean squared error of
the reconstruction (core's :class:`~eoml.core.tasks.MaskedRegressionTask` with the tile as its own
target: ``train_mse`` / ``train_mae`` ... per epoch) through :func:`eoml.core.training.train_task`:
the ``(seed, epoch)`` data order, resumable fingerprinted checkpoints, early stopping, and the best
validation epoch kept. With ``augment`` each training tile gets a random quarter turn and
left-right flip (:func:`eoml.core.data.flip_rotate`, from its per-sample seed). ``out_dir``
receives ``model.pt`` (kind :data:`MODEL_KIND`) and ``history.csv`` (:data:`HISTORY_COLUMNS`).
:func:`reconstruct` gives uint8 reconstructions of uint8 tiles (resized to the network's tile size
first when they are of another); :func:`reconstructions_figure` / :func:`plot_reconstructions` draw
originals above their reconstructions.

References: the LMD/IPSL internship study (2021) of trade-wind cloud organisation (the
architecture); Masci, Meier, Cireşan & Schmidhuber (2011) "Stacked convolutional auto-encoders
for hierarchical feature extraction", ICANN.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from eoml.clouds.embedding import load_triplet_data, split_tiles
from eoml.clouds.tiles import SPLITS, resize_tiles
from eoml.core.config import plain_json
from eoml.core.data import ImageDataset
from eoml.core.errors import ConfigError, InputFileError
from eoml.core.modelfile import ModelFile, load_network
from eoml.core.plotting import paper_style, save_figure
from eoml.core.settings import required_keys
from eoml.core.tasks import MaskedRegressionTask
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
    "DCAE",
    "HISTORY_COLUMNS",
    "MODEL_KIND",
    "TRAINING_SECTION_KEYS",
    "load_dcae",
    "plot_reconstructions",
    "reconstruct",
    "reconstructions_figure",
    "train_dcae",
]

MODEL_KIND = "clouds.dcae"
#: keys of the autoencoder config section (all required: the schema fills them)
CONFIG_KEYS = ("channels", "augment", "training")
#: keys of its ``training`` section: core's, plus mixed precision on a GPU
TRAINING_SECTION_KEYS = (*TRAINING_KEYS, "mixed_precision")
#: reconstruction errors per epoch (core's MaskedRegressionTask)
_METRICS = ["train_mse", "train_mae", "val_mse", "val_mae"]
HISTORY_COLUMNS = [*CORE_HISTORY_COLUMNS, *_METRICS]
#: salt of the per-sample augmentation seeds
SAMPLE_SALT = 0xAE01

PathLike = str | os.PathLike


# --------------------------------------------------------------------------------------------
# the network
# --------------------------------------------------------------------------------------------
def _check_channels(channels: Sequence[int]) -> list[int]:
    channels = [int(c) for c in channels]
    if not channels or min(channels) < 1:
        raise ConfigError(f"autoencoder.channels must be a non-empty list of positive channel counts (got {channels})")
    return channels


def check_tile_size(tile_px: int, channels: Sequence[int]) -> None:
    """:class:`ConfigError` unless ``tile_px`` is a multiple of ``2^len(channels)`` (one pooling per
    encoder layer)."""
    factor = 2 ** len(channels)
    if int(tile_px) < factor or int(tile_px) % factor:
        raise ConfigError(f"tile_px {tile_px} is not a multiple of 2^{len(channels)} = {factor}, which the "
                          f"{len(channels)} poolings of autoencoder.channels {list(channels)} need")


class DCAE(nn.Module):
    """The convolutional autoencoder (module docstring): ``encoder`` and ``decoder`` ``nn.Sequential``s;
    ``forward`` reconstructs tiles ``(N, 3, T, T)`` in [0, 1]."""

    def __init__(self, channels: Sequence[int], tile_px: int):
        super().__init__()
        channels = _check_channels(channels)
        check_tile_size(tile_px, channels)
        self.channels, self.tile_px = channels, int(tile_px)
        encoder: list[nn.Module] = []
        c_in = 3
        for c in channels:
            encoder += [nn.Conv2d(c_in, c, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            c_in = c
        decoder: list[nn.Module] = []
        outs = [*reversed(channels[:-1]), 3]
        for j, c in enumerate(outs):
            decoder += [nn.ConvTranspose2d(c_in, c, kernel_size=2, stride=2),
                        nn.ReLU() if j < len(outs) - 1 else nn.Sigmoid()]
            c_in = c
        self.encoder = nn.Sequential(*encoder)
        self.decoder = nn.Sequential(*decoder)

    @property
    def latent_px(self) -> int:
        return self.tile_px // 2 ** len(self.channels)

    @property
    def dim(self) -> int:
        """Size of :meth:`embedding`: ``channels[-1] · (tile_px / 2^L)²``."""
        return self.channels[-1] * self.latent_px ** 2

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latent maps ``(N, channels[-1], T / 2^L, T / 2^L)``."""
        return self.encoder(x)

    def embedding(self, x: torch.Tensor) -> torch.Tensor:
        """Flattened latent maps ``(N, dim)``."""
        return self.encoder(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def load_dcae(path: str | Path, device: str | torch.device | None = None) -> tuple[DCAE, ModelFile]:
    """A trained DCAE (eval mode, on ``device``: CUDA when visible unless told otherwise) and its
    model-file record; :class:`InputFileError` naming the file when it is unusable."""
    def build(record: ModelFile):
        return DCAE(record.arch["channels"], int(record.arch["tile_px"])), None

    net, record, _ = load_network(path, MODEL_KIND, build, device)
    return net, record


@torch.no_grad()
def reconstruct(net: DCAE, tiles: np.ndarray, batch: int = 64, device: str | torch.device | None = None
                ) -> np.ndarray:
    """uint8 reconstructions ``(n, T, T, 3)``, ``T`` the network's tile size, of uint8 tiles
    ``(n, y, x, 3)`` (tiles of another size are resized to ``T`` first,
    :func:`eoml.clouds.tiles.resize_tiles`), in batches of ``batch`` with ``net`` in eval mode on
    ``device`` (its mode and device restored)."""
    tiles = np.asarray(tiles)
    if tiles.dtype != np.uint8 or tiles.ndim != 4 or tiles.shape[-1] != 3:
        raise ValueError(f"tiles must be uint8 (n, y, x, 3), got {tiles.dtype} {tiles.shape}")
    if tiles.shape[1:3] != (net.tile_px, net.tile_px):
        tiles = resize_tiles(tiles, net.tile_px)
    if int(batch) < 1:
        raise ValueError(f"batch must be >= 1 (got {batch})")
    device = select_device(device)
    was_training, was_on = net.training, next(net.parameters()).device
    net.eval().to(device)
    try:
        out = [np.zeros((0, *tiles.shape[1:]), np.uint8)]
        for start in range(0, len(tiles), int(batch)):
            x = torch.from_numpy(np.ascontiguousarray(tiles[start:start + int(batch)].transpose(0, 3, 1, 2)))
            y = net(x.to(device=device, dtype=torch.float32) / 255.0).float().cpu().numpy()
            out.append(np.clip(np.rint(y * 255.0), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1))
        return np.concatenate(out)
    finally:
        net.train(was_training).to(was_on)


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------
def _settings(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The autoencoder section, checked (every key required: the schema fills them)."""
    s = required_keys(cfg, CONFIG_KEYS, "autoencoder")
    s["training"] = required_keys(s["training"], TRAINING_SECTION_KEYS, "autoencoder.training")
    return {**s, "channels": _check_channels(s["channels"]), "augment": bool(s["augment"])}


def train_dcae(triplets_store: str | Path, out_dir: str | Path, ckpt_dir: str | Path,
               cfg: Mapping[str, Any], seed: int) -> Path:
    """Train a DCAE on the tiles of a triplet store; write ``out_dir/model.pt`` and
    ``out_dir/history.csv``; return the model file's path (module docstring).

    ``cfg`` = the autoencoder section: ``channels, augment, training`` (``training``: core's keys
    and ``mixed_precision``). ``ckpt_dir`` (outside ``out_dir``) receives the resumable checkpoints
    and logs. A store without ``train`` or ``val`` triplets is an :class:`InputFileError` naming it;
    a tile size that is not a multiple of ``2^len(channels)`` a :class:`ConfigError`.
    """
    s = _settings(cfg)
    training = s["training"]
    out_dir, ckpt_dir, settings, seed = training_job(
        out_dir, ckpt_dir, {k: training[k] for k in TRAINING_KEYS}, "autoencoder.training", seed)
    data = load_triplet_data(triplets_store)
    for split in SPLITS:
        if len(data.splits[split]) == 0:
            raise InputFileError(triplets_store, f"the {split} split holds no triplet (hold out at least one scene "
                                                 "for validation)")
    try:
        check_tile_size(data.tile_px, s["channels"])
    except ConfigError as exc:
        raise ConfigError(f"{triplets_store}: {exc}") from exc
    net = DCAE(s["channels"], data.tile_px)
    train_tiles, val_tiles = split_tiles(data, "train"), split_tiles(data, "val")
    tiles = torch.cat([train_tiles, val_tiles])
    train_ds = ImageDataset(tiles, np.arange(len(train_tiles)), augment=s["augment"], target=True)
    val_ds = ImageDataset(tiles, np.arange(len(train_tiles), len(tiles)), target=True)
    task = MaskedRegressionTask.from_config(net, settings, criterion="mse")
    config = plain_json(s)
    result = train_task(task, train_ds, val_ds, ckpt_dir=ckpt_dir, training_cfg=settings, seed=seed,
                        fingerprint={"config": config, "data": data.digest}, sample_salt=SAMPLE_SALT,
                        history_columns=_METRICS, mixed_precision=training["mixed_precision"])
    history = result.history[HISTORY_COLUMNS]
    model_path = save_training_outputs(
        out_dir, history, kind=MODEL_KIND, weights=result.weights,
        arch={"channels": s["channels"], "tile_px": data.tile_px, "dim": net.dim, "in_channels": 3},
        norm={"scale": 1.0 / 255.0},
        settings={"seed": seed, "best_epoch": int(result.best_epoch), "epochs_run": int(result.epochs_run),
                  "config": config, "data_digest": data.digest, "store": data.path,
                  "n_tiles": {"train": len(train_tiles), "val": len(val_tiles)}},
    )
    row = history.set_index("epoch").loc[result.best_epoch]
    log.info("wrote %s: best epoch %d of %d, val_mse %.5f", model_path, result.best_epoch, result.epochs_run,
             row["val_loss"])
    return model_path


# --------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------
def reconstructions_figure(originals: np.ndarray, reconstructions: np.ndarray, n: int = 8):
    """The figure of :func:`plot_reconstructions`: ``(fig, axes)`` (2 × n)."""
    originals, reconstructions = np.asarray(originals), np.asarray(reconstructions)
    if originals.ndim != 4 or reconstructions.ndim != 4 or len(originals) != len(reconstructions):
        raise ValueError(f"originals and reconstructions must be as many tiles (n, y, x, 3), got "
                         f"{originals.shape} and {reconstructions.shape}")
    n = min(int(n), len(originals))
    if n < 1:
        raise ValueError("no tile to draw")
    fig, axes = plt.subplots(2, n, squeeze=False, figsize=(1.1 * n + 0.6, 2.5))
    for row, images in enumerate((originals, reconstructions)):
        for j in range(n):
            ax = axes[row, j]
            ax.imshow(images[j], interpolation="nearest", aspect="auto")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.spines[:].set_visible(False)
    axes[0, 0].set_ylabel("tile")
    axes[1, 0].set_ylabel("DCAE")
    return fig, axes


def plot_reconstructions(originals: np.ndarray, reconstructions: np.ndarray, output: PathLike, *,
                         n: int = 8) -> tuple[Path, Path]:
    """The first ``n`` tiles (uint8 ``(n, y, x, 3)``, top row) above their reconstructions (bottom
    row; of the network's tile size, which may differ from the originals'); PNG + SVG
    (:func:`eoml.core.plotting.save_figure`)."""
    with paper_style():
        fig, _ = reconstructions_figure(originals, reconstructions, n)
        return save_figure(fig, output)
