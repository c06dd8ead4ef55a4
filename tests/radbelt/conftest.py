"""Fixtures for the radbelt reader and demo tests: real sample files and tiny product writers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from realdata_files import realdata_file

FILL = -1e31


# real sample files: the ``realdata`` fixture (tests/conftest.py) makes their tests real-data tests


@pytest.fixture
def radbelt_real_poes_proc(realdata) -> Path:
    return realdata_file("poes/poes_n15_20191024_proc.nc")


@pytest.fixture
def radbelt_real_omni2_ascii(realdata) -> Path:
    return realdata_file("OMNI/omni2_2020.dat")


@pytest.fixture
def radbelt_real_omni2_cdf(realdata) -> Path:
    return realdata_file("OMNI/omni2_h0_mrg1hr_20230101_v01.cdf")


@pytest.fixture
def radbelt_real_hope_cdf(realdata) -> Path:
    return realdata_file("RBSP_ECT/rbspa_rel04_ect-hope-PA-L3_20121201_v0.0.0.cdf")


def _write_cdf(path: Path, variables: list[tuple]) -> Path:
    """Write a CDF with cdflib. ``variables``: (name, cdf_type, dim_sizes, rec_vary, attrs, data)."""
    from cdflib.cdfwrite import CDF

    assert path.suffix == ".cdf"
    cdf = CDF(str(path), cdf_spec={"Majority": "row_major", "Checksum": False, "rDim_sizes": []})
    try:
        cdf.write_globalattrs({"Project": {0: "RBSP>Radiation Belt Storm Probes"}})
        for name, cdf_type, dims, rec_vary, attrs, data in variables:
            cdf.write_var(
                {"Variable": name, "Data_Type": cdf_type, "Num_Elements": 1, "Rec_Vary": rec_vary,
                 "Dim_Sizes": list(dims), "Compress": 0},
                var_attrs=attrs, var_data=data,
            )
    finally:
        cdf.close()
    return path


def radbelt_epochs(times: list[str], tt2000: bool):
    """CDF_EPOCH (ms since 0000-01-01) or TT2000 values of ISO time strings."""
    from cdflib import cdfepoch

    parts = [[int(x) for x in t.replace("T", "-").replace(":", "-").split("-")] + [0] for t in times]
    if tt2000:
        return np.array([cdfepoch.compute_tt2000(p + [0, 0]) for p in parts], dtype=np.int64)
    return np.array([cdfepoch.compute_epoch(p) for p in parts], dtype=np.float64)


@pytest.fixture
def write_mageis_cdf():
    """Factory writing a tiny MagEIS-L3-layout CDF: ``write_mageis_cdf(path, fedu, alpha, energy, ...)``.

    ``fedu`` (records x pitch x energy), ``alpha`` (pitch,), ``energy`` (energy,) or
    (records, energy); ``times`` ISO strings; ``drop`` names variables to leave out.
    """
    from cdflib.cdfwrite import CDF

    def write(path, fedu, alpha, energy, *, times=None, L=None, L_star=None, tt2000=False, drop=()):
        fedu = np.asarray(fedu, dtype=np.float32)
        n_rec, n_alpha, n_energy = fedu.shape
        times = times or [f"2019-01-01T00:{5 * k:02d}:00" for k in range(n_rec)]
        energy = np.asarray(energy, dtype=np.float32)
        L = np.linspace(4.0, 5.0, n_rec) if L is None else np.asarray(L, dtype=np.float64)
        L_star = L * 0.9 if L_star is None else np.asarray(L_star, dtype=np.float64)
        epoch_type = CDF.CDF_TIME_TT2000 if tt2000 else CDF.CDF_EPOCH
        epoch_fill = [-9223372036854775808, "CDF_TIME_TT2000"] if tt2000 else [FILL, "CDF_EPOCH"]
        fattrs = {"FILLVAL": [np.float32(FILL), "CDF_FLOAT"], "VALIDMIN": [0.0, "CDF_FLOAT"],
                  "VALIDMAX": [1e12, "CDF_FLOAT"], "VAR_TYPE": "data", "DEPEND_0": "Epoch",
                  "DEPEND_1": "FEDU_Alpha", "DEPEND_2": "FEDU_Energy", "UNITS": "counts/(cm^2 s sr keV)"}
        dattrs = {"FILLVAL": [FILL, "CDF_DOUBLE"], "VAR_TYPE": "support_data", "DEPEND_0": "Epoch"}
        variables = [
            ("Epoch", epoch_type, [], True, {"FILLVAL": epoch_fill, "VAR_TYPE": "support_data"},
             radbelt_epochs(times, tt2000)),
            ("FEDU_Alpha", CDF.CDF_FLOAT, [n_alpha], False, {"FILLVAL": [np.float32(FILL), "CDF_FLOAT"],
                                                             "UNITS": "degrees"}, np.asarray(alpha, np.float32)),
            ("FEDU_Energy", CDF.CDF_FLOAT, [n_energy], energy.ndim == 2,
             {"FILLVAL": [np.float32(FILL), "CDF_FLOAT"], "UNITS": "keV"}, energy),
            ("FEDU", CDF.CDF_FLOAT, [n_alpha, n_energy], True, fattrs, fedu),
            ("L", CDF.CDF_DOUBLE, [], True, dattrs, L),
            ("L_star", CDF.CDF_DOUBLE, [], True, dattrs, L_star),
        ]
        return _write_cdf(Path(path), [v for v in variables if v[0] not in drop])

    return write


@pytest.fixture
def write_omni_hro_cdf():
    """Factory writing a tiny OMNI HRO-layout CDF (``Epoch``, ``flow_speed`` FILLVAL 99999.9)."""
    from cdflib.cdfwrite import CDF

    def write(path, times, speeds):
        return _write_cdf(Path(path), [
            ("Epoch", CDF.CDF_EPOCH, [], True, {"FILLVAL": [FILL, "CDF_EPOCH"]}, radbelt_epochs(times, False)),
            ("flow_speed", CDF.CDF_FLOAT, [], True,
             {"FILLVAL": [np.float32(99999.9), "CDF_FLOAT"], "VALIDMIN": [0.0, "CDF_FLOAT"],
              "VALIDMAX": [3000.0, "CDF_FLOAT"], "UNITS": "km/s", "DEPEND_0": "Epoch"},
             np.asarray(speeds, np.float32)),
        ])

    return write


@pytest.fixture
def write_poes_nc():
    """Factory writing a tiny NCEI-layout POES netCDF: ``write_poes_nc(path, variables)`` with
    ``variables`` = {name: array}; one dimension per variable and no ``_FillValue`` as in the
    real files."""
    import netCDF4

    def write(path, variables: dict):
        with netCDF4.Dataset(str(path), "w", format="NETCDF4") as nc:
            for name, values in variables.items():
                values = np.asarray(values)
                nc.createDimension(name, values.size)
                var = nc.createVariable(name, values.dtype, (name,), fill_value=False)
                var.valid_range = np.array([0.0, 20.0]) if name == "L_IGRF" else np.float64(0.0)
                var.units = "counts/sec" if "_cps_" in name else "#/cm2-s-str"
                var[:] = values
        return Path(path)

    return write
