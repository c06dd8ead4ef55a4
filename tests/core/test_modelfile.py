"""The one model-file format: round trip, atomic write, clear errors naming a bad or foreign file."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import eoml
from eoml.core.data import Normalizer
from eoml.core.errors import InputFileError
from eoml.core.modelfile import FORMAT_VERSION, load_model_file, load_network, save_model_file


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))


def test_round_trip(tmp_path):
    net = _net()
    norm = Normalizer([1.0, 2.0, 3.0], [0.5, 1.0, 2.0])
    path = save_model_file(tmp_path / "sub" / "model.pt", kind="demo.mlp", weights=net.state_dict(),
                           arch={"hidden": (4,), "n_in": 3}, norm=norm.to_dict(),
                           settings={"seed": 3, "best_epoch": 7, "lr": 1e-3})
    assert path == tmp_path / "sub" / "model.pt"
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]  # no temporary file left
    record = load_model_file(path, kind="demo.mlp")
    assert record.kind == "demo.mlp" and record.eoml_version == eoml.__version__
    assert record.arch == {"hidden": [4], "n_in": 3}  # stored as plain data
    assert record.settings == {"seed": 3, "best_epoch": 7, "lr": 1e-3}
    assert Normalizer.from_dict(record.norm) == norm
    again = _net()
    with torch.no_grad():
        for p in again.parameters():
            p.add_(1.0)
    again.load_state_dict(record.weights)
    for k, v in net.state_dict().items():
        assert torch.equal(v, again.state_dict()[k])
    # plain data only: the file loads without unpickling code
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "eoml-model" and raw["version"] == FORMAT_VERSION


def test_bad_and_foreign_files_are_named(tmp_path):
    with pytest.raises(InputFileError, match="none.pt: model file does not exist"):
        load_model_file(tmp_path / "none.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(InputFileError, match="junk.pt: not a readable eoml model file"):
        load_model_file(junk)
    state = tmp_path / "state.pt"  # a plain state_dict (someone else's torch file)
    torch.save(_net().state_dict(), state)
    with pytest.raises(InputFileError, match="state.pt: not an eoml model file"):
        load_model_file(state)
    code = tmp_path / "pickled.pt"  # arbitrary objects are refused, not unpickled
    torch.save({"format": "eoml-model", "net": _net()}, code)
    with pytest.raises(InputFileError, match="pickled.pt: not a readable eoml model file"):
        load_model_file(code)
    good = save_model_file(tmp_path / "good.pt", kind="demo.mlp", weights=_net().state_dict(), arch={})
    with pytest.raises(InputFileError, match="good.pt: holds a 'demo.mlp' model, not a 'demo.cnn' model"):
        load_model_file(good, kind="demo.cnn")
    newer = tmp_path / "newer.pt"
    raw = torch.load(good, weights_only=True)
    torch.save({**raw, "version": FORMAT_VERSION + 1}, newer)
    with pytest.raises(InputFileError, match="newer.pt: model file layout version"):
        load_model_file(newer)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(InputFileError, match="truncated.pt"):
        load_model_file(truncated)


def test_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = save_model_file(tmp_path / "model.pt", kind="demo.mlp", weights=_net().state_dict(), arch={"v": 1})

    def half_written(obj, f):  # a job killed while writing
        with open(f, "wb") as fh:
            fh.write(b"PK\x03\x04 partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", half_written)
    with pytest.raises(OSError, match="disk full"):
        save_model_file(path, kind="demo.mlp", weights=_net().state_dict(), arch={"v": 2})
    monkeypatch.undo()
    assert load_model_file(path).arch == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_load_network_rebuilds_loads_and_names_a_mismatch(tmp_path):
    net = _net()
    norm = Normalizer([1.0, 2.0, 3.0], [0.5, 1.0, 2.0])
    path = save_model_file(tmp_path / "model.pt", kind="demo.mlp", weights=net.state_dict(),
                           arch={"hidden": 4}, norm=norm.to_dict())

    def build(record):
        torch.manual_seed(1)  # other initial weights: the file's must replace them
        width = record.arch["hidden"]
        return (nn.Sequential(nn.Linear(3, width), nn.BatchNorm1d(width), nn.Linear(width, 1)),
                Normalizer.from_dict(record.norm))

    loaded, record, parsed = load_network(path, "demo.mlp", build, "cpu")
    assert not loaded.training and parsed == norm and record.arch == {"hidden": 4}
    for k, v in net.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])

    wrong = save_model_file(tmp_path / "wrong.pt", kind="demo.mlp", weights=net.state_dict(),
                            arch={"hidden": 5}, norm=norm.to_dict())
    with pytest.raises(InputFileError, match=r"wrong\.pt.*do not match"):
        load_network(wrong, "demo.mlp", build)
    no_norm = save_model_file(tmp_path / "no_norm.pt", kind="demo.mlp", weights=net.state_dict(),
                              arch={"hidden": 4}, norm={"mean": [1.0]})
    with pytest.raises(InputFileError, match=r"no_norm\.pt"):
        load_network(no_norm, "demo.mlp", build)
    with pytest.raises(InputFileError, match="not a 'demo.cnn' model"):
        load_network(path, "demo.cnn", build)
