"""aot demo generator: the plan, the gap, both formats holding the same field (read back with the
real readers), the physics the study relies on (Saharan dust plume in JJA only, a few percent of
high-AOT pixels, persistence that a model can beat) and determinism."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from eoml.aot import demo, readers
from eoml.core.errors import ConfigError

CFG = {"first_year": 2002, "years": 1, "seed": 5, "neo_width": 360, "missing_periods": ["2002-07-04"]}


def _keep_only(first_year: int, keep: set[str]) -> list[str]:
    """missing_periods that leave only the composites starting on the dates in ``keep``."""
    return [f"{d:%Y-%m-%d}" for d in demo.composite_starts(first_year, 1) if f"{d:%Y-%m-%d}" not in keep]


@pytest.fixture(scope="module")
def year(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("aot_demo")
    demo.generate_demo(out, CFG)
    return out, demo.demo_plan(out, CFG)


@pytest.fixture(scope="module")
def neo(year) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times, AOT (N, 180, 360) read by the NEO reader, lat) of the demo year."""
    _, plan = year
    data = [readers.read_neo_geotiff(p) for p in plan["neo_geotiff"]]
    return (np.array([d["time"].values for d in data]), np.stack([d["aot"].values for d in data]),
            data[0]["lat"].values, data[0]["lon"].values)


def test_plan_lists_exactly_the_files_written_in_time_order(year):
    out, plan = year
    assert sorted(out.rglob("*")) == sorted([out / "neo", out / "mod08_e3", *plan["neo_geotiff"], *plan["mod08_e3"]])
    for files in plan.values():
        times = [readers.parse_date(p) for p in files]
        assert len(times) == 45 and times == sorted(times)
    assert plan["neo_geotiff"][0].name == "MODAL2_E_AER_OD_2002-01-01_rgb_360x180.FLOAT.TIFF"
    assert plan["mod08_e3"][0].name.startswith("MOD08_E3.A2002001.061.")


def test_gap_left_out_of_both_formats(year):
    _, plan = year
    for files in plan.values():
        times = [readers.parse_date(p) for p in files]
        assert np.datetime64("2002-07-04") not in times
        assert np.datetime64("2002-06-26") in times and np.datetime64("2002-07-12") in times
        periods = [(t.astype("datetime64[D]") - np.datetime64("2002-01-01")).astype(int) // 8 for t in times]
        assert np.diff(periods).tolist().count(2) == 1 and set(np.diff(periods)) == {1, 2}


def test_both_formats_hold_the_same_field(year):
    _, plan = year
    for k in (0, 20, 44):
        a = readers.read_neo_geotiff(plan["neo_geotiff"][k])
        b = readers.read_mod08_e3(plan["mod08_e3"][k])
        assert a["time"].values == b["time"].values
        np.testing.assert_array_equal(a["lat"].values, b["lat"].values)
        np.testing.assert_array_equal(a["lon"].values, b["lon"].values)
        x, y = a["aot"].values, b["aot"].values
        np.testing.assert_array_equal(np.isnan(x), np.isnan(y))
        assert np.nanmax(np.abs(x - y)) <= 0.0005 + 1e-6  # MOD08's 0.001 quantisation
        assert 0.2 < np.isnan(x).mean() < 0.6  # cloud gaps, polar night, ice sheets


def test_fine_neo_grid_averages_to_mod08(tmp_path):
    cfg = {**CFG, "neo_width": 720, "missing_periods": _keep_only(2002, {"2002-08-13"})}
    demo.generate_demo(tmp_path, cfg)
    plan = demo.demo_plan(tmp_path, cfg)
    a = readers.read_neo_geotiff(plan["neo_geotiff"][0])
    b = readers.read_mod08_e3(plan["mod08_e3"][0])
    assert a["aot"].shape == (360, 720) and b["aot"].shape == (180, 360)
    fine = a["aot"].values.reshape(180, 2, 360, 2)
    n = np.isfinite(fine).sum(axis=(1, 3))
    with np.errstate(invalid="ignore"):
        mean = np.nansum(fine, axis=(1, 3)) / n
    y = b["aot"].values
    np.testing.assert_array_equal(n == 0, np.isnan(y))
    assert np.nanmax(np.abs(mean - y)) <= 0.0005 + 1e-6
    assert ((n > 0) & (n < 4)).any()  # partly unread cells: averaged over their valid pixels only


def test_saharan_dust_plume_in_summer_only(neo):
    times, aot, lat, lon = neo
    month = (times.astype("datetime64[M]").astype(int) % 12) + 1
    box = (lat[:, None] > 12) & (lat[:, None] < 25) & (lon[None, :] > -40) & (lon[None, :] < -20)
    jja = aot[np.isin(month, (6, 7, 8))][:, box]
    djf = aot[np.isin(month, (12, 1, 2))][:, box]
    def high(x):
        return (x > 0.8).sum() / np.isfinite(x).sum()

    assert np.nanmean(jja) > 0.7 and high(jja) > 0.5
    assert np.nanmean(djf) < 0.5 and high(djf) < 0.2
    assert np.nanmean(jja) > 2 * np.nanmean(djf)
    # clean air far from the sources: maritime background ~0.1 over the south Pacific
    pacific = (lat[:, None] > -40) & (lat[:, None] < -20) & (lon[None, :] > -150) & (lon[None, :] < -100)
    assert 0.05 < np.nanmedian(aot[:, pacific]) < 0.2


def test_high_aot_fraction_and_persistence_at_4_degrees(neo):
    _, aot, lat, _ = neo
    coarse = np.stack([demo.block_mean(a, 4) for a in aot])
    valid = np.isfinite(coarse)
    high = coarse > 0.8  # unread = 0, as in the paper
    assert 0.05 <= high.sum() / valid.sum() <= 0.12
    prev, cur = high[:-1], high[1:]
    f1 = 2 * (prev & cur).sum() / (prev.sum() + cur.sum())
    assert 0.5 <= f1 <= 0.75
    # no retrievals in polar night: the Arctic in early January, the Antarctic in early July
    assert np.isnan(aot[0][lat > 75]).all() and np.isnan(aot[23][lat < -70]).all()


def test_deterministic_in_seed(tmp_path):
    cfg = {**CFG, "missing_periods": _keep_only(2002, {"2002-03-06", "2002-09-14"})}
    demo.generate_demo(tmp_path / "a", cfg)
    demo.generate_demo(tmp_path / "b", cfg)
    demo.generate_demo(tmp_path / "c", {**cfg, "seed": 6})
    files = [p for v in demo.demo_plan(tmp_path / "a", cfg).values() for p in v]
    assert len(files) == 4
    for p in files:
        q = tmp_path / "b" / p.relative_to(tmp_path / "a")
        assert p.read_bytes() == q.read_bytes(), p.name
    a = readers.read_neo_geotiff(files[0])["aot"].values
    c = readers.read_neo_geotiff(tmp_path / "c" / files[0].relative_to(tmp_path / "a"))["aot"].values
    assert not np.array_equal(np.isnan(a), np.isnan(c))
    # the composites a run keeps do not change the others' values
    day = readers.parse_date(files[0]).astype("datetime64[D]")
    whole = {np.datetime64(d, "D"): field for d, field in demo.neo_fields(2002, 1, 5, 360)}
    np.testing.assert_array_equal(whole[day], a)


@pytest.mark.parametrize("change, match", [
    ({"neo_width": 500}, "neo_width"),
    ({"years": 0}, "years"),
    ({"missing_periods": ["2002-07-05"]}, "not the first day"),
    ({"missing_periods": ["2002-13-01"]}, "not a YYYY-MM-DD"),
])
def test_bad_config(change, match, tmp_path):
    with pytest.raises(ConfigError, match=match):
        demo.demo_plan(tmp_path, {**CFG, **change})


def test_missing_key():
    cfg = dict(CFG)
    del cfg["seed"]
    with pytest.raises(ConfigError, match="seed"):
        demo.demo_plan("x", cfg)


def test_plan_at_parse_time_imports_no_heavy_library():
    code = ("import sys; from eoml.aot.demo import demo_plan; "
            f"p = demo_plan('out', {CFG!r}); assert len(p['neo_geotiff']) == 45; "
            "heavy = {'torch', 'scipy', 'sklearn', 'matplotlib', 'rasterio', 'pyhdf', 'xarray', 'global_land_mask'}; "
            "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
