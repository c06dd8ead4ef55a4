"""Tests of the synthetic Sentinel-1 EW GRDM demo products and ice charts (eoml.seaice.demo)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_gcps

from eoml.core.errors import ConfigError
from eoml.seaice.charts import ICE, IGNORE, WATER, rasterize_chart, read_ice_chart
from eoml.seaice.demo import (
    DEMO_SCENES,
    demo_plan,
    generate_demo,
    season_of,
    simulate_scene,
)
from eoml.seaice.readers import open_safe, parse_annotation, parse_noise, read_safe

SIZE = 300
CFG = {"size": SIZE, "seed": 13}
SCENES = [("jan", "2019-01-14T08:12:31"), ("jul", "2019-07-17T08:12:28")]
NAME_RE = re.compile(r"^S1A_EW_GRDM_1SDH_(\d{8}T\d{6})_(\d{8}T\d{6})_(\d{6})_([0-9A-F]{6})_([0-9A-F]{4})\.SAFE$")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> list[dict]:
    return generate_demo(tmp_path_factory.mktemp("demo"), CFG, SCENES)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_defaults_cover_required_months() -> None:
    months = {int(t[5:7]) for _, t in DEMO_SCENES}
    assert {1, 2, 6, 7, 8, 12} <= months and len(months) >= 8
    assert {season_of(m) for m in months} == {"winter", "melt", "freeze-up"}


def test_plan_matches_files(demo, tmp_path) -> None:
    plan = demo_plan(demo[0]["safe"].parent, CFG, SCENES)
    assert [(p["scene_id"], p["safe"], p["chart"]) for p in plan] == \
        [(p["scene_id"], p["safe"], p["chart"]) for p in demo]
    assert [p["season"] for p in plan] == ["winter", "melt"]
    assert not list(tmp_path.iterdir()) and demo_plan(tmp_path, CFG, SCENES)  # planning writes nothing
    assert not list(tmp_path.iterdir())
    for p in plan:
        m = NAME_RE.match(p["safe"].name)
        assert m and m.group(1) == p["time"].replace("-", "").replace(":", "")[:15]
        assert p["safe"].is_dir() and p["chart"].is_file()
        prod = open_safe(p["safe"])
        assert prod.polarisations == ("HH", "HV")
        names = set(_files(p["safe"]))
        for pol in ("HH", "HV"):
            for rel in prod.files[pol].values():
                assert rel in names
        manifest = (p["safe"] / "manifest.safe").read_text()
        for rel in names - {"manifest.safe"}:
            assert f'href="./{rel}"' in manifest
    # no temporary leftovers next to the products
    assert not [q for q in demo[0]["safe"].parent.iterdir() if q.name.startswith(".")]


def test_annotation_structure(demo) -> None:
    prod = open_safe(demo[0]["safe"])
    ann = parse_annotation(prod.read_bytes(prod.files["HV"]["annotation"]))
    assert ann["shape"] == (SIZE, SIZE) and ann["mode"] == "EW" and ann["polarisation"] == "HV"
    assert ann["grid"]["latitude"].shape == (10, 21)
    assert 60 < np.nanmin(ann["grid"]["latitude"]) and np.nanmax(ann["grid"]["longitude"]) < -10
    xml = prod.read_bytes(prod.files["HV"]["annotation"]).decode()
    assert "<rangePixelSpacing>4.000000e+01</rangePixelSpacing>" in xml
    noise = parse_noise(prod.read_bytes(prod.files["HV"]["noise"]))
    assert not noise["legacy"] and noise["azimuth"][0]["first_sample"] == 0
    assert len(noise["azimuth"]) == 5 and noise["azimuth"][-1]["last_sample"] == SIZE - 1
    # the noise floor is scalloped: higher at the sub-swath seams than at their centres
    rng = noise["range"]
    px, val = np.asarray(rng["pixels"][0]), np.asarray(rng["values"][0])
    seam = noise["azimuth"][0]["last_sample"]
    centre = (noise["azimuth"][0]["first_sample"] + seam) // 2
    assert np.interp(seam, px, val) > 1.8 * np.interp(centre, px, val)
    with rasterio.open(prod.gdal_path(prod.files["HH"]["measurement"])) as src:
        gcps, crs = src.gcps
        assert src.dtypes[0] == "uint16" and len(gcps) == 210 and crs.to_epsg() == 4326
        assert src.profile["compress"] == "deflate" and src.profile["tiled"]


def test_read_safe_recovers_sigma0(demo) -> None:
    for scene in demo:
        truth = simulate_scene(scene)
        ds = read_safe(scene["safe"], ("HH", "HV"), floor=-1.0)  # keep negatives: unbiased mean
        inc = ds["incidence_deg"].values
        assert inc.min() == pytest.approx(19.0, abs=0.2) and inc.max() == pytest.approx(47.0, abs=0.2)
        assert np.all(np.diff(inc[0]) > 0)
        for pol in ("HH", "HV"):
            got = ds[f"sigma0_{pol}"].values
            for lab in (WATER, ICE):
                m = truth["label"] == lab
                assert m.sum() > 2000
                assert np.mean(got[m]) == pytest.approx(truth[f"sigma0_{pol}"][m].mean(), rel=0.10)
            # speckle: per-pixel ratio to truth over bright, well-above-noise pixels has ENL ~ 4-5
            bright = truth["label"] == 255 if pol == "HH" else None
            if bright is not None:
                r = got[bright] / truth["sigma0_HH"][bright]
                assert 3.5 < r.mean() ** 2 / r.var() < 5.5
        # the default reader turns weak, noise-dominated HV water into NaN (below the noise floor)
        default = read_safe(scene["safe"], ("HV",))["sigma0_HV"].values
        assert np.isnan(default[truth["label"] == WATER]).mean() > np.isnan(default[truth["label"] == 255]).mean()


def test_chart_rasterizes_onto_scene(demo) -> None:
    for scene in demo:
        chart = read_ice_chart(scene["chart"])
        assert {f["properties"]["POLY_TYPE"] for f in chart["features"]} == {"W", "I", "L"}
        prod = open_safe(scene["safe"])
        with rasterio.open(prod.gdal_path(prod.files["HH"]["measurement"])) as src:
            gcps, crs = src.gcps
            shape = (src.height, src.width)
        lab = rasterize_chart(chart, from_gcps(gcps), shape, crs=crs)
        frac = {k: float(np.mean(lab == k)) for k in (WATER, ICE, IGNORE)}
        assert sum(frac.values()) == pytest.approx(1.0)
        assert 0.15 < frac[WATER] < 0.6 and 0.25 < frac[ICE] < 0.75 and 0.05 < frac[IGNORE] < 0.25
        truth = simulate_scene(scene)["label"]
        assert np.mean((lab == IGNORE) == (truth == 255)) > 0.99  # land agrees to the boundary pixels
        valid = lab != IGNORE
        agree = np.mean(lab[valid] == truth[valid])
        assert 0.7 < agree < 0.98  # truth up to chart generalisation (MIZ charted as ice)


def _contrast_db(sig: np.ndarray, label: np.ndarray) -> float:
    """Mean over incidence columns holding both classes of |mean dB(ice) - mean dB(water)|."""
    out = []
    db = 10 * np.log10(np.clip(sig, 1e-6, None))
    for j in range(sig.shape[1]):
        w, i = label[:, j] == WATER, label[:, j] == ICE
        if w.sum() > 20 and i.sum() > 20:
            out.append(db[i, j].mean() - db[w, j].mean())
    assert len(out) > 10
    return abs(float(np.mean(out)))


def test_melt_season_lowers_contrast(demo) -> None:
    jan, jul = demo
    tj, tl = simulate_scene(jan), simulate_scene(jul)
    sj = read_safe(jan["safe"], floor=1e-5)
    sl = read_safe(jul["safe"], floor=1e-5)
    hh_jan = _contrast_db(sj["sigma0_HH"].values, tj["label"])
    hh_jul = _contrast_db(sl["sigma0_HH"].values, tl["label"])
    assert hh_jan > 3.0 and hh_jul < hh_jan - 2.0
    # in winter HV separates ice from water better than HH
    assert _contrast_db(tj["sigma0_HV"], tj["label"]) > _contrast_db(tj["sigma0_HH"], tj["label"])
    # melt-season open water is wind-roughened: brighter in HH than winter water at equal incidence
    cols = slice(SIZE // 10, SIZE // 4)
    wj = tj["sigma0_HH"][:, cols][tj["label"][:, cols] == WATER].mean()
    wl = tl["sigma0_HH"][:, cols][tl["label"][:, cols] == WATER].mean()
    assert wl > 1.5 * wj


def test_deterministic_bytes(demo, tmp_path) -> None:
    again = generate_demo(tmp_path, CFG, SCENES[:1])
    assert _files(again[0]["safe"]) == _files(demo[0]["safe"])
    assert again[0]["chart"].read_bytes() == demo[0]["chart"].read_bytes()
    other = generate_demo(tmp_path / "other", {**CFG, "seed": 14}, SCENES[:1])
    a, b = _files(other[0]["safe"]), _files(demo[0]["safe"])
    tiff_a = sorted(v for k, v in a.items() if k.endswith(".tiff"))
    tiff_b = sorted(v for k, v in b.items() if k.endswith(".tiff"))
    assert len(tiff_a) == len(tiff_b) == 2 and not set(tiff_a) & set(tiff_b)  # another seed, other data


def test_config_errors(tmp_path) -> None:
    with pytest.raises(ConfigError, match="unknown"):
        demo_plan(tmp_path, {**CFG, "sise": 300})
    with pytest.raises(ConfigError, match=r"seaice.demo: missing key\(s\) seed \(the schema fills them"):
        demo_plan(tmp_path, {"size": 300})
    with pytest.raises(ConfigError, match="size"):
        demo_plan(tmp_path, {**CFG, "size": 10})
    with pytest.raises(ConfigError, match="bad time"):
        demo_plan(tmp_path, CFG, [("x", "2019-13-45")])
