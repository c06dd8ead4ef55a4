"""The generated UC Merced-layout demo dataset (eoml.scenes.demo)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from eoml.core.errors import ConfigError
from eoml.scenes import demo
from eoml.scenes.demo import CLASSES, demo_plan, generate_demo, render_scene
from eoml.scenes.readers import list_image_files, read_image, scan_dataset

CFG = {"classes": ["water", "forest", "runway"], "n_per_class": 3, "size": 48, "seed": 5}


def _bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return generate_demo(tmp_path_factory.mktemp("demo"), CFG)


def test_plan_layout_and_reader(tree, tmp_path):
    plan = demo_plan(tree, CFG)
    assert [p.relative_to(tree).as_posix() for p in plan[:4]] == [
        "UCMerced_LandUse/Images/forest/forest00.tif", "UCMerced_LandUse/Images/forest/forest01.tif",
        "UCMerced_LandUse/Images/forest/forest02.tif", "UCMerced_LandUse/Images/runway/runway00.tif"]
    assert list_image_files(tree, "ucmerced") == plan  # the reader finds exactly the planned files
    assert demo_plan(tmp_path, CFG) and not list(tmp_path.iterdir())  # planning writes nothing
    listing = scan_dataset(tree, "ucmerced")
    assert listing.classes == ("forest", "runway", "water")
    assert listing.counts() == {"forest": 3, "runway": 3, "water": 3}
    assert set(listing.sizes) == {(48, 48)}
    with tifffile.TiffFile(plan[0]) as tif:  # as the real archive: uncompressed 8-bit RGB TIFF
        page = tif.pages[0]
        assert page.compression == 1 and page.photometric == 2 and page.dtype == np.uint8
        assert page.shape == (48, 48, 3)
    assert not [p for p in tree.iterdir() if p.name.startswith(".")]  # no temporary folder left
    names = [p.name for p in demo_plan(tree, {**CFG, "n_per_class": 101})]
    assert names[0] == "forest000.tif" and names[100] == "forest100.tif"


def test_bytes_identical_for_a_seed(tree, tmp_path):
    again = generate_demo(tmp_path / "again", CFG)
    assert _bytes(again) == _bytes(tree)
    other = generate_demo(tmp_path / "other", {**CFG, "seed": 6})
    b0, b1 = _bytes(tree), _bytes(other)
    assert b0.keys() == b1.keys() and all(b0[k] != b1[k] for k in b0)
    # a class's images do not depend on the other classes generated
    sub = generate_demo(tmp_path / "sub", {**CFG, "classes": ["forest", "beach"]})
    forest = {k: v for k, v in _bytes(sub).items() if "/forest/" in k}
    assert forest and all(b0[k] == v for k, v in forest.items())


def test_every_class_renders_a_structured_image():
    for k, name in enumerate(CLASSES):
        img = render_scene(name, 64, np.random.default_rng(k))
        assert img.shape == (64, 64, 3) and img.dtype == np.uint8
        grey = img.astype(float).mean(axis=2)
        assert 10 < grey.mean() < 245, name  # neither black nor saturated
        assert grey.std() > 3, name  # texture, not a flat colour
        assert (img == 0).mean() < 0.05 and (img == 255).mean() < 0.05, name  # little clipping
    # the same stream gives the same image; scenes of one class vary
    a, b = (render_scene("forest", 48, np.random.default_rng(1)) for _ in range(2))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, render_scene("forest", 48, np.random.default_rng(2)))


def test_config_errors(tmp_path):
    bad = [({**CFG, "classes": ["water", "lava"]}, "unknown class\\(es\\) lava"),
           ({**CFG, "classes": ["water"]}, "at least two classes"),
           ({**CFG, "classes": ["water", "water"]}, "duplicate"),
           ({**CFG, "n_per_class": 0}, "scenes.demo.n_per_class: must be an integer >= 1"),
           ({**CFG, "size": 16}, "scenes.demo.size: must be an integer >= 32"),
           ({**CFG, "seed": -1}, "scenes.demo.seed"),
           ({**CFG, "colour": 1}, "unknown key\\(s\\) colour"),
           ({k: v for k, v in CFG.items() if k != "seed"}, "missing key\\(s\\) seed")]
    for cfg, message in bad:
        with pytest.raises(ConfigError, match=message):
            generate_demo(tmp_path, cfg)
    assert not list(tmp_path.iterdir())


def test_interrupted_generation_leaves_no_tree(tmp_path, monkeypatch):
    calls = []

    def failing(name, size, rng):
        calls.append(name)
        if len(calls) == 4:
            raise RuntimeError("interrupted")
        return np.zeros((size, size, 3), np.uint8)

    monkeypatch.setattr(demo, "render_scene", failing)
    with pytest.raises(RuntimeError, match="interrupted"):
        generate_demo(tmp_path, CFG)
    assert list(tmp_path.iterdir()) == []


def test_images_read_back_exactly(tree):
    path = demo_plan(tree, CFG)[0]
    expected = render_scene("forest", 48, demo._image_rng(CFG["seed"], "forest", 0))
    assert np.array_equal(read_image(path), expected)
