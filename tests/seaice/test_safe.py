"""Tests of the Sentinel-1 SAFE reader against the real IW GRDH sample's XMLs (no tiff in the
sample: a synthetic sparse uint16 GeoTIFF of the annotated size is paired with them)."""

from __future__ import annotations

import shutil
import zipfile

import numpy as np
import pytest
from seaice_safe import (
    DN_BLOCK,
    DN_POINTS,
    S1_ZIP,
    extract_xmls,
    legacy_noise_xml,
    write_measurement,
)

from eoml.core.errors import InputFileError
from eoml.seaice.readers import (
    azimuth_noise,
    interpolate_grid,
    interpolate_lut,
    open_safe,
    parse_annotation,
    parse_calibration,
    parse_noise,
    read_safe,
    sigma0,
    to_db,
)

pytestmark = pytest.mark.realdata(S1_ZIP)
STEP = 50


@pytest.fixture(scope="module")
def safe(tmp_path_factory):
    root = extract_xmls(tmp_path_factory.mktemp("s1"))
    ann = parse_annotation(next((root / "annotation").glob("s1a-*-vv-*.xml")).read_bytes())
    g = ann["grid"]
    gcps = [(ln, px, g["longitude"][i, j], g["latitude"][i, j])
            for i, ln in enumerate(g["line"]) for j, px in enumerate(g["pixel"])]
    for pol in ("vv", "vh"):
        write_measurement(root, pol, ann["shape"], gcps)
    return root


@pytest.fixture(scope="module")
def ds(safe):
    return read_safe(safe, ("VV", "VH"), step=STEP)


def _xml(prod, pol, kind):
    return prod.read_bytes(prod.files[pol][kind])


def test_real_zip_xmls_parse():
    prod = open_safe(S1_ZIP, require_measurement=False)
    assert prod.polarisations == ("VV", "VH")
    assert prod.files["VH"]["measurement"] is None
    ann = parse_annotation(_xml(prod, "VV", "annotation"))
    assert ann["shape"] == (16854, 25931)
    assert (ann["mission"], ann["mode"], ann["product_type"], ann["pass"]) == ("S1A", "IW", "GRD", "Descending")
    assert ann["polarisation"] == "VV" and ann["first_line_time"].startswith("2021-01-19T03:16:53")
    g = ann["grid"]
    assert g["latitude"].shape == (10, 21) and not np.isnan(g["incidence_angle"]).any()
    assert g["line"][-1] == 16853 and g["pixel"][-1] == 25930
    cal = parse_calibration(_xml(prod, "VH", "calibration"))
    assert cal["lines"].shape == (27,) and np.asarray(cal["sigma0"]).shape == (27, 650)
    assert np.all(np.asarray(cal["sigma0"]) > 0)
    noise = parse_noise(_xml(prod, "VV", "noise"))
    assert not noise["legacy"] and len(noise["range"]["lines"]) == 27
    assert np.asarray(noise["range"]["values"]).shape == (27, 653)
    assert [(b["first_sample"], b["last_sample"]) for b in noise["azimuth"]] == [(0, 8742), (8743, 17561), (17562, 25930)]
    assert [b["lines"].size for b in noise["azimuth"]] == [1702, 1704, 1702]


def test_zip_without_measurement_is_rejected():
    with pytest.raises(InputFileError, match=r"missing measurement/s1a-iw-grd-v[vh]-.*\.tiff"):
        open_safe(S1_ZIP)


def test_missing_calibration_named(tmp_path):
    root = extract_xmls(tmp_path, skip=("calibration-s1a-iw-grd-vh",))
    with pytest.raises(InputFileError) as err:
        open_safe(root, require_measurement=False)
    assert "missing annotation/calibration/calibration-s1a-iw-grd-vh-20210119t031653" in str(err.value)
    assert str(root) in str(err.value)


def test_missing_noise_and_annotation_named(tmp_path):
    root = extract_xmls(tmp_path / "a", skip=("noise-s1a-iw-grd-vv",))
    with pytest.raises(InputFileError, match=r"missing annotation/calibration/noise-s1a-iw-grd-vv-.*-001\.xml"):
        open_safe(root, require_measurement=False)
    root = extract_xmls(tmp_path / "b", skip=("annotation/s1a-iw-grd-vh",))
    with pytest.raises(InputFileError, match=r"missing annotation/s1\?-iw-grd-vh-\*\.xml"):
        open_safe(root, require_measurement=False)


def test_interpolate_lut_knots_and_ragged_vectors():
    prod = open_safe(S1_ZIP, require_measurement=False)
    cal = parse_calibration(_xml(prod, "VV", "calibration"))
    lines, px, lut = cal["lines"], np.asarray(cal["pixels"]), np.asarray(cal["sigma0"])
    out = interpolate_lut(lines, px, lut, (16854, 25931), rows=lines[[0, 5]], cols=px[0, [0, 3, 100]])
    np.testing.assert_allclose(out, lut[np.ix_([0, 5], [0, 3, 100])], rtol=1e-12)
    # vectors with different pixel samplings: interpolate along pixel, then along line
    leg = parse_noise(legacy_noise_xml())
    assert leg["legacy"] and leg["azimuth"] == []
    r = leg["range"]
    assert isinstance(r["pixels"], np.ndarray) and r["pixels"].shape == (2, 3)
    out = interpolate_lut(r["lines"], r["pixels"], r["values"], (101, 100), rows=[0, 100, 50], cols=[50, 40, 99])
    # line 0: 10,20,30 at px 0,50,99 ; line 100: 12,24,36 at px 0,40,99
    np.testing.assert_allclose(out[0], [20.0, 10 + 10 * 40 / 50, 30.0])
    np.testing.assert_allclose(out[1], [24 + 12 * 10 / 59, 24.0, 36.0])
    np.testing.assert_allclose(out[2], (out[0] + out[1]) / 2)
    np.testing.assert_array_equal(azimuth_noise(leg["azimuth"], (101, 100), step=10), 1.0)
    ragged = interpolate_lut([0, 10], [np.array([0.0, 10.0]), np.array([0.0, 5.0, 10.0])],
                             [np.array([1.0, 3.0]), np.array([1.0, 1.0, 1.0])], (11, 11), rows=[5], cols=[5])
    np.testing.assert_allclose(ragged, [[1.5]])


def test_sigma0_formula_and_negative_handling():
    dn = np.array([[0, 10, 100]], np.uint16)
    a = np.array([[500.0, 500.0, 400.0]])
    out = sigma0(dn, a, noise_range=np.array([[5.0, 150.0, 50.0]]), noise_azimuth=0.8)
    assert np.isnan(out[0, 0])  # DN 0 = no-data
    assert np.isnan(out[0, 1])  # 100 - 120 < 0 -> NaN
    assert out.dtype == np.float32 and out[0, 2] == pytest.approx((1e4 - 40.0) / 400.0**2, rel=1e-6)
    clipped = sigma0(dn, a, np.array([[5.0, 150.0, 50.0]]), 0.8, floor=1e-5)
    assert clipped[0, 1] == pytest.approx(1e-5) and np.isnan(clipped[0, 0])
    np.testing.assert_allclose(to_db(np.array([1.0, 0.01, 0.0, np.nan])), [0.0, -20.0, np.nan, np.nan])


def _hand_sigma0(prod, pol, line, pixel, dn):
    cal = parse_calibration(_xml(prod, pol, "calibration"))
    noise = parse_noise(_xml(prod, pol, "noise"))

    def bilinear(lines, pixels, values):
        i = max(k for k in range(len(lines)) if lines[k] <= line)
        i = min(i, len(lines) - 2)
        v0 = np.interp(pixel, pixels[i], values[i])
        v1 = np.interp(pixel, pixels[i + 1], values[i + 1])
        w = (line - lines[i]) / (lines[i + 1] - lines[i])
        return (1 - w) * v0 + w * v1

    a = bilinear(cal["lines"], cal["pixels"], cal["sigma0"])
    nr = bilinear(noise["range"]["lines"], noise["range"]["pixels"], noise["range"]["values"])
    block = next(b for b in noise["azimuth"] if b["first_sample"] <= pixel <= b["last_sample"])
    na = np.interp(line, block["lines"], block["values"])
    return (dn**2 - nr * na) / a**2


@pytest.mark.parametrize("pol", ["VV", "VH"])
def test_read_safe_matches_hand_calibration(safe, ds, pol):
    prod = open_safe(safe)
    assert ds[f"sigma0_{pol}"].dtype == np.float32
    assert ds.sizes["line"] == -(-16854 // STEP) and ds.sizes["pixel"] == -(-25931 // STEP)
    checks = [(r, c, v) for r, c, v in DN_POINTS[pol.lower()] if r % STEP == 0 and c % STEP == 0]
    r0, c0, _n, v = DN_BLOCK[pol.lower()]
    checks += [(r0, c0, v), (r0 + 550, c0 + 300, v)]
    assert len(checks) >= 4
    n_positive = 0
    for line, pixel, dn in checks:
        want = _hand_sigma0(prod, pol, line, pixel, float(dn))
        n_positive += int(want > 0)
        got = float(ds[f"sigma0_{pol}"].sel(line=line, pixel=pixel))
        if want <= 0:
            assert np.isnan(got)
        else:
            assert got == pytest.approx(want, rel=1e-5)
    assert n_positive >= 2  # at least the constant block calibrates to a finite value
    # unwritten pixels are DN 0 = no data
    assert np.isnan(float(ds[f"sigma0_{pol}"].sel(line=3000, pixel=3000)))
    assert int(np.isfinite(ds[f"sigma0_{pol}"]).sum()) == 12 * 12 + n_positive - 2


def test_incidence_angle(ds, safe):
    ann = parse_annotation(next((safe / "annotation").glob("s1a-*-vv-*.xml")).read_bytes())
    g = ann["grid"]
    at_knots = interpolate_grid(g, "incidence_angle", g["line"], g["pixel"])
    np.testing.assert_allclose(at_knots, g["incidence_angle"], rtol=1e-12)
    inc = ds["incidence_deg"].values
    assert np.all(np.diff(inc, axis=1) > 0)  # incidence grows from near to far range
    assert 29.0 < inc.min() < 31.0 and 45.0 < inc.max() < 47.0
    np.testing.assert_allclose(ds["gcp_incidence_deg"].values, g["incidence_angle"])
    assert ds.attrs["pass"] == "Descending" and ds.attrs["polarisations"] == "VV,VH"


def test_read_safe_zip_and_size_mismatch(safe, tmp_path):
    # the same product zipped reads identically through /vsizip/
    zpath = tmp_path / (safe.name.replace(".SAFE", "") + ".zip")
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_STORED) as zf:
        for p in safe.rglob("*"):
            if p.is_file():
                zf.write(p, p.relative_to(safe.parent).as_posix())
    dz = read_safe(zpath, ("VV",), step=STEP * 4)
    dd = read_safe(safe, ("VV",), step=STEP * 4)
    np.testing.assert_array_equal(dz["sigma0_VV"].values, dd["sigma0_VV"].values)
    assert "sigma0_VH" not in dd
    with pytest.raises(InputFileError, match="polarisation"):
        read_safe(safe, ("HH", "HV"), step=STEP)
    # a measurement tiff whose size disagrees with the annotation
    bad = tmp_path / "bad" / safe.name
    shutil.copytree(safe, bad)
    write_measurement(bad, "vv", (100, 200), [(0, 0, 0.0, 0.0)])
    with pytest.raises(InputFileError, match=r"100 x 200 pixels but the annotation says 16854 x 25931"):
        read_safe(bad, ("VV",), step=STEP)
