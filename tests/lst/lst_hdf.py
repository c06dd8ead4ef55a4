"""Test helpers for the LST readers: small MODIS-layout HDF4 granules and GeoTIFF scenes.

Imported by the lst tests as ``from lst_hdf import ...`` (a unique module name: pytest imports test
helpers without packages).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from realdata_files import REALDATA

REAL_MOD11A1 = REALDATA / "MOD11A1" / "MOD11A1.A2021227.h11v05.061.2021228105320.hdf"

MOD11A1_NAME = "MOD11A1.A2021182.h11v05.061.2021183104512.hdf"
MOD09GQ_NAME = "MOD09GQ.A2021182.h11v05.061.2021183033015.hdf"


def small_mod11a1_arrays(n: int = 8) -> dict[str, np.ndarray]:
    """Raw MOD11A1 SDS values of an ``n x n`` granule with known fill / out-of-range pixels.

    LST raw 15000 + 10 * index (300 K + 0.2 K steps); pixel (0, 0) fill 0, pixel (0, 1) 7000
    (below the valid range 7500); QC 0 where valid, 2 (cloud) at (0, 0), 3 at (0, 1); view time
    105 (10.5 h) and angle raw 70 (+5 deg), fill 255 at the fill pixels.
    """
    idx = np.arange(n * n).reshape(n, n)
    lst = (15000 + 10 * idx).astype(np.uint16)
    lst[0, 0], lst[0, 1] = 0, 7000
    qc = np.zeros((n, n), np.uint8)
    qc[0, 0], qc[0, 1] = 2, 3
    qc[1, :] = 65  # mandatory 1, LST error <= 2 K
    vt = np.full((n, n), 105, np.uint8)
    va = np.full((n, n), 70, np.uint8)
    vt[0, :2] = va[0, :2] = 255
    return {"LST_Day_1km": lst, "QC_Day": qc, "Day_view_time": vt, "Day_view_angl": va,
            "LST_Night_1km": (lst // 2 + 7000).astype(np.uint16), "QC_Night": qc.copy()}


def write_raw_granule(path: Path, sds: Mapping[str, tuple[np.ndarray, Mapping[str, Any]]],
                      file_attrs: Mapping[str, str]) -> Path:
    """An HDF4 file with exactly the given SDSs ``{name: (array, {attr: value})}`` and file
    attributes (strings), for granules broken in ways the demo writers cannot produce."""
    from pyhdf.SD import SD, SDC

    types = {np.dtype("uint8"): SDC.UINT8, np.dtype("int8"): SDC.INT8, np.dtype("uint16"): SDC.UINT16,
             np.dtype("int16"): SDC.INT16}
    sd = SD(str(path), SDC.WRITE | SDC.CREATE | SDC.TRUNC)
    for key, value in file_attrs.items():
        sd.attr(key).set(SDC.CHAR8, value)
    for name, (data, attrs) in sds.items():
        nt = types[data.dtype]
        s = sd.create(name, nt, data.shape)
        for key, value in attrs.items():
            if isinstance(value, str):
                s.attr(key).set(SDC.CHAR8, value)
            elif isinstance(value, float):
                s.attr(key).set(SDC.FLOAT64, value)
            else:
                s.attr(key).set(nt, value)
        s[:] = data
        s.endaccess()
    sd.end()
    return path


def write_tif(path: Path, data: np.ndarray, *, origin: tuple[float, float], pixel: float,
              crs: str = "EPSG:32617", nodata: float | None = None) -> Path:
    """A north-up single-band GeoTIFF."""
    import rasterio
    from affine import Affine

    with rasterio.open(path, "w", driver="GTiff", height=data.shape[0], width=data.shape[1], count=1,
                       dtype=str(data.dtype), crs=crs, transform=Affine(pixel, 0.0, origin[0], 0.0, -pixel, origin[1]),
                       nodata=nodata) as dst:
        dst.write(data, 1)
    return path


MTL_TEXT = """GROUP = LANDSAT_METADATA_FILE
  GROUP = PRODUCT_CONTENTS
    LANDSAT_PRODUCT_ID = "LC08_L1TP_017035_20210715_20210721_02_T1"
    COLLECTION_NUMBER = 02
  END_GROUP = PRODUCT_CONTENTS
  GROUP = LEVEL1_RADIOMETRIC_RESCALING
    RADIANCE_MULT_BAND_10 = 3.3420E-04
    RADIANCE_ADD_BAND_10 = 0.10000
  END_GROUP = LEVEL1_RADIOMETRIC_RESCALING
  GROUP = LEVEL1_THERMAL_CONSTANTS
    K1_CONSTANT_BAND_10 = 774.8853
    K2_CONSTANT_BAND_10 = 1321.0789
  END_GROUP = LEVEL1_THERMAL_CONSTANTS
END_GROUP = LANDSAT_METADATA_FILE
END
"""
