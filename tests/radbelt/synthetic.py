"""A small synthetic radbelt store (xarray.Dataset in the store layout) for tests.

The 1 MeV target is a lagged linear function of the POES channels and the solar-wind speed plus
noise: ``log10_flux_1mev(t, L) = f(e2, e3, p6, sw)(t - lag, L) + noise``, so a model issued at
``t0`` with ``lead <= lag`` sees every input the target depends on. The GEO column (L = 6.6) is
driven the same way by the channels at the L-shell nearest 4.6.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

# the default radbelt grid (config schema defaults), spelled out for the tests
GRID = {
    "time_origin": "2013-02-20T00:00:00",
    "bin_hours": 5,
    "L_min": 2.8,
    "L_max": 6.0,
    "dL": 0.1,
    "geo_L": 6.6,
    "geo_halfwidth": 0.1,
}

GEO_L = 6.6
FLUX_UNITS = "log10(cm-2 s-1 sr-1 keV-1)"


def _ar1(rng: np.random.Generator, shape: tuple[int, ...], phi: float = 0.9) -> np.ndarray:
    """Unit-variance AR(1) series along axis 0."""
    out = np.empty(shape)
    scale = np.sqrt(1.0 - phi**2)
    out[0] = rng.standard_normal(shape[1:])
    for i in range(1, shape[0]):
        out[i] = phi * out[i - 1] + scale * rng.standard_normal(shape[1:])
    return out


def make_store_dataset(
    n_time: int = 400,
    L: Sequence[float] = (3.0, 3.5, 4.0, 4.6, 5.0),
    seed: int = 0,
    *,
    lag: int = 3,
    noise: float = 0.05,
    geo: bool = True,
    start: str = "2019-01-01",
    bin_hours: int = 5,
) -> xr.Dataset:
    """Store-layout dataset: coords ``time`` (``bin_hours`` bins), ``L`` (``L`` plus 6.6 if ``geo``).

    Variables ``log10_flux_1mev``, ``log10_e2``, ``log10_e3``, ``log10_p6`` (time, L),
    ``sw_speed`` (time), ``n_rbsp``, ``n_poes`` (time, L) counts; attrs ``geo_L``, ``bin_hours``.
    The first ``lag`` target bins are NaN (no driver yet); there are no other gaps.
    """
    rng = np.random.default_rng(seed)
    time = pd.date_range(start, periods=n_time, freq=f"{bin_hours}h").values.astype("datetime64[ns]")
    Ls = np.array([float(v) for v in L] + ([GEO_L] if geo else []))
    n_L = Ls.size
    common = _ar1(rng, (n_time,))[:, None]
    e2 = 2.0 + 0.4 * _ar1(rng, (n_time, n_L)) + 0.3 * common + 0.1 * (Ls - 4.5)
    e3 = 1.2 + 0.4 * _ar1(rng, (n_time, n_L)) + 0.2 * common
    p6 = 0.5 + 0.2 * _ar1(rng, (n_time, n_L))
    sw = 450.0 + 80.0 * _ar1(rng, (n_time,), phi=0.8)

    driver = 0.8 * e2 + 0.5 * e3 - 0.3 * p6 + 0.002 * (sw[:, None] - 450.0) + 0.2 * (Ls - 4.5)
    if geo:
        j46 = int(np.argmin(np.abs(np.asarray(L, dtype=float) - 4.6)))
        driver[:, -1] = 0.9 * e2[:, j46] + 0.4 * e3[:, j46] - 0.5
    flux = np.full((n_time, n_L), np.nan)
    flux[lag:] = driver[: n_time - lag] + noise * rng.standard_normal((n_time - lag, n_L))

    def var(values, long_name, units):
        dims = ("time", "L") if values.ndim == 2 else ("time",)
        return xr.Variable(dims, values, {"long_name": long_name, "units": units})

    ds = xr.Dataset(
        {
            "log10_flux_1mev": var(flux, "log10 of 1 MeV electron flux (RBSP)", FLUX_UNITS),
            "log10_e2": var(e2, "log10 of POES E2 flux", FLUX_UNITS),
            "log10_e3": var(e3, "log10 of POES E3 flux", FLUX_UNITS),
            "log10_p6": var(p6, "log10 of POES P6 flux", FLUX_UNITS),
            "sw_speed": var(sw, "solar wind bulk speed", "km s-1"),
            "n_rbsp": var(np.where(np.isfinite(flux), 10, 0).astype(np.int32), "RBSP samples per bin", "1"),
            "n_poes": var(np.full((n_time, n_L), 20, dtype=np.int32), "POES samples per bin", "1"),
        },
        coords={
            "time": ("time", time, {"long_name": "start of the time bin"}),
            "L": ("L", Ls, {"long_name": "McIlwain L (GEO column at geo_L)", "units": "1"}),
        },
        attrs={"title": "synthetic radbelt store (tests)", "geo_L": GEO_L, "bin_hours": bin_hours,
               "synthetic_seed": seed},
    )
    return ds


def write_store(ds: xr.Dataset, path) -> str:
    """Save ``ds`` as a Zarr store at ``path`` (plain ``to_zarr``; tests only) and return the path."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Consolidated metadata is currently not part.*")
        ds.to_zarr(str(path), mode="w")
    return str(path)
