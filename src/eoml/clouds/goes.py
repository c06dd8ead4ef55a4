"""GOES-16/17/18 ABI L1b radiances: file names, scenes, reflectance, navigation, true colour.

The clouds study reads the Advanced Baseline Imager's Level-1b radiance files as NOAA distributes
them (GOES-R Series Product Definition and Users' Guide, PUG, vol. 3 "Level 1b Products",
416-R-PUG-L1B-0347), one file per channel and scan::

    OR_ABI-L1b-RadM1-M3C01_G16_s20171931811268_e20171931811326_c20171931811369.nc
    |  |       |  |  |  |   |   |               |               creation time
    |  |       |  |  |  |   |   start of scan   end of scan
    |  |       |  |  |  |   platform (G16, G17, G18, G19)
    |  |       |  |  |  channel (01..16)
    |  |       |  |  scan mode (M3, M4, M6)
    |  |       |  sector: F full disk, C CONUS/PACUS, M1 / M2 mesoscale
    |  |       product: Rad (radiances)
    |  instrument and level
    system environment (OR operational, ...)

Times in the name are ``YYYYjjjHHMMSSt`` (day of year, tenths of seconds), UTC.

Units and conventions
---------------------
* Times are ``numpy.datetime64[ms]``, UTC, without a time zone (as everywhere in eoml).
* ``Rad`` is stored as 16-bit integers with ``scale_factor``, ``add_offset`` and ``_FillValue``;
  the files mark them ``_Unsigned = "true"`` (PUG §5.0.2: the counts are unsigned 0..65535 although
  netCDF-4 classic declares a signed ``short``). The counts are read unsigned when that attribute
  says so, the fill value too, then ``L = count * scale_factor + add_offset`` in
  W m-2 sr-1 um-1.
* Reflectance factor (dimensionless, about 0..1.2): ``kappa0 * L`` with the file's ``kappa0``
  (= pi d^2 / E_sun, sr m2 um W-1, d the Earth-Sun distance in AU). This is satpy's
  ``reflectance`` calibration divided by 100 (satpy gives percent and computes the same factor
  from ``esun`` and ``earth_sun_distance_anomaly_in_AU``). It is *not* divided by the cosine of
  the solar zenith angle; :func:`true_colour` does that.
* Only the reflective bands C01-C06 have a reflectance factor; C07-C16 are refused.
* Data quality flags (``DQF``, PUG vol. 3 table 5.1.3.6 / the file's ``flag_meanings``):
  0 good, 1 conditionally usable, 2 out of range, 3 no value, 4 focal-plane temperature
  threshold exceeded. Pixels with DQF 0 are kept; ``keep_conditional=True`` also keeps DQF 1;
  every other flag, and the ``Rad`` fill value, becomes NaN.
* Fixed-grid coordinates ``x`` (east-west scan angle) and ``y`` (north-south elevation angle) are
  in radians (int16 with scale and offset in the file). ``y`` decreases down the rows (north
  first), ``x`` increases along them (west to east). Their float32 ``scale_factor`` /
  ``add_offset`` are renderings of short decimal constants (e.g. 2.8e-05 rad for 1 km); they are
  read back as those decimals (the shortest decimal that rounds to the float32), so the 0.5 km
  and 1 km grids of one sector line up exactly, as satpy's reader does.
* Navigation (:func:`abi_lonlat`) is the PUG's fixed-grid to geodetic algorithm (vol. 3
  §5.1.2.8.1) on the ellipsoid of ``goes_imager_projection`` (GRS80: a = 6378137 m,
  b = 6356752.31414 m), with the satellite ``perspective_point_height`` above the equator at
  ``longitude_of_projection_origin`` and the sweep angle axis ``x``; longitudes and latitudes in
  degrees east / north, geodetic; NaN off the Earth's disk.
* True colour (:func:`true_colour`) is on a regular latitude/longitude grid (WGS84 degrees, pixel
  centres ``lon_min + (i + 1/2) * resolution`` and ``lat_max - (j + 1/2) * resolution``, so the
  domain's bounds are the outer pixel edges; latitude descending, north first).

Scenes
------
:func:`group_scenes` groups the files of one scan: same platform and sector, scan starts within
``max_time_offset_s`` of each other. Files of one sector more than :data:`SCENE_WINDOW_S` (30 s,
half the shortest repeat time of one sector, the 60 s of a mesoscale sector) apart belong to
different scans. The scene id ``<platform>_<sector>_<start field>`` (e.g.
``G16_M1_20171931811268``) uses only letters, digits and underscores, so it is safe as a
Snakemake wildcard and a Zarr group name.

True colour recipe
------------------
Blue = C01 (0.47 um, 1 km), red = C02 (0.64 um, 0.5 km), and the "veggie" band C03 (0.86 um,
1 km) stand in for the green band ABI lacks: ``green = g_red * R + g_nir * NIR + g_blue * B``
(CIMSS hybrid green, Bah et al. 2018, 0.45 / 0.10 / 0.45; another recipe is other numbers).
Steps: reflectance factors with bad DQF as NaN (each band on its own grid) -> satpy's ``native``
resampler brings C02 onto the 1 km grid (2 x 2 block mean of the valid sub-pixels) -> satpy's
``nearest`` resampler (pyresample k-d tree) puts the three bands on the latitude/longitude grid
(NaN where the nearest fixed-grid pixel is farther than :data:`RADIUS_FACTOR` nadir pixel sizes,
i.e. outside the sector or the disk) -> optional solar-zenith correction ``rho / cos(sza)``
(pyorbital's astronomy at the target pixels, at the middle of the scene's scan) -> synthetic
green -> clip to [0, 1] -> gamma ``rho ** (1 / gamma)`` -> ``round(255 * .)`` as uint8. No
Rayleigh correction (pyspectral would download look-up tables): images are slightly bluish and
hazy towards the limb. Nothing is downloaded: satpy's ``download_aux`` is switched off while
satpy runs.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from eoml.core.errors import InputFileError

__all__ = [
    "DQF_MEANINGS",
    "PLATFORM_NAMES",
    "RADIUS_FACTOR",
    "REFLECTIVE_CHANNELS",
    "SCENE_WINDOW_S",
    "TRUE_COLOUR_CHANNELS",
    "AbiName",
    "abi_lonlat",
    "domain_grid",
    "group_scenes",
    "parse_abi_name",
    "read_reflectance",
    "true_colour",
]

log = logging.getLogger(__name__)

#: platform code in the file name -> satellite name
PLATFORM_NAMES = {"G16": "GOES-16", "G17": "GOES-17", "G18": "GOES-18", "G19": "GOES-19"}
#: channels with a reflectance factor (kappa0): the visible and near-infrared bands
REFLECTIVE_CHANNELS = (1, 2, 3, 4, 5, 6)
#: channels of the true-colour composite: blue, red, veggie (near infrared)
TRUE_COLOUR_CHANNELS = (1, 2, 3)
#: DQF values (PUG vol. 3 table 5.1.3.6)
DQF_MEANINGS = {
    0: "good_pixel_qf",
    1: "conditionally_usable_pixel_qf",
    2: "out_of_range_pixel_qf",
    3: "no_value_pixel_qf",
    4: "focal_plane_temperature_threshold_exceeded_qf",
}
#: files of one platform and sector whose scan starts are further apart are different scans (s)
SCENE_WINDOW_S = 30.0
#: nearest-neighbour search radius, in nadir pixel sizes of the coarsest band (1 km -> 2 km)
RADIUS_FACTOR = 2.0

#: variables :func:`read_reflectance` needs
_REQUIRED = ("Rad", "DQF", "kappa0", "goes_imager_projection", "x", "y")
#: projection attributes the navigation needs
_PROJ_KEYS = ("perspective_point_height", "semi_major_axis", "semi_minor_axis",
              "longitude_of_projection_origin")
_NAME_RE = re.compile(
    r"^(?P<environment>[A-Z]{2})_ABI-L1b-Rad(?P<sector>F|C|M1|M2)-(?P<mode>M\d)C(?P<channel>\d{2})"
    r"_(?P<platform>G\d{2})_s(?P<start>\d{14})_e(?P<end>\d{14})_c(?P<created>\d{14})"
    r"(?P<suffix>[-_][^.]*)?\.nc$"
)
_CHANNEL_ROLE = {1: "blue", 2: "red", 3: "nir"}


# ------------------------------------------------------------------------------------------------
# file names and scenes


@dataclass(frozen=True)
class AbiName:
    """The fields of an ABI L1b radiance file name.

    Attributes
    ----------
    path : Path
        The file.
    environment : str
        System environment (``"OR"`` operational real-time, ``"IT"``/``"IP"`` test, ...).
    platform : str
        ``"G16"``, ``"G17"``, ``"G18"`` or ``"G19"``.
    sector : str
        ``"F"`` full disk, ``"C"`` CONUS (PACUS for GOES-West), ``"M1"``/``"M2"`` mesoscale.
    mode : str
        ABI scan mode, ``"M3"``, ``"M4"`` or ``"M6"``.
    channel : int
        ABI channel, 1..16.
    start, end, created : numpy.datetime64
        Scan start, scan end and file creation times (UTC, ms precision).
    start_field : str
        The start time as written in the name (``"20171931811268"``).
    """

    path: Path
    environment: str
    platform: str
    sector: str
    mode: str
    channel: int
    start: np.datetime64
    end: np.datetime64
    created: np.datetime64
    start_field: str

    @property
    def scene_id(self) -> str:
        """``<platform>_<sector>_<start field>``, e.g. ``G16_M1_20171931811268`` (wildcard-safe)."""
        return f"{self.platform}_{self.sector}_{self.start_field}"


def _name_time(field: str, which: str, path: Path) -> np.datetime64:
    """``YYYYjjjHHMMSSt`` (day of year, tenths of a second) -> datetime64[ms]."""
    year, doy = int(field[:4]), int(field[4:7])
    hour, minute, second, tenth = int(field[7:9]), int(field[9:11]), int(field[11:13]), int(field[13])
    days_in_year = 366 if (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) else 365
    if not (1 <= doy <= days_in_year and hour < 24 and minute < 60 and second < 61):
        raise InputFileError(path, f"the {which} time {field!r} of the file name is not a valid "
                                   "YYYYjjjHHMMSSt time (year, day of year, hour, minute, second, tenth)")
    t = dt.datetime(year, 1, 1) + dt.timedelta(days=doy - 1, hours=hour, minutes=minute,
                                               seconds=second, milliseconds=100 * tenth)
    return np.datetime64(t, "ms")


def parse_abi_name(path: str | Path) -> AbiName:
    """Parse an ABI L1b radiance file name.

    Parameters
    ----------
    path : str or Path
        A file whose name is ``<env>_ABI-L1b-Rad<sector>-<mode>C<cc>_<platform>_s<start>_e<end>
        _c<created>[<suffix>].nc`` (the suffixes satpy accepts, ``-<chid>_0`` or ``_<text>``, are
        allowed). Only the name is read.

    Returns
    -------
    AbiName

    Raises
    ------
    InputFileError
        The name is not an ABI L1b radiance file name (other products such as ``ABI-L2-CMIP``,
        a channel outside 1..16, an impossible date).
    """
    path = Path(path)
    m = _NAME_RE.match(path.name)
    if m is None:
        raise InputFileError(path, "not an ABI L1b radiance file name (expected e.g. "
                                   "OR_ABI-L1b-RadM1-M3C01_G16_s20171931811268_e20171931811326_"
                                   "c20171931811369.nc)")
    channel = int(m["channel"])
    if not 1 <= channel <= 16:
        raise InputFileError(path, f"channel C{m['channel']} in the file name is not an ABI channel (1-16)")
    return AbiName(
        path=path, environment=m["environment"], platform=m["platform"], sector=m["sector"],
        mode=m["mode"], channel=channel,
        start=_name_time(m["start"], "start", path), end=_name_time(m["end"], "end", path),
        created=_name_time(m["created"], "creation", path), start_field=m["start"],
    )


def _bad(path: Path, problem: str, on_bad_file: str) -> None:
    """Raise InputFileError, or log a warning when ``on_bad_file == "skip"``."""
    if on_bad_file == "skip":
        log.warning("skipping %s: %s", path, problem)
        return
    raise InputFileError(path, problem)


def group_scenes(
    paths: Iterable[str | Path],
    *,
    channels: Iterable[int] = TRUE_COLOUR_CHANNELS,
    on_bad_file: str,
    max_time_offset_s: float,
) -> dict[str, dict[int, Path]]:
    """Group ABI L1b files into scenes (one scan of one sector), one file per channel.

    Parameters
    ----------
    paths : iterable of str or Path
        L1b files (e.g. what the ``clouds.goes`` glob patterns match). Only names are read. Files
        of channels not in ``channels`` are ignored (logged at debug level).
    channels : iterable of int
        The channels every scene must have (default: C01, C02, C03 of the true colour).
    on_bad_file : {"error", "skip"}
        ``"error"`` raises :class:`InputFileError` at the first problem; ``"skip"`` logs a warning
        and leaves the file (a bad name) or the whole scene out.
    max_time_offset_s : float
        Largest difference (s) between the scan starts of the bands of one scene. ABI files of one
        scan normally share the start time; a band that started later belongs to another scan.

    Returns
    -------
    dict
        ``{scene_id: {channel: path}}`` sorted by scene id; ids as :attr:`AbiName.scene_id` with
        the start of the scene's earliest-starting, lowest-numbered band.

    Raises
    ------
    InputFileError
        Naming the file: a name that is not an ABI L1b radiance name; two files of one channel in
        one scan; a band whose scan start differs by more than ``max_time_offset_s`` from the
        scene's (the most common start among its bands); a scene without one of ``channels``
        (naming a file of that scene and the missing channel).
    ValueError
        ``on_bad_file`` is neither ``"error"`` nor ``"skip"``.
    """
    if on_bad_file not in ("error", "skip"):
        raise ValueError(f"on_bad_file must be 'error' or 'skip', not {on_bad_file!r}")
    wanted = tuple(sorted({int(c) for c in channels}))
    by_sector: dict[tuple[str, str], list[AbiName]] = defaultdict(list)
    for p in paths:
        try:
            name = parse_abi_name(p)
        except InputFileError as err:
            _bad(Path(p), err.problem, on_bad_file)
            continue
        if name.channel not in wanted:
            log.debug("ignoring %s: channel C%02d is not one of %s", p, name.channel, wanted)
            continue
        by_sector[(name.platform, name.sector)].append(name)

    scenes: dict[str, dict[int, Path]] = {}
    for names in by_sector.values():
        names.sort(key=lambda n: (n.start, n.channel, n.path.name))
        clusters: list[list[AbiName]] = []
        for n in names:
            if clusters and (n.start - clusters[-1][0].start) / np.timedelta64(1, "s") <= SCENE_WINDOW_S:
                clusters[-1].append(n)
            else:
                clusters.append([n])
        for cluster in clusters:
            scene = _check_scene(cluster, wanted, on_bad_file, max_time_offset_s)
            if scene is not None:
                scenes.update(scene)
    return dict(sorted(scenes.items()))


def _check_scene(cluster: list[AbiName], wanted: tuple[int, ...], on_bad_file: str,
                 max_time_offset_s: float) -> dict[str, dict[int, Path]] | None:
    """One scan's files -> ``{scene_id: {channel: path}}``, or None after a logged skip."""
    # reference start: the most common one (ties: the earliest); its lowest channel names the scene
    counts = Counter(n.start for n in cluster)
    ref_start = min(counts, key=lambda t: (-counts[t], t))
    ref = min((n for n in cluster if n.start == ref_start), key=lambda n: n.channel)
    scene_id = ref.scene_id
    problems: list[tuple[Path, str]] = []
    for n in cluster:
        offset = abs((n.start - ref_start) / np.timedelta64(1, "ms")) / 1000.0
        if offset > max_time_offset_s:
            problem = (f"scan start {n.start} of band C{n.channel:02d} differs by {offset:g} s from the "
                       f"start {ref_start} of the other bands of scene {scene_id} (more than "
                       f"max_time_offset_s = {max_time_offset_s:g} s)")
            problems.append((n.path, problem))
    kept = [n for n in cluster if all(n.path != p for p, _ in problems)]
    by_channel: dict[int, list[AbiName]] = defaultdict(list)
    for n in kept:
        by_channel[n.channel].append(n)
    for ch, files in sorted(by_channel.items()):
        if len(files) > 1:
            others = ", ".join(f.path.name for f in files[:-1])
            problem = f"a second file of channel C{ch:02d} for scene {scene_id} (also {others})"
            problems.append((files[-1].path, problem))
    missing = [c for c in wanted if c not in by_channel]
    if missing and not problems:
        have = ", ".join(n.path.name for n in kept)
        absent = ", ".join(f"C{c:02d}" for c in missing)
        problems.append((ref.path, f"scene {scene_id} has no file of channel(s) {absent} (found: {have})"))
    if problems:
        for path, problem in problems:
            _bad(path, problem, on_bad_file)  # raises at the first one under "error"
        log.warning("scene %s left out (%d problem(s) above)", scene_id, len(problems))
        return None
    return {scene_id: {ch: files[0].path for ch, files in sorted(by_channel.items())}}


# ------------------------------------------------------------------------------------------------
# reading


def _decimal(value: Any) -> float:
    """A float32 attribute as the short decimal it renders (``np.float32(2.8e-05)`` -> 2.8e-05)."""
    return float(str(np.float32(np.asarray(value).reshape(-1)[0])))


def _attr_scalar(attrs: Mapping[str, Any], key: str) -> Any:
    value = attrs[key]
    if isinstance(value, np.ndarray):
        return value.reshape(-1)[0]
    return value


def _unsigned(raw: np.ndarray, attrs: Mapping[str, Any]) -> tuple[np.ndarray, Any]:
    """Counts and fill value, reinterpreted as unsigned when ``_Unsigned == "true"``."""
    fill = _attr_scalar(attrs, "_FillValue") if "_FillValue" in attrs else None
    if str(attrs.get("_Unsigned", "false")).lower() == "true" and np.issubdtype(raw.dtype, np.signedinteger):
        utype = np.dtype(f"u{raw.dtype.itemsize}")
        raw = raw.view(utype)
        if fill is not None:
            fill = np.asarray(fill).astype(raw.dtype.str.replace("u", "i")).view(utype)[()]
    return raw, fill


def _scan_angles(var: xr.DataArray) -> np.ndarray:
    """Decode the int16 ``x``/``y`` fixed-grid coordinates to radians (float64)."""
    raw = np.asarray(var.values)
    if "scale_factor" not in var.attrs:
        return raw.astype(np.float64)
    return raw.astype(np.float64) * _decimal(var.attrs["scale_factor"]) + _decimal(var.attrs.get("add_offset", 0.0))


def _open_vars(path: Path, names: Iterable[str], optional: Iterable[str] = ()) -> xr.Dataset:
    """Open ``path`` and load ``names`` (all required) and ``optional`` (when present), raw."""
    names, optional = tuple(names), tuple(optional)
    try:
        with xr.open_dataset(path, mask_and_scale=False, decode_times=False, engine="netcdf4") as ds:
            missing = [v for v in names if v not in ds.variables]
            if missing:
                raise InputFileError(path, f"not an ABI L1b radiance file: variable(s) {', '.join(missing)} "
                                           "missing")
            keep = list(names) + [v for v in optional if v in ds.variables]
            out = ds[keep].load()
            out.attrs = dict(ds.attrs)
    except InputFileError:
        raise
    except Exception as exc:  # netCDF4/HDF5 raise OSError, RuntimeError, ValueError, KeyError, ...
        raise InputFileError(path, f"cannot be read as netCDF (truncated or corrupt?): "
                                   f"{type(exc).__name__}: {exc}") from exc
    return out


def _channel_of(path: Path, ds: xr.Dataset) -> int:
    """The ABI channel of a file: its ``band_id`` variable, else its name."""
    if "band_id" in ds.variables:
        return int(np.asarray(ds["band_id"].values).reshape(-1)[0])
    try:
        return parse_abi_name(path).channel
    except InputFileError:
        raise InputFileError(path, "cannot tell the ABI channel: no band_id variable and not an ABI "
                                   "L1b file name") from None


def _good_dqf(dqf: xr.DataArray, keep_conditional: bool) -> np.ndarray:
    raw, _ = _unsigned(np.asarray(dqf.values), dqf.attrs)
    good = raw == 0
    if keep_conditional:
        good |= raw == 1
    return good


def read_reflectance(path: str | Path, *, keep_conditional: bool = False) -> xr.DataArray:
    """Read one reflective-band ABI L1b file as the reflectance factor ``kappa0 * Rad``.

    Parameters
    ----------
    path : str or Path
        An ABI L1b radiance netCDF file of channel C01-C06.
    keep_conditional : bool
        Keep pixels flagged DQF 1 ("conditionally usable") as well as DQF 0 (default: only 0).

    Returns
    -------
    xarray.DataArray
        ``reflectance`` (float32, dims ``(y, x)``, dimensionless, not divided by cos(sza)), NaN
        where ``Rad`` is its fill value or DQF is not kept. Coordinates: ``y``, ``x`` (scan
        angles, rad, float64), ``dqf`` (uint8 ``(y, x)``, the file's flags) and
        ``goes_imager_projection`` (scalar, the projection attributes; ``grid_mapping`` points to
        it). Attributes: ``units``, ``standard_name``, ``long_name``, ``channel``, ``platform``,
        ``sector``, ``scan_mode`` (from the name when it is an ABI name), ``start_time``,
        ``end_time`` (ISO, UTC, from the global attributes), ``kappa0``, ``band_wavelength_um``,
        ``dqf_kept``, ``source``.

    Raises
    ------
    InputFileError
        Naming the file: unreadable or truncated; one of ``Rad``, ``DQF``, ``kappa0``,
        ``goes_imager_projection``, ``x``, ``y`` missing; an emissive band (C07-C16) or a
        ``kappa0`` that is fill / not positive; ``Rad`` without ``scale_factor``; shapes of
        ``Rad``, ``DQF``, ``y``, ``x`` that do not match.
    """
    path = Path(path)
    ds = _open_vars(path, _REQUIRED, optional=("band_id", "band_wavelength"))
    channel = _channel_of(path, ds)
    if channel not in REFLECTIVE_CHANNELS:
        raise InputFileError(path, f"band C{channel:02d} is emissive: only C01-C06 have a reflectance "
                                   "factor (kappa0)")
    rad = ds["Rad"]
    if rad.ndim != 2 or ds["DQF"].shape != rad.shape or rad.shape != (ds["y"].size, ds["x"].size):
        raise InputFileError(path, f"Rad {rad.shape}, DQF {ds['DQF'].shape}, y ({ds['y'].size}) and x "
                                   f"({ds['x'].size}) do not form one (y, x) grid")
    if "scale_factor" not in rad.attrs:
        raise InputFileError(path, "Rad has no scale_factor attribute: not packed L1b radiances")
    kappa0 = float(np.asarray(ds["kappa0"].values).reshape(-1)[0])
    kappa0_fill = ds["kappa0"].attrs.get("_FillValue")
    is_fill = kappa0_fill is not None and kappa0 == float(np.asarray(kappa0_fill).reshape(-1)[0])
    if not np.isfinite(kappa0) or kappa0 <= 0 or is_fill:
        raise InputFileError(path, f"kappa0 = {kappa0!r} is fill or not positive: no reflectance factor")

    counts, fill = _unsigned(np.asarray(rad.values), rad.attrs)
    radiance = (counts.astype(np.float32) * np.float32(_attr_scalar(rad.attrs, "scale_factor"))
                + np.float32(_attr_scalar(rad.attrs, "add_offset") if "add_offset" in rad.attrs else 0.0))
    reflectance = radiance * np.float32(kappa0)
    good = _good_dqf(ds["DQF"], keep_conditional)
    if fill is not None:
        good &= counts != fill
    reflectance = np.where(good, reflectance, np.float32(np.nan)).astype(np.float32)
    dqf_raw, _ = _unsigned(np.asarray(ds["DQF"].values), ds["DQF"].attrs)

    proj = ds["goes_imager_projection"]
    attrs: dict[str, Any] = {
        "units": "1",
        "standard_name": "toa_bidirectional_reflectance",
        "long_name": "reflectance factor kappa0 * Rad (not divided by cos(solar zenith))",
        "channel": channel,
        "kappa0": kappa0,
        "dqf_kept": "0 1" if keep_conditional else "0",
        "grid_mapping": "goes_imager_projection",
        "source": path.name,
    }
    try:
        name = parse_abi_name(path)
        attrs.update(platform=name.platform, sector=name.sector, scan_mode=name.mode)
    except InputFileError:
        attrs["platform"] = str(ds.attrs.get("platform_ID", ""))
    for key, att in (("start_time", "time_coverage_start"), ("end_time", "time_coverage_end")):
        if att in ds.attrs:
            attrs[key] = str(ds.attrs[att])
    if "band_wavelength" in ds.variables:
        attrs["band_wavelength_um"] = float(np.asarray(ds["band_wavelength"].values).reshape(-1)[0])
    x, y = _scan_angles(ds["x"]), _scan_angles(ds["y"])
    return xr.DataArray(
        reflectance,
        dims=("y", "x"),
        coords={
            "y": ("y", y, {"units": "rad", "long_name": "GOES fixed grid projection y-coordinate (N/S elevation angle)",
                           "axis": "Y"}),
            "x": ("x", x, {"units": "rad", "long_name": "GOES fixed grid projection x-coordinate (E/W scan angle)",
                           "axis": "X"}),
            "dqf": (("y", "x"), dqf_raw.astype(np.uint8), {"long_name": "ABI L1b data quality flags",
                                                           "flag_values": np.arange(5, dtype=np.uint8),
                                                           "flag_meanings": " ".join(DQF_MEANINGS.values())}),
            "goes_imager_projection": ((), np.int32(0), dict(proj.attrs)),
        },
        name="reflectance",
        attrs=attrs,
    )


# ------------------------------------------------------------------------------------------------
# navigation


def _projection_attrs(proj: Any) -> dict[str, Any]:
    if isinstance(proj, (xr.Dataset, xr.DataArray)):
        if "goes_imager_projection" not in proj.coords and not (
            isinstance(proj, xr.Dataset) and "goes_imager_projection" in proj.variables
        ):
            raise ValueError("no goes_imager_projection variable or coordinate")
        return dict(proj["goes_imager_projection"].attrs)
    return dict(proj)


def abi_lonlat(proj: Any, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Geodetic longitude and latitude of fixed-grid scan angles (PUG vol. 3 §5.1.2.8.1).

    Parameters
    ----------
    proj : xarray.Dataset, xarray.DataArray or mapping
        A dataset (or :func:`read_reflectance`'s array) holding ``goes_imager_projection``, or the
        attributes of that variable: ``perspective_point_height`` (m above the ellipsoid),
        ``semi_major_axis``, ``semi_minor_axis`` (m), ``longitude_of_projection_origin`` (degrees
        east) and optionally ``sweep_angle_axis`` (must be ``"x"``, as for every GOES-R imager).
    x, y : array_like
        E/W scan angle and N/S elevation angle (rad), broadcast together; for the whole grid pass
        ``x[np.newaxis, :]`` and ``y[:, np.newaxis]``.

    Returns
    -------
    lon, lat : numpy.ndarray
        Degrees east / north (float64, the broadcast shape), NaN where the line of sight misses
        the Earth.

    Notes
    -----
    With ``H = perspective_point_height + semi_major_axis``, ``r_eq``, ``r_pol`` the semi-axes::

        a = sin^2 x + cos^2 x (cos^2 y + (r_eq / r_pol)^2 sin^2 y)
        b = -2 H cos x cos y,   c = H^2 - r_eq^2
        r_s = (-b - sqrt(b^2 - 4 a c)) / (2 a)
        s_x = r_s cos x cos y,  s_y = -r_s sin x,  s_z = r_s cos x sin y
        lat = atan((r_eq / r_pol)^2 s_z / sqrt((H - s_x)^2 + s_y^2))
        lon = lon_0 - atan(s_y / (H - s_x))
    """
    attrs = _projection_attrs(proj)
    missing = [k for k in _PROJ_KEYS if k not in attrs]
    if missing:
        raise ValueError(f"goes_imager_projection lacks {', '.join(missing)}")
    sweep = str(_attr_scalar(attrs, "sweep_angle_axis")) if "sweep_angle_axis" in attrs else "x"
    if sweep != "x":
        raise ValueError(f"sweep_angle_axis {sweep!r}: the GOES-R navigation is for sweep 'x'")
    r_eq = float(_attr_scalar(attrs, "semi_major_axis"))
    r_pol = float(_attr_scalar(attrs, "semi_minor_axis"))
    height = float(_attr_scalar(attrs, "perspective_point_height")) + r_eq
    lon_0 = math.radians(float(_attr_scalar(attrs, "longitude_of_projection_origin")))
    x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    ratio2 = (r_eq / r_pol) ** 2
    cos_x, sin_x, cos_y, sin_y = np.cos(x), np.sin(x), np.cos(y), np.sin(y)
    a = sin_x**2 + cos_x**2 * (cos_y**2 + ratio2 * sin_y**2)
    b = -2.0 * height * cos_x * cos_y
    c = height**2 - r_eq**2
    disc = b**2 - 4.0 * a * c
    with np.errstate(invalid="ignore"):
        r_s = (-b - np.sqrt(np.where(disc >= 0, disc, np.nan))) / (2.0 * a)
        s_x = r_s * cos_x * cos_y
        s_y = -r_s * sin_x
        s_z = r_s * cos_x * sin_y
        lat = np.degrees(np.arctan(ratio2 * s_z / np.sqrt((height - s_x) ** 2 + s_y**2)))
        lon = np.degrees(lon_0 - np.arctan(s_y / (height - s_x)))
    lon = (lon + 180.0) % 360.0 - 180.0
    return lon, lat


# ------------------------------------------------------------------------------------------------
# true colour


def domain_grid(domain: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre longitudes (ascending) and latitudes (descending) of a lat/lon domain.

    Parameters
    ----------
    domain : mapping
        ``lon_min``, ``lon_max``, ``lat_min``, ``lat_max`` (degrees, the outer pixel edges) and
        ``resolution_deg`` (> 0); each span must be a whole number of pixels (to 1e-6 pixel).

    Returns
    -------
    lon, lat : numpy.ndarray
        ``lon_min + (i + 1/2) * res`` and ``lat_max - (j + 1/2) * res`` (float64).

    Raises
    ------
    ValueError
        A missing key, an empty or inverted box, latitudes outside [-90, 90], or a span that is
        not a multiple of the resolution.
    """
    keys = ("lon_min", "lon_max", "lat_min", "lat_max", "resolution_deg")
    missing = [k for k in keys if k not in domain]
    if missing:
        raise ValueError(f"domain lacks {', '.join(missing)}")
    lon_min, lon_max, lat_min, lat_max, res = (float(domain[k]) for k in keys)
    if not res > 0:
        raise ValueError(f"domain resolution_deg must be positive, not {res}")
    if not (lon_min < lon_max and -90.0 <= lat_min < lat_max <= 90.0):
        raise ValueError(f"domain [{lon_min}, {lon_max}] x [{lat_min}, {lat_max}] is empty, inverted or "
                         "beyond the poles")
    sizes = []
    for lo, hi, what in ((lon_min, lon_max, "longitude"), (lat_min, lat_max, "latitude")):
        n = (hi - lo) / res
        if abs(n - round(n)) > 1e-6:
            raise ValueError(f"domain {what} span {hi - lo:g} deg is not a multiple of resolution_deg {res:g}")
        sizes.append(round(n))
    lon = lon_min + (np.arange(sizes[0]) + 0.5) * res
    lat = lat_max - (np.arange(sizes[1]) + 0.5) * res
    return lon, lat


def _check_recipe(green: Mapping[str, Any], gamma: float, max_sza: float) -> dict[str, float]:
    if set(green) != {"red", "nir", "blue"}:
        raise ValueError(f"green recipe needs exactly the keys red, nir, blue, not {sorted(green)}")
    if not gamma > 0:
        raise ValueError(f"gamma must be positive, not {gamma}")
    if not 0 < max_sza <= 90:
        raise ValueError(f"max_sza must be in (0, 90] degrees, not {max_sza}")
    return {k: float(green[k]) for k in ("red", "nir", "blue")}


def true_colour(
    files: Mapping[int, str | Path],
    *,
    domain: Mapping[str, Any],
    green: Mapping[str, float],
    gamma: float,
    sza_correction: bool,
    max_sza: float,
    keep_conditional: bool = False,
) -> xr.Dataset:
    """True-colour image of one ABI scene on a regular latitude/longitude grid.

    Parameters
    ----------
    files : mapping
        ``{1: C01 file, 2: C02 file, 3: C03 file}`` of one scan (e.g. a value of
        :func:`group_scenes`).
    domain : mapping
        ``lon_min``, ``lon_max``, ``lat_min``, ``lat_max``, ``resolution_deg`` (see
        :func:`domain_grid`).
    green : mapping
        ``{"red": 0.45, "nir": 0.10, "blue": 0.45}``: the synthetic green's weights.
    gamma : float
        Display gamma: ``rgb = 255 * clip(rho, 0, 1) ** (1 / gamma)`` (1 = linear).
    sza_correction : bool
        Divide the reflectance factors by cos(solar zenith angle).
    max_sza : float
        Pixels with a solar zenith angle at or above this (degrees) are not valid (with or without
        the correction).
    keep_conditional : bool
        Also keep DQF 1 pixels (see :func:`read_reflectance`).

    Returns
    -------
    xarray.Dataset
        ``rgb`` uint8 ``(lat, lon, band)``, band ``["red", "green", "blue"]``, 0 where not valid;
        ``valid`` bool ``(lat, lon)``: a good-DQF fixed-grid pixel of every band within the search
        radius (inside the sector and the disk) and solar zenith below ``max_sza``; coordinates
        ``lat`` (descending) and ``lon`` (ascending), degrees; attributes ``scene_id``, ``platform``,
        ``platform_name``, ``sector``, ``scan_mode``, ``start_time``, ``end_time``,
        ``solar_time`` (ISO, UTC; the middle of the scan, where the solar zenith is computed),
        ``files``, ``green`` (the recipe as text), ``green_red``, ``green_nir``, ``green_blue``,
        ``gamma``, ``sza_correction``, ``max_sza``, ``dqf_kept``, ``resampling``.

    Raises
    ------
    InputFileError
        Naming the file: one of the three files unreadable, truncated, lacking a variable, of the
        wrong channel, or of another platform / sector / scan than the others.
    ValueError
        ``files`` is not exactly channels 1, 2, 3; an invalid ``domain`` or recipe.
    """
    if set(files) != set(TRUE_COLOUR_CHANNELS):
        raise ValueError(f"true colour needs channels 1, 2, 3 (C01 blue, C02 red, C03 nir), not {sorted(files)}")
    weights = _check_recipe(green, gamma, max_sza)
    lon, lat = domain_grid(domain)
    paths = {ch: Path(files[ch]) for ch in TRUE_COLOUR_CHANNELS}
    names = {ch: parse_abi_name(p) for ch, p in paths.items()}
    for ch, n in names.items():
        if n.channel != ch:
            raise InputFileError(n.path, f"given as channel {ch} ({_CHANNEL_ROLE[ch]}) but the file is "
                                         f"C{n.channel:02d}")
        ref = names[1]
        if (n.platform, n.sector) != (ref.platform, ref.sector):
            raise InputFileError(n.path, f"{n.platform} {n.sector} is not the platform/sector of "
                                         f"{ref.path.name} ({ref.platform} {ref.sector})")

    # our own reading: validates each file, Rad included, so that a truncated or incomplete file is
    # named (satpy's errors do not say which file), and gives the DQF masks satpy does not apply
    good = {}
    for ch, p in paths.items():
        ds = _open_vars(p, ("DQF", "kappa0", "Rad", "x", "y", "goes_imager_projection"), optional=("band_id",))
        channel = _channel_of(p, ds)
        if channel != ch:
            raise InputFileError(p, f"band_id says C{channel:02d}, expected C{ch:02d}")
        good[ch] = _good_dqf(ds["DQF"], keep_conditional)

    bands = _satpy_lonlat_bands(paths, good, lon, lat, domain)
    start = min(n.start for n in names.values())
    end = max(n.end for n in names.values())
    solar_time = start + (end - start) // 2

    valid = np.isfinite(bands[1]) & np.isfinite(bands[2]) & np.isfinite(bands[3])
    sza = _solar_zenith(solar_time, lon, lat)
    valid &= sza < max_sza
    rho = {ch: np.where(valid, bands[ch], 0.0) for ch in TRUE_COLOUR_CHANNELS}
    if sza_correction:
        cos_sza = np.where(valid, np.cos(np.radians(sza)), 1.0)
        rho = {ch: r / cos_sza for ch, r in rho.items()}
    red, nir, blue = rho[2], rho[3], rho[1]
    grn = weights["red"] * red + weights["nir"] * nir + weights["blue"] * blue
    stack = np.stack([red, grn, blue], axis=-1)
    scaled = np.clip(stack, 0.0, 1.0) ** (1.0 / gamma)
    rgb = np.round(255.0 * scaled).astype(np.uint8)
    rgb[~valid] = 0
    if not valid.any():
        log.warning("scene %s: no valid pixel in the domain (outside the sector, the disk or daylight)",
                    names[1].scene_id)

    recipe = f"{weights['red']:g}*red + {weights['nir']:g}*nir + {weights['blue']:g}*blue"
    return xr.Dataset(
        {
            "rgb": (("lat", "lon", "band"), rgb, {"long_name": "true-colour image (C02 red, synthetic green, C01 blue)",
                                                  "units": "1"}),
            "valid": (("lat", "lon"), valid, {"long_name": "inside the sector, good DQF in every band, "
                                                           f"solar zenith < {max_sza:g} deg"}),
        },
        coords={
            "lat": ("lat", lat, {"units": "degrees_north", "standard_name": "latitude"}),
            "lon": ("lon", lon, {"units": "degrees_east", "standard_name": "longitude"}),
            "band": ("band", np.array(["red", "green", "blue"])),
        },
        attrs={
            "platform": names[1].platform,
            "platform_name": PLATFORM_NAMES.get(names[1].platform, names[1].platform),
            "sector": names[1].sector,
            "scan_mode": names[1].mode,
            "scene_id": names[1].scene_id,
            "start_time": _iso(start),
            "end_time": _iso(end),
            "solar_time": _iso(solar_time),
            "files": [paths[ch].name for ch in TRUE_COLOUR_CHANNELS],
            "green": recipe,
            "green_red": weights["red"],
            "green_nir": weights["nir"],
            "green_blue": weights["blue"],
            "gamma": float(gamma),
            "sza_correction": int(bool(sza_correction)),
            "max_sza": float(max_sza),
            "dqf_kept": "0 1" if keep_conditional else "0",
            "resampling": "satpy abi_l1b reflectance/100 masked by DQF; native (C02 2x2 mean) to 1 km; "
                          f"nearest neighbour (radius {RADIUS_FACTOR:g} nadir pixels) to the lat/lon grid",
        },
    )


def _iso(t: np.datetime64) -> str:
    return str(np.datetime_as_string(t, unit="ms"))


def _solar_zenith(t: np.datetime64, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Solar zenith angle (degrees) on the (lat, lon) grid at time ``t`` (pyorbital astronomy)."""
    from pyorbital.astronomy import sun_zenith_angle

    when = t.astype("datetime64[us]").astype(dt.datetime)
    lon2, lat2 = np.meshgrid(lon, lat)
    return np.asarray(sun_zenith_angle(when, lon2, lat2), dtype=np.float64)


def _target_area(domain: Mapping[str, Any], lon: np.ndarray, lat: np.ndarray):
    from pyresample.geometry import AreaDefinition

    extent = (float(domain["lon_min"]), float(domain["lat_min"]), float(domain["lon_max"]),
              float(domain["lat_max"]))
    return AreaDefinition("domain", "regular latitude/longitude domain", "longlat",
                          {"proj": "longlat", "datum": "WGS84", "no_defs": None},
                          lon.size, lat.size, extent)


def _satpy_lonlat_bands(paths: Mapping[int, Path], good: Mapping[int, np.ndarray], lon: np.ndarray,
                        lat: np.ndarray, domain: Mapping[str, Any]) -> dict[int, np.ndarray]:
    """Reflectance factors of C01, C02, C03 on the (lat, lon) grid, NaN where not valid."""
    import dask
    import satpy
    from satpy import Scene

    names = {ch: f"C{ch:02d}" for ch in paths}
    with satpy.config.set(download_aux=False), xr.set_options(keep_attrs=True), warnings.catch_warnings():
        # satpy 0.60 calls pyresample 1.35's area boundary with an argument it is renaming
        warnings.filterwarnings("ignore", message="The `frequency` argument is pending deprecation",
                                category=PendingDeprecationWarning)
        try:
            scn = Scene(reader="abi_l1b", filenames=[str(p) for p in paths.values()])
            scn.load(list(names.values()), calibration="reflectance")
        except Exception as exc:
            raise InputFileError(paths[1], f"satpy's abi_l1b reader cannot read the scene "
                                           f"({', '.join(p.name for p in paths.values())}): "
                                           f"{type(exc).__name__}: {exc}") from exc
        for ch, name in names.items():
            arr = scn[name]
            if arr.shape != good[ch].shape:
                raise InputFileError(paths[ch], f"satpy read {arr.shape} pixels, DQF has {good[ch].shape}")
            masked = arr.where(xr.DataArray(good[ch], dims=arr.dims)) / 100.0  # percent -> factor
            masked.attrs = dict(arr.attrs, units="1")
            scn[arr.attrs["_satpy_id"]] = masked
        coarse = scn.coarsest_area()
        native = scn.resample(coarse, resampler="native")
        pixel_m = max(abs(coarse.pixel_size_x), abs(coarse.pixel_size_y))
        target = _target_area(domain, lon, lat)
        on_grid = native.resample(target, resampler="nearest", radius_of_influence=RADIUS_FACTOR * pixel_m,
                                  fill_value=np.nan)
        arrays = dask.compute(*[on_grid[names[ch]].data for ch in TRUE_COLOUR_CHANNELS])
    return {ch: np.asarray(a, dtype=np.float64) for ch, a in zip(TRUE_COLOUR_CHANNELS, arrays)}
