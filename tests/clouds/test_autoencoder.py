"""clouds.autoencoder: the DCAE's layers and shapes, its training on a tiny triplet store through the
shared engine (loss falls, resume after a kill, CPU determinism), the model file, reconstructions,
the figure and the tile-size check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.ndimage import gaussian_filter
from torch import nn

from eoml.clouds.autoencoder import (
    DCAE,
    HISTORY_COLUMNS,
    MODEL_KIND,
    load_dcae,
    plot_reconstructions,
    reconstruct,
    reconstructions_figure,
    train_dcae,
)
from eoml.clouds.embedding import load_triplet_data
from eoml.clouds.tiles import (
    Scene,
    resize_tiles,
    sample_triplets,
    split_scenes,
    write_triplets,
)
from eoml.core.errors import ConfigError, InputFileError
from eoml.core.modelfile import load_model_file, save_model_file
from eoml.core.tasks import MaskedRegressionTask

pytestmark = pytest.mark.usefixtures("torch_one_thread")

T = 32
PAPER = [128, 64, 32, 16, 8]
TRAINING = {"max_epochs": 4, "batch_size": 4, "learning_rate": 1e-2, "early_stopping_patience": 5,
            "lr_patience": 5, "lr_factor": 0.5, "min_lr": 1e-6, "mixed_precision": False}
CFG = {"channels": [16, 8, 4], "augment": True, "training": TRAINING}


def _scene(k: int, size: int = 80) -> Scene:
    """A smooth random colour field: every scene drawn from the same distribution."""
    rng = np.random.default_rng([13, k])
    field = gaussian_filter(rng.normal(size=(size, size, 3)), sigma=(6, 6, 0))
    field = (field - field.mean()) / field.std()
    return Scene(f"S{k}", np.clip(128 + 50 * field, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    scenes = [_scene(k) for k in range(5)]
    splits = split_scenes([s.id for s in scenes], 0.4, seed=0)
    ds = sample_triplets(scenes, n=40, tile_px=T, neighbour_offset=0.5, seed=3, min_valid=0.0, splits=splits)
    return write_triplets(ds, tmp_path_factory.mktemp("triplets") / "triplets.zarr")


@pytest.fixture(scope="module")
def trained(store, tmp_path_factory):
    root = tmp_path_factory.mktemp("dcae")
    path = train_dcae(store, root / "out", root / "ckpt", CFG, seed=0)
    return path, pd.read_csv(root / "out" / "history.csv")


def test_paper_architecture_layers_and_shapes():
    torch.manual_seed(0)
    net = DCAE(PAPER, 64)
    convs = [m for m in net.encoder if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(3, 128), (128, 64), (64, 32), (32, 16), (16, 8)]
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    assert [type(m).__name__ for m in net.encoder[:3]] == ["Conv2d", "ReLU", "MaxPool2d"]
    ups = [m for m in net.decoder if isinstance(m, nn.ConvTranspose2d)]
    assert [(u.in_channels, u.out_channels) for u in ups] == [(8, 16), (16, 32), (32, 64), (64, 128), (128, 3)]
    assert all(u.kernel_size == (2, 2) and u.stride == (2, 2) for u in ups)
    acts = [type(m).__name__ for m in net.decoder if not isinstance(m, nn.ConvTranspose2d)]
    assert acts == ["ReLU"] * 4 + ["Sigmoid"]
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        latent, y, z = net.encode(x), net(x), net.embedding(x)
    assert latent.shape == (2, 8, 2, 2) and z.shape == (2, net.dim) and net.dim == 32
    assert y.shape == x.shape and float(y.min()) >= 0 and float(y.max()) <= 1
    assert DCAE([8], 16).dim == 8 * 8 * 8


def test_tile_size_must_be_a_multiple_of_the_poolings(store, tmp_path):
    with pytest.raises(ConfigError, match=r"tile_px 48 is not a multiple of 2\^5 = 32"):
        DCAE(PAPER, 48)
    with pytest.raises(ConfigError, match=r"tile_px 16 is not a multiple of 2\^5 = 32"):
        DCAE(PAPER, 16)
    with pytest.raises(ConfigError, match="non-empty list"):
        DCAE([], 32)
    # the store's 32 px tiles and six poolings: the error names the store and both sizes
    cfg = {**CFG, "channels": [8, 8, 8, 8, 8, 8]}
    with pytest.raises(ConfigError, match=r"triplets.zarr: tile_px 32 is not a multiple of 2\^6 = 64"):
        train_dcae(store, tmp_path / "out", tmp_path / "ckpt", cfg, seed=0)
    with pytest.raises(ConfigError, match="autoencoder: missing key"):
        train_dcae(store, tmp_path / "out", tmp_path / "ckpt", {"channels": [8], "training": TRAINING}, seed=0)


def test_reconstruction_loss_falls_and_the_best_epoch_is_kept(trained):
    path, history = trained
    assert list(history.columns) == HISTORY_COLUMNS and history["epoch"].tolist() == [0, 1, 2, 3]
    assert history["train_loss"].iloc[-1] < 0.85 * history["train_loss"].iloc[0]
    assert history["val_loss"].min() < 0.85 * history["val_loss"].iloc[0]
    np.testing.assert_allclose(history["val_mse"], history["val_loss"], rtol=1e-5)
    record = load_model_file(path, kind=MODEL_KIND)
    assert record.settings["best_epoch"] == int(history["val_loss"].idxmin())
    assert record.arch == {"channels": [16, 8, 4], "tile_px": T, "dim": 4 * 4 * 4, "in_channels": 3}


def test_model_file_round_trip_and_reconstruct(trained, store, tmp_path):
    path, history = trained
    net, record = load_dcae(path, device="cpu")
    assert not net.training and net.dim == 64
    assert all(torch.equal(v, record.weights[k]) for k, v in net.state_dict().items())
    data = load_triplet_data(store)
    tiles = np.moveaxis(data.tiles["anchor"][data.splits["val"]].numpy(), 1, -1)
    out = reconstruct(net, tiles, batch=5, device="cpu")
    assert out.shape == tiles.shape and out.dtype == np.uint8
    # the reconstruction error of the uint8 tiles is the validation MSE (up to the rounding to uint8)
    mse = float(np.mean((out / 255.0 - tiles / 255.0) ** 2))
    assert mse == pytest.approx(history["val_loss"].min(), rel=0.25)
    np.testing.assert_array_equal(out, reconstruct(net, tiles, batch=64, device="cpu"))
    # tiles of another size are resized to the network's first
    big = np.repeat(np.repeat(tiles, 2, axis=1), 2, axis=2)
    np.testing.assert_array_equal(reconstruct(net, big, device="cpu"),
                                  reconstruct(net, resize_tiles(big, T), device="cpu"))
    with pytest.raises(ValueError, match="uint8"):
        reconstruct(net, tiles.astype(np.float32), device="cpu")
    other = save_model_file(tmp_path / "other.pt", kind="clouds.tile2vec", weights={}, arch={})
    with pytest.raises(InputFileError, match="other.pt"):
        load_dcae(other)


def test_resume_after_a_kill_equals_the_uninterrupted_run(trained, store, tmp_path, monkeypatch):
    ref = load_model_file(trained[0])

    def crash(self):
        if self.current_epoch == 2:
            raise RuntimeError("simulated kill")
        original(self)

    original = MaskedRegressionTask.on_train_epoch_start
    monkeypatch.setattr(MaskedRegressionTask, "on_train_epoch_start", crash)
    with pytest.raises(RuntimeError, match="simulated kill"):
        train_dcae(store, tmp_path / "out", tmp_path / "ckpt", CFG, seed=0)
    monkeypatch.undo()
    assert torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=False)["epoch"] == 1
    resumed = load_model_file(train_dcae(store, tmp_path / "out", tmp_path / "ckpt", CFG, seed=0))
    assert all(torch.equal(resumed.weights[k], ref.weights[k]) for k in ref.weights)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "out" / "history.csv"), trained[1])
    # an independent run: identical on the CPU
    again = load_model_file(train_dcae(store, tmp_path / "out2", tmp_path / "ckpt2", CFG, seed=0))
    assert all(torch.equal(again.weights[k], ref.weights[k]) for k in ref.weights)


def test_store_without_validation_triplets(tmp_path):
    scenes = [_scene(k) for k in range(3)]
    ds = sample_triplets(scenes, n=6, tile_px=T, neighbour_offset=0.5, seed=0, min_valid=0.0,
                         splits={s.id: "train" for s in scenes})
    lonely = write_triplets(ds, tmp_path / "train_only.zarr")
    with pytest.raises(InputFileError, match="train_only.zarr.*val split holds no triplet"):
        train_dcae(lonely, tmp_path / "o", tmp_path / "c", CFG, seed=0)


def test_reconstructions_figure(tmp_path):
    rng = np.random.default_rng(0)
    originals = rng.integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
    recon = originals // 2
    _, axes = reconstructions_figure(originals, recon, n=8)
    assert axes.shape == (2, 5)
    np.testing.assert_array_equal(axes[1, 3].images[0].get_array(), recon[3])
    png, svg = plot_reconstructions(originals, recon, tmp_path / "recon.png", n=3)
    assert png.exists() and svg.exists()
    _, axes = reconstructions_figure(originals, recon[:, :8, :8], n=2)  # reconstructions of another size
    assert axes[1, 0].images[0].get_array().shape == (8, 8, 3)
    with pytest.raises(ValueError, match="as many tiles"):
        reconstructions_figure(originals, recon[:2])
