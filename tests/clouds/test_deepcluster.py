"""clouds.deepcluster: the clustering, the network's buffers, training on a tiny triplet store through
the shared engine, exact resume after a kill, CPU determinism, the model file and the examples figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score

from eoml.clouds.deepcluster import (
    _KMEANS_SALT,
    HISTORY_COLUMNS,
    MODEL_KIND,
    DeepClusterTask,
    _seed,
    build_deepcluster,
    cluster_features,
    cluster_weights,
    deepcluster_examples_figure,
    load_deepcluster,
    plot_deepcluster_examples,
    train_deepcluster,
)
from eoml.clouds.embedding import load_triplet_data, split_tiles
from eoml.clouds.tiles import Scene, sample_triplets, split_scenes, write_triplets
from eoml.core.errors import ConfigError, InputFileError
from eoml.core.modelfile import load_model_file, save_model_file

pytestmark = pytest.mark.usefixtures("torch_one_thread")

T = 32
TRAINING = {"max_epochs": 3, "batch_size": 16, "learning_rate": 1e-3, "early_stopping_patience": 0,
            "lr_patience": 5, "lr_factor": 0.5, "min_lr": 1e-6, "mixed_precision": False}
CFG = {"backbone": "resnet18", "weights": "random", "weights_path": None, "cut": "shallow", "k": 3,
       "pca_dim": 8, "augment": True, "training": TRAINING}


def _scene(k: int, size: int = 80) -> Scene:
    """A scene of its own colour and wave pattern (tiles of one scene alike, scenes unlike)."""
    rng = np.random.default_rng([11, k])
    yy, xx = np.mgrid[:size, :size].astype(float)
    freq = 0.2 + 0.15 * k
    wave = np.sin(freq * xx + rng.uniform(0, 6)) * np.cos(0.5 * freq * yy)
    rgb = rng.integers(40, 200, 3) + 50 * wave[..., None] + rng.normal(0, 5, (size, size, 3))
    return Scene(f"S{k}", np.clip(rgb, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    scenes = [_scene(k) for k in range(5)]
    splits = split_scenes([s.id for s in scenes], 0.4, seed=0)
    ds = sample_triplets(scenes, n=20, tile_px=T, neighbour_offset=0.5, seed=2, min_valid=0.0, splits=splits)
    return write_triplets(ds, tmp_path_factory.mktemp("triplets") / "triplets.zarr")


def _ckpt_assignments(ckpt_dir) -> dict[int, torch.Tensor]:
    return torch.load(ckpt_dir / "last.ckpt", map_location="cpu", weights_only=False)["deepcluster_assignments"]


@pytest.fixture(scope="module")
def trained(store, tmp_path_factory):
    root = tmp_path_factory.mktemp("deepcluster")
    path = train_deepcluster(store, root / "out", root / "ckpt", CFG, seed=0)
    return path, pd.read_csv(root / "out" / "history.csv"), root / "ckpt"


# --------------------------------------------------------------------------------------------
# the clustering
# --------------------------------------------------------------------------------------------
def test_cluster_features_whitens_normalises_and_runs_seeded_kmeans():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 5, (3, 12))
    x = np.concatenate([c + rng.normal(0, 1, (40, 12)) for c in centres]) * rng.uniform(0.1, 10, 12)
    c = cluster_features(x, k=3, pca_dim=6, seed=4)
    assert c.whitening.shape == (6, 12) and c.centroids.shape == (3, 6) and c.labels.shape == (120,)
    # whitened (before the L2 norm): unit variance, uncorrelated
    z = (x - c.mean) @ c.whitening.T.astype(np.float64)
    np.testing.assert_allclose(np.cov(z, rowvar=False), np.eye(6), atol=1e-4)
    unit = c.transform(x)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, rtol=1e-12)
    # scikit-learn's k-means on the same points with the same seed; the labels are the nearest centroids
    ref = KMeans(3, init="k-means++", n_init=1, random_state=4).fit(unit)
    np.testing.assert_array_equal(c.labels, ref.labels_)
    np.testing.assert_array_equal(c.assign(x), c.labels)
    # three blobs span two whitened dimensions: clustered exactly there
    truth = np.repeat([0, 1, 2], 40)
    assert normalized_mutual_info_score(truth, cluster_features(x, k=3, pca_dim=2, seed=4).labels) == 1.0
    again = cluster_features(x, k=3, pca_dim=6, seed=4)
    assert all(np.array_equal(getattr(c, f), getattr(again, f)) for f in ("mean", "whitening", "centroids", "labels"))
    # pca_dim is capped at n - 1 and at the channels
    assert cluster_features(x[:5], k=2, pca_dim=6, seed=0).whitening.shape == (4, 12)
    assert cluster_features(x, k=2, pca_dim=50, seed=0).whitening.shape == (12, 12)
    with pytest.raises(ConfigError, match="between 2 and the number of tiles"):
        cluster_features(x[:5], k=6, pca_dim=6, seed=0)


def test_cluster_weights_are_inverse_frequencies():
    w = cluster_weights(np.array([0, 0, 0, 1, 2, 2]), k=4)
    np.testing.assert_allclose(w, [6 / (3 * 3), 6 / (3 * 1), 6 / (3 * 2), 0.0])
    # every non-empty cluster weighs the same in total: uniform sampling over clusters, in expectation
    np.testing.assert_allclose(w[[0, 0, 0, 1, 2, 2]].reshape(-1) @ np.eye(4)[[0, 0, 0, 1, 2, 2]], [2, 2, 2, 0])


def test_network_buffers_embedding_and_assignment():
    torch.manual_seed(0)
    net = build_deepcluster("resnet18", "random", "shallow", k=3, pca_dim=5).eval()
    assert net.channels == 64 and net.dim == 5 and net.k == 3
    assert {"pca_mean", "pca_whitening", "centroids"} <= set(net.state_dict())  # persistent
    assert not any(k.startswith("normalize.") for k in net.state_dict())  # ImageNet statistics are not
    x = torch.rand(30, 3, T, T)
    with torch.no_grad():
        features = net.features(x).numpy()
        c = cluster_features(features, 3, 5, seed=1)
        net.set_clustering(c)
        z, assigned, logits = net.embedding(x), net.assign(x), net(x)
    assert z.shape == (30, 5) and logits.shape == (30, 3)
    np.testing.assert_allclose(z.numpy(), c.transform(features), atol=1e-4)
    np.testing.assert_array_equal(assigned.numpy(), c.assign(features))
    with pytest.raises(ConfigError, match="pca_dim must be between 1 and the 64"):
        build_deepcluster("resnet18", "random", "shallow", k=3, pca_dim=65)
    with pytest.raises(ConfigError, match="k must be at least 2"):
        build_deepcluster("resnet18", "random", "shallow", k=1, pca_dim=5)


def test_recluster_reinitialises_the_top_layer_by_seed_and_clears_its_optimiser_state(store):
    torch.manual_seed(0)
    net = build_deepcluster("resnet18", "random", "shallow", k=3, pca_dim=5)
    data = load_triplet_data(store)
    tiles = split_tiles(data, "train")
    assert len(tiles) == 3 * len(data.splits["train"])
    task = DeepClusterTask(net, pca_dim=5, seed=7, feature_batch=16, learning_rate=1e-3, lr_factor=0.5,
                           lr_patience=1, min_lr=0.0)
    task.set_tiles(tiles, len(tiles) - 6)  # the last 6 tiles play the validation tiles
    optimizer = torch.optim.Adam(net.parameters())
    task.recluster(0)
    first = net.top.weight.detach().clone()
    assert float(first.std()) == pytest.approx(0.01, rel=0.3) and not net.top.bias.any()
    assert task.labels.shape == (len(tiles),) and set(task.assignments) == {0}
    net.train()
    torch.nn.functional.cross_entropy(net(tiles[:8].float() / 255), task.labels[:8]).backward()
    optimizer.step()
    assert net.top.weight in optimizer.state and net.base.conv1.weight in optimizer.state
    task.reset_top(0, [optimizer])
    assert torch.equal(net.top.weight, first)  # (seed, epoch) draws the same layer
    assert net.top.weight not in optimizer.state and net.top.bias not in optimizer.state
    assert net.base.conv1.weight in optimizer.state  # the features keep their moments
    task.reset_top(1, [optimizer])
    assert not torch.equal(net.top.weight, first)
    # validation tiles get their nearest centroid
    clustering, val_labels = task.cluster(0)
    net.set_clustering(clustering)
    with torch.no_grad():
        np.testing.assert_array_equal(net.eval().assign(tiles[-6:].float() / 255).numpy(), val_labels)


# --------------------------------------------------------------------------------------------
# training through the shared engine
# --------------------------------------------------------------------------------------------
def test_trains_keeps_the_last_epoch_and_logs_the_stability_curve(trained):
    path, history, ckpt = trained
    assert path.name == "model.pt" and list(history.columns) == HISTORY_COLUMNS
    assert history["epoch"].tolist() == [0, 1, 2]  # no early stopping (patience 0)
    record = load_model_file(path, kind=MODEL_KIND)
    assert record.settings["best_epoch"] == 2 and record.settings["epochs_run"] == 3
    assert np.isnan(history["nmi_previous"].iloc[0])
    assignments = _ckpt_assignments(ckpt)
    assert sorted(assignments) == [0, 1, 2]
    for e in (1, 2):
        assert history["nmi_previous"].iloc[e] == pytest.approx(
            normalized_mutual_info_score(assignments[e - 1].numpy(), assignments[e].numpy()))
    assert history[["train_loss", "val_loss", "train_acc", "val_acc"]].notna().all().all()
    assert (history["empty_clusters"] == 0).all()
    n = record.settings["n_tiles"]
    assert sum(record.settings["cluster_sizes"]["train"]) == n["train"] == len(assignments[0])
    assert sum(record.settings["cluster_sizes"]["val"]) == n["val"]


def test_model_file_keeps_the_final_clustering(trained, store, tmp_path):
    path, _, _ = trained
    record = load_model_file(path, kind=MODEL_KIND)
    assert record.arch == {"backbone": "resnet18", "cut": "shallow", "k": 3, "pca_dim": 8, "channels": 64,
                           "tile_px": T, "in_channels": 3}
    net, _ = load_deepcluster(path, device="cpu")
    assert not net.training and net.dim == 8
    assert all(torch.equal(v, record.weights[k]) for k, v in net.state_dict().items())
    assert float(net.centroids.abs().sum()) > 0 and float(net.pca_whitening.abs().sum()) > 0
    # the stored clustering is k-means of the final features: the training tiles' clusters are its labels
    tiles = split_tiles(load_triplet_data(store), "train")
    with torch.no_grad():
        x = tiles.float() / 255
        features = net.features(x).numpy()
        assigned = net.assign(x).numpy()
        z = net.embedding(x).numpy()
    # as epoch 3 (the one after the last) would have clustered them: its seed
    expected = cluster_features(features, 3, 8, seed=_seed(0, 3, _KMEANS_SALT))
    np.testing.assert_allclose(net.pca_mean.numpy(), expected.mean, atol=1e-5)
    np.testing.assert_allclose(net.centroids.numpy(), expected.centroids, atol=1e-4)
    np.testing.assert_array_equal(assigned, expected.labels)
    assert z.shape == (len(tiles), 8) and np.allclose(np.linalg.norm(z, axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(np.bincount(assigned, minlength=3), record.settings["cluster_sizes"]["train"])
    other = save_model_file(tmp_path / "other.pt", kind="clouds.tile2vec", weights={}, arch={})
    with pytest.raises(InputFileError, match="other.pt"):
        load_deepcluster(other)


def test_resume_after_a_kill_equals_the_uninterrupted_run_and_runs_are_deterministic(trained, store, tmp_path,
                                                                                      monkeypatch):
    ref_path, ref_history, ref_ckpt = trained
    ref = load_model_file(ref_path)

    # killed at the start of epoch 2 (epochs 0 and 1 done), then rerun with the same checkpoint folder
    def crash(self):
        if self.current_epoch == 2:
            raise RuntimeError("simulated kill")
        original(self)

    original = DeepClusterTask.on_train_epoch_start
    monkeypatch.setattr(DeepClusterTask, "on_train_epoch_start", crash)
    with pytest.raises(RuntimeError, match="simulated kill"):
        train_deepcluster(store, tmp_path / "out", tmp_path / "ckpt", CFG, seed=0)
    monkeypatch.undo()
    assert sorted(_ckpt_assignments(tmp_path / "ckpt")) == [0, 1]
    path = train_deepcluster(store, tmp_path / "out", tmp_path / "ckpt", CFG, seed=0)
    resumed = load_model_file(path)
    assert resumed.weights.keys() == ref.weights.keys()
    assert all(torch.equal(resumed.weights[k], ref.weights[k]) for k in ref.weights)  # bitwise, buffers too
    a, b = _ckpt_assignments(tmp_path / "ckpt"), _ckpt_assignments(ref_ckpt)
    assert sorted(a) == sorted(b) == [0, 1, 2] and all(torch.equal(a[e], b[e]) for e in a)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "out" / "history.csv"), ref_history)

    # an independent run with the same seed: identical (CPU determinism); another seed: different
    again = load_model_file(train_deepcluster(store, tmp_path / "out2", tmp_path / "ckpt2", CFG, seed=0))
    assert all(torch.equal(again.weights[k], ref.weights[k]) for k in ref.weights)
    a = _ckpt_assignments(tmp_path / "ckpt2")
    assert all(torch.equal(a[e], b[e]) for e in b)
    other = load_model_file(train_deepcluster(store, tmp_path / "out3", tmp_path / "ckpt3", CFG, seed=1))
    assert not torch.equal(other.weights["top.weight"], ref.weights["top.weight"])


def test_bad_settings_and_stores(store, tmp_path):
    with pytest.raises(ConfigError, match=r"deepcluster.k \(500\) exceeds the .* training tiles"):
        train_deepcluster(store, tmp_path / "o", tmp_path / "c", {**CFG, "k": 500}, seed=0)
    with pytest.raises(ConfigError, match="deepcluster.backbone"):
        train_deepcluster(store, tmp_path / "o", tmp_path / "c", {**CFG, "backbone": "alexnet"}, seed=0)
    with pytest.raises(ConfigError, match="pca_dim"):
        train_deepcluster(store, tmp_path / "o", tmp_path / "c", {**CFG, "pca_dim": 0}, seed=0)
    with pytest.raises(ConfigError, match="deepcluster: missing key"):
        train_deepcluster(store, tmp_path / "o", tmp_path / "c", {k: v for k, v in CFG.items() if k != "k"}, seed=0)
    with pytest.raises(ConfigError, match="mixed_precision"):
        train_deepcluster(store, tmp_path / "o", tmp_path / "c",
                          {**CFG, "training": {k: v for k, v in TRAINING.items() if k != "mixed_precision"}}, seed=0)
    # a store whose every scene trains: no validation tiles
    scenes = [_scene(k) for k in range(3)]
    ds = sample_triplets(scenes, n=6, tile_px=T, neighbour_offset=0.5, seed=0, min_valid=0.0,
                         splits={s.id: "train" for s in scenes})
    lonely = write_triplets(ds, tmp_path / "train_only.zarr")
    with pytest.raises(InputFileError, match="train_only.zarr.*val split holds no triplet"):
        train_deepcluster(lonely, tmp_path / "o", tmp_path / "c", CFG, seed=0)


def test_examples_figure_has_one_row_per_cluster(tmp_path):
    rng = np.random.default_rng(0)
    tiles = rng.integers(0, 256, (20, 16, 16, 3), dtype=np.uint8)
    clusters = np.array([0, 2, 5] * 6 + [2, 2])
    _, axes = deepcluster_examples_figure(tiles, clusters, n_per_cluster=4)
    assert axes.shape == (3, 4)
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["0\n(n=6)", "2\n(n=8)", "5\n(n=6)"]
    np.testing.assert_array_equal(axes[1, 1].images[0].get_array(), tiles[4])  # 2nd tile of cluster 2
    png, svg = plot_deepcluster_examples(tiles, clusters, tmp_path / "examples.png", n_per_cluster=3)
    assert png.exists() and svg.exists()
    with pytest.raises(ValueError, match="one cluster per tile"):
        deepcluster_examples_figure(tiles, clusters[:5])
