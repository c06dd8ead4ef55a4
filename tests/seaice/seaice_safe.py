"""Test helpers for the seaice SAFE reader: unpack the real sample's XMLs into a temporary SAFE
folder and add a synthetic, GCP-georeferenced uint16 measurement GeoTIFF of the annotated size."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import numpy as np
from realdata_files import REALDATA

S1_ZIP = REALDATA / "S1" / "S1A_IW_GRDH_1SDV_20210119T031653_20210119T031718_036201_043ED0_8255.zip"

#: (line, pixel, DN) written into the synthetic VV/VH measurement (all other pixels are 0 = no data)
DN_POINTS = {
    "vv": [(0, 0, 120), (100, 200, 250), (5000, 12000, 800), (16850, 25900, 60), (8000, 20000, 3000)],
    "vh": [(0, 0, 40), (100, 200, 35), (5000, 12000, 300), (16850, 25900, 20), (8000, 20000, 900)],
}
#: a block of constant DN (line0, pixel0, size, DN) so subsampled reads hit non-zero values
DN_BLOCK = {"vv": (6000, 9000, 600, 500), "vh": (6000, 9000, 600, 150)}


def extract_xmls(dest: Path, *, skip: tuple[str, ...] = ()) -> Path:
    """Copy the real zip's manifest and annotation XMLs into ``dest/<name>.SAFE``; returns it.

    Members whose relative path contains any string of ``skip`` are left out.
    """
    with zipfile.ZipFile(S1_ZIP) as zf:
        for n in zf.namelist():
            if n.endswith("/") or not (n.endswith((".xml", "manifest.safe"))):
                continue
            if "support/" in n or any(s in n for s in skip):
                continue
            out = dest / n
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(zf.read(n))
    return dest / S1_ZIP.with_suffix(".SAFE").name


def write_measurement(safe: Path, pol: str, shape: tuple[int, int], gcps: list[tuple[float, float, float, float]]) -> Path:
    """Write a sparse tiled deflate uint16 GeoTIFF of ``shape`` with DN_POINTS/DN_BLOCK and GCPs
    ``(line, pixel, lon, lat)``; file name = the annotation's stem + ``.tiff``."""
    import rasterio
    import rasterio.errors
    from rasterio.control import GroundControlPoint
    from rasterio.crs import CRS
    from rasterio.windows import Window

    stem = next((safe / "annotation").glob(f"s1?-*-{pol}-*.xml")).stem
    path = safe / "measurement" / f"{stem}.tiff"
    path.parent.mkdir(parents=True, exist_ok=True)
    g = [GroundControlPoint(row=r, col=c, x=lon, y=lat, z=0.0) for r, c, lon, lat in gcps]
    profile = {"driver": "GTiff", "height": shape[0], "width": shape[1], "count": 1, "dtype": "uint16",
                   "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate", "sparse_ok": True}
    with warnings.catch_warnings():  # GCPs are set right after opening
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        dst = rasterio.open(path, "w", **profile)
    with dst:
        dst.gcps = (g, CRS.from_epsg(4326))
        r0, c0, n, v = DN_BLOCK[pol]
        if r0 + n <= shape[0] and c0 + n <= shape[1]:
            dst.write(np.full((n, n), v, np.uint16), 1, window=Window(c0, r0, n, n))
        for r, c, v in DN_POINTS[pol]:
            if r >= shape[0] or c >= shape[1]:
                continue
            dst.write(np.array([[v]], np.uint16), 1, window=Window(c, r, 1, 1))
    return path


def legacy_noise_xml(lines=(0, 100), pixels=((0, 50, 99), (0, 40, 99)),
                     luts=((10.0, 20.0, 30.0), (12.0, 24.0, 36.0))) -> bytes:
    """A small IPF < 2.9 noise annotation (``noiseVectorList/noiseVector/noiseLut``)."""
    vecs = "".join(
        f"<noiseVector><azimuthTime>2016-01-01T00:00:00</azimuthTime><line>{ln}</line>"
        f"<pixel count=\"{len(p)}\">{' '.join(map(str, p))}</pixel>"
        f"<noiseLut count=\"{len(v)}\">{' '.join(f'{x:e}' for x in v)}</noiseLut></noiseVector>"
        for ln, p, v in zip(lines, pixels, luts))
    return (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><noise><adsHeader><missionId>S1A</missionId>"
            f"</adsHeader><noiseVectorList count=\"{len(lines)}\">{vecs}</noiseVectorList></noise>").encode()
