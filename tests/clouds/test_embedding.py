"""clouds.embedding: the Tile2Vec network, its training on a tiny triplet store, the model file, embeddings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from eoml.clouds.embedding import (
    HISTORY_COLUMNS,
    MODEL_KIND,
    TripletDataset,
    build_tile2vec,
    embed,
    embed_tiles,
    load_tile2vec,
    load_triplet_data,
    train_tile2vec,
)
from eoml.clouds.tiles import (
    Scene,
    resize_tiles,
    sample_triplets,
    split_scenes,
    write_triplets,
)
from eoml.core.backbones import MissingWeightsError
from eoml.core.errors import ConfigError, InputFileError
from eoml.core.modelfile import load_model_file, save_model_file

pytestmark = pytest.mark.usefixtures("torch_one_thread")

T = 32
TRAINING = {"max_epochs": 2, "batch_size": 8, "learning_rate": 1e-3, "early_stopping_patience": 5,
            "lr_patience": 2, "lr_factor": 0.5, "min_lr": 1e-6, "mixed_precision": False}
CFG = {"backbone": "resnet18", "weights": "random", "weights_path": None, "cut": "shallow", "dim": 8,
       "margin": 1.0, "distance": "squared", "l2": 0.0, "augment": True, "training": TRAINING}


def _scene(k: int, size: int = 96) -> Scene:
    """A scene of its own colour and wave pattern (neighbouring tiles alike, scenes unlike)."""
    rng = np.random.default_rng([7, k])
    yy, xx = np.mgrid[:size, :size].astype(float)
    freq = 0.15 + 0.12 * k
    wave = np.sin(freq * xx + rng.uniform(0, 6)) * np.cos(0.5 * freq * yy)
    base = rng.integers(40, 200, 3)
    rgb = base + 50 * wave[..., None] + rng.normal(0, 5, (size, size, 3))
    return Scene(f"S{k}", np.clip(rgb, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    scenes = [_scene(k) for k in range(6)]
    splits = split_scenes([s.id for s in scenes], 0.34, seed=0)
    ds = sample_triplets(scenes, n=48, tile_px=T, neighbour_offset=0.5, seed=1, min_valid=0.0, splits=splits)
    return write_triplets(ds, tmp_path_factory.mktemp("triplets") / "triplets.zarr")


@pytest.fixture(scope="module")
def trained(store, tmp_path_factory):
    root = tmp_path_factory.mktemp("tile2vec")
    path = train_tile2vec(store, root / "out", root / "ckpt", CFG, seed=0)
    return path, pd.read_csv(root / "out" / "history.csv")


def test_tile2vec_trains_and_separates_neighbours_from_distant_tiles(trained):
    path, history = trained
    assert path.name == "model.pt" and list(history.columns) == HISTORY_COLUMNS and len(history) == 2
    assert np.isfinite(history.to_numpy(dtype=float)).all()
    assert history["train_loss"].iloc[1] < history["train_loss"].iloc[0]
    best = load_model_file(path).settings["best_epoch"]
    row = history.set_index("epoch").loc[best]
    assert row["val_loss"] == history["val_loss"].min()  # the kept model is the best validation epoch
    # held-out scenes: distant tiles far further than neighbours; in training the margin is met
    assert row["val_dist_distant"] > 10 * row["val_dist_neighbour"]
    assert history["val_loss"].iloc[1] < history["val_loss"].iloc[0]
    assert history["train_satisfied"].iloc[1] > 0.9


def test_model_file_round_trip(trained, store, tmp_path):
    path, _ = trained
    record = load_model_file(path, kind=MODEL_KIND)
    assert record.arch == {"backbone": "resnet18", "cut": "shallow", "dim": 8, "tile_px": T, "in_channels": 3}
    assert record.settings["n_triplets"]["val"] > 0 and record.settings["config"]["distance"] == "squared"
    net, _ = load_tile2vec(path, device="cpu")
    assert all(torch.equal(v, record.weights[k]) for k, v in net.state_dict().items())
    # a network built afresh with the file's weights embeds the same
    fresh = build_tile2vec("resnet18", "random", "shallow", 8)
    fresh.load_state_dict(record.weights)
    tiles = np.moveaxis(load_triplet_data(store).tiles["anchor"][:5].numpy(), 1, -1)
    np.testing.assert_array_equal(embed_tiles(fresh, tiles, 3, "cpu"), embed(path, tiles, 3, "cpu"))
    # another kind of model file is refused, naming the file
    other = save_model_file(tmp_path / "other.pt", kind="scenes.classifier", weights={}, arch={})
    with pytest.raises(InputFileError, match="other.pt"):
        load_tile2vec(other)


def test_embed_shape_and_resize(trained):
    path, _ = trained
    rng = np.random.default_rng(0)
    tiles = rng.integers(0, 256, (7, 64, 64, 3), dtype=np.uint8)
    z = embed(path, tiles, batch=3, device="cpu")
    assert z.shape == (7, 8) and z.dtype == np.float32 and np.isfinite(z).all()
    # tiles of another size are resized to the model's
    np.testing.assert_array_equal(z, embed(path, resize_tiles(tiles, T), batch=3, device="cpu"))
    assert embed(path, tiles[:0], batch=3, device="cpu").shape == (0, 8)


def test_triplet_dataset_augments_each_tile_by_its_seed(store):
    data = load_triplet_data(store)
    ds = TripletDataset(data.tiles, data.splits["train"], augment=True)
    plain = TripletDataset(data.tiles, data.splits["train"])
    a, b = ds[(0, 123)], ds[(0, 123)]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert all(torch.equal(plain[0][k], ds[0][k]) for k in a)  # no seed (validation): no augmentation
    # each tile is one of the 8 symmetries of its square, drawn independently
    seen = set()
    for seed in range(100):
        item = ds[(0, seed)]
        for k in ("anchor", "neighbour", "distant"):
            orig = plain[0][k]
            variants = [torch.rot90(f, r, dims=(-2, -1)) for f in (orig, orig.flip(-1)) for r in range(4)]
            seen.add((k, next(i for i, v in enumerate(variants) if torch.equal(v, item[k]))))
    assert len(seen) == 24


def test_networks_and_settings():
    torch.manual_seed(0)
    net = build_tile2vec("efficientnet_lite0", "imagenet", "deep", 100)  # offline weights of its package
    with torch.no_grad():
        z = net.eval()(torch.rand(2, 3, T, T))
    assert z.shape == (2, 100)
    with pytest.raises(MissingWeightsError, match="nowhere.pth"):
        build_tile2vec("resnet18", "imagenet", "deep", 100, weights_path="/nowhere.pth")
    with pytest.raises(ConfigError, match="dim"):
        build_tile2vec("resnet18", "random", "shallow", 0)


@pytest.mark.parametrize(("change", "match"), [
    ({"distance": "cosine"}, "distance"),
    ({"backbone": "alexnet"}, "backbone"),
    ({"training": {k: v for k, v in TRAINING.items() if k != "mixed_precision"}}, "mixed_precision"),
])
def test_bad_settings_fail_before_training(change, match, store, tmp_path):
    cfg = {**CFG, **change}
    with pytest.raises(ConfigError, match=match):
        train_tile2vec(store, tmp_path / "out", tmp_path / "ckpt", cfg, seed=0)
    cfg = {k: v for k, v in CFG.items() if k != "margin"}
    with pytest.raises(ConfigError, match="margin"):
        train_tile2vec(store, tmp_path / "out", tmp_path / "ckpt", cfg, seed=0)
