"""Zarr stores shared by every eoml study: CF check, provenance, chunking, atomic writes.

A store is a self-describing :class:`xarray.Dataset` written in Zarr format 3 with consolidated
metadata. :func:`write_store` is the only way eoml writes one:

1. global provenance attributes are added (:func:`provenance_attrs`): eoml version, source file
   names and SHA-256 digests, a digest of the config section, creation time, ``Conventions``,
   ``history``;
2. CF attributes are checked (:func:`check_cf`): every data variable and coordinate has
   ``units`` and ``long_name``;
3. the data are chunked (:func:`chunk_policy` unless chunks are given) and float variables are
   encoded with a NaN fill value (the default Zarr compressor is kept);
4. the store is written to a temporary sibling (:func:`eoml.core.io.atomic_path`) and renamed into
   place only when complete, so an interrupted write leaves no store at ``path`` and keeps a
   previous store there intact.

:func:`open_store` reads it back (consolidated metadata) or raises
:class:`~eoml.core.errors.InputFileError` naming the path.

A *collection* is several such datasets that belong together (one per evaluation dataset, one
per scene, ...) of different shapes: :func:`write_collection` writes them as the groups of one
Zarr v3 store (an :class:`xarray.DataTree` one level deep), each group CF-checked and chunked
as by :func:`write_store`, the provenance attributes on the root group, atomically;
:func:`open_collection` reads it back as a :class:`xarray.DataTree` whose children are in the
order written.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import os
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

import eoml
from eoml.core.config import config_digest
from eoml.core.errors import InputFileError
from eoml.core.io import atomic_path, sha256_file

log = logging.getLogger(__name__)

__all__ = [
    "provenance_attrs", "chunk_policy", "check_cf", "write_store", "open_store", "write_collection",
    "open_collection", "GROUP_NAME",
]

#: Zarr-python warns on every write/open that consolidated metadata is not (yet) part of the
#: Zarr v3 specification. eoml relies on it knowingly (xarray and zarr-python read it), so the
#: warning is silenced around our own calls only.
_CONSOLIDATED_WARNING = "Consolidated metadata is currently not part"

#: Dimension names read as square spatial tiles (images, swaths, grids).
SPATIAL_DIMS = frozenset(
    {"x", "y", "lat", "lon", "latitude", "longitude", "row", "col", "rows", "cols",
     "line", "sample", "pixel", "azimuth", "range"}
)
#: Dimension names treated as time (besides any dimension whose coordinate is a datetime).
TIME_DIMS = frozenset({"time", "t", "tbin", "date", "epoch"})

#: Encoding keys kept from a dataset that was read from somewhere else; the others (chunks,
#: compressors, shards, ... of the source) would clash with the chunks chosen here.
_KEEP_ENCODING = frozenset(
    {"units", "calendar", "dtype", "_FillValue", "missing_value", "scale_factor", "add_offset"}
)


# --------------------------------------------------------------------------------------------
# provenance


def provenance_attrs(sources: Iterable[str | os.PathLike] = (), config: Any = None) -> dict:
    """Global provenance attributes of a store.

    ``source_files`` (base names) and ``source_sha256`` (hex digests, same order) describe the
    raw inputs; ``config_digest`` is the SHA-256 of the canonical JSON (sorted keys, no spaces)
    of ``config`` (``None`` is digested as JSON ``null``). All values are strings or lists of
    strings, which both Zarr v3 (JSON) and netCDF-4 attributes hold.
    """
    paths = [Path(p) for p in sources]
    names = [p.name for p in paths]
    digests = []
    for p in paths:
        try:
            digests.append(sha256_file(p))
        except OSError as exc:
            raise InputFileError(p, f"cannot read source file to digest it: {exc}") from exc
    created = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    created = created.replace("+00:00", "Z")
    return {
        "eoml_version": eoml.__version__,
        "source_files": names,
        "source_sha256": digests,
        "config_digest": config_digest(config),
        "created": created,
        "Conventions": "CF-1.10",
        "history": f"{created} written by eoml {eoml.__version__} (eoml.core.store)",
    }


# --------------------------------------------------------------------------------------------
# CF attributes


def _needs_units(var: xr.Variable) -> bool:
    """Datetimes and timedeltas get their CF units from the time encoding; labels (strings of any
    kind: fixed-width, object, or NumPy's variable-width StringDType that a store reads back) and
    booleans have none."""
    kind = var.dtype.kind
    return kind not in ("M", "m", "U", "S", "O", "T", "b")


def check_cf(ds: xr.Dataset) -> None:
    """Check that every data variable and coordinate has ``units`` and ``long_name``.

    Dimensionless quantities use ``units = "1"``. Exempt from ``units``: datetime/timedelta
    variables (xarray writes CF ``units``/``calendar`` from their encoding; a ``units``
    attribute would clash with it), and string/boolean label variables. Grid-mapping variables
    (those with a ``grid_mapping_name`` attribute, e.g. rioxarray's ``spatial_ref``) are exempt
    altogether. Raises ``ValueError`` naming the first offending variable.
    """
    problems = []
    for name, var in {**ds.coords, **ds.data_vars}.items():
        if "grid_mapping_name" in var.attrs:
            continue
        missing = []
        if _needs_units(var.variable) and not str(var.attrs.get("units", "")).strip():
            missing.append("units")
        if not str(var.attrs.get("long_name", "")).strip():
            missing.append("long_name")
        if missing:
            role = "coordinate" if name in ds.coords else "data variable"
            problems.append(f"{role} {name!r} has no {' and no '.join(missing)} attribute")
    if problems:
        raise ValueError("CF attributes missing: " + "; ".join(problems))


# --------------------------------------------------------------------------------------------
# chunking


def _is_time_dim(ds: xr.Dataset, dim: str) -> bool:
    if dim.lower() in TIME_DIMS:
        return True
    return dim in ds.coords and ds[dim].dtype.kind == "M"


def chunk_policy(
    ds: xr.Dataset, target_mb: float = 16, along: str | Sequence[str] | None = None
) -> dict[str, int]:
    """Chunk sizes for ``ds``: about ``target_mb`` MB per chunk, shaped like the reads that follow.

    The rule (the chunk size in bytes is computed with the largest item size of the data
    variables, so no variable's chunk exceeds the target):

    * ``along`` names the dimension(s) that reads run along. Default: the spatial dimensions
      (``x``, ``y``, ``lat``, ``lon``, ``row``, ``col``, ... see :data:`SPATIAL_DIMS`) when the
      dataset has any — images are read as tiles; otherwise its time dimension (``time`` or any
      datetime coordinate) — series are read as long time runs; otherwise its longest dimension.
    * Every other dimension is kept whole (e.g. the whole L axis, all bands), except time when
      the reads run along spatial dimensions: then one time step per chunk (one image).
      If the whole dimensions alone exceed the target, the largest of them is split.
    * The ``along`` dimensions share what is left of the budget: a single one gets a long run;
      several get equal-sided (square) tiles, a dimension shorter than its share is kept whole
      and the others grow to use the rest.

    A dataset smaller than the target ends up as a single chunk. Returns ``{dim: size}`` for
    every dimension of ``ds``, each between 1 and the dimension's length.
    """
    sizes = dict(ds.sizes)
    if not sizes:
        return {}
    itemsize = max((v.dtype.itemsize for v in ds.data_vars.values()), default=8) or 8
    budget = max(1, int(target_mb * 1e6 // itemsize))  # elements per chunk

    if along is None:
        spatial = [d for d in sizes if d.lower() in SPATIAL_DIMS]
        times = [d for d in sizes if _is_time_dim(ds, d)]
        if spatial:
            along_dims = spatial
        elif times:
            along_dims = times[:1]
        else:
            along_dims = [max(sizes, key=sizes.get)]
    else:
        along_dims = [along] if isinstance(along, str) else list(along)
        unknown = [d for d in along_dims if d not in sizes]
        if unknown:
            raise ValueError(f"chunk_policy: along names dimensions not in the dataset: {unknown}")
    image_reads = any(d.lower() in SPATIAL_DIMS for d in along_dims)

    chunks: dict[str, int] = {}
    for dim, n in sizes.items():
        if dim in along_dims:
            continue
        chunks[dim] = 1 if (image_reads and _is_time_dim(ds, dim)) else max(1, n)
    # whole dimensions alone above the budget: split the largest until they fit
    while math.prod(chunks.values()) > budget:
        big = max(chunks, key=chunks.get)
        if chunks[big] == 1:
            break
        rest = math.prod(chunks.values()) // chunks[big]
        chunks[big] = max(1, budget // rest)  # strictly smaller, so the loop ends
    left = max(1, budget // math.prod(chunks.values()))

    # share the rest among the along dimensions: equal sides, dims shorter than that kept whole
    todo = list(along_dims)
    while todo:
        side = max(1, int(math.floor(left ** (1.0 / len(todo)) + 1e-9)))
        short = [d for d in todo if sizes[d] <= side]
        if not short:
            for dim in todo:
                chunks[dim] = side
            break
        for dim in short:
            chunks[dim] = max(1, sizes[dim])
            left = max(1, left // chunks[dim])
            todo.remove(dim)
    return {dim: chunks[dim] for dim in sizes}


# --------------------------------------------------------------------------------------------
# writing and opening


def _encoding(ds: xr.Dataset) -> dict[str, dict]:
    """Per-variable encoding: NaN fill for floats, stale source encodings dropped."""
    enc: dict[str, dict] = {}
    for name, var in ds.variables.items():
        e = {k: v for k, v in var.encoding.items() if k in _KEEP_ENCODING}
        if var.dtype.kind == "f" and "scale_factor" not in e and "add_offset" not in e:
            e["_FillValue"] = np.nan
        enc[name] = e
    return enc


def _with_provenance(attrs: Mapping[str, Any], sources, config, extra_attrs) -> dict:
    """``attrs`` with the provenance attributes added (a previous ``history`` is kept above)."""
    out = {**attrs, **provenance_attrs(sources, config)}
    if "history" in attrs and str(attrs["history"]).strip():
        out["history"] = f"{attrs['history']}\n{out['history']}"
    if extra_attrs:
        out.update(extra_attrs)
    return out


def _prepare(ds: xr.Dataset, chunks: Mapping[str, int] | str | None) -> tuple[xr.Dataset, dict[str, dict]]:
    """``ds`` chunked for writing (``chunks``, ``"whole"`` for one chunk per variable, or
    :func:`chunk_policy`), and its encoding."""
    if chunks == "whole":
        chunks = dict(ds.sizes)
    chunk_sizes = dict(chunks) if chunks is not None else chunk_policy(ds)
    chunk_sizes = {d: int(c) for d, c in chunk_sizes.items() if d in ds.sizes}
    encoding = _encoding(ds)
    out = ds.copy(deep=False)
    for var in out.variables.values():
        var.encoding = {}
    # text labels: variable-length strings (Zarr's standard `string` type, not the unstable
    # fixed-length UTF-32), kept in memory rather than chunked (dask cannot size object arrays)
    labels = {name: var.astype(object).compute() for name, var in out.variables.items()
              if var.dtype.kind in "OUT"}
    out = out.chunk(chunk_sizes)
    for name, var in labels.items():
        if name in out.coords:
            out = out.assign_coords({name: var})
        else:
            out[name] = var
    return out, encoding


def write_store(
    ds: xr.Dataset,
    path: str | os.PathLike,
    *,
    sources: Iterable[str | os.PathLike] = (),
    config: Any = None,
    chunks: Mapping[str, int] | None = None,
    extra_attrs: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``ds`` as a Zarr v3 store at ``path`` (atomically) and return ``path``.

    ``sources`` are the raw input files (digested into the provenance attributes), ``config``
    the config section that produced the data (digested), ``chunks`` overrides
    :func:`chunk_policy`, ``extra_attrs`` are global attributes added last (they may override
    provenance keys, e.g. ``source_files``/``source_sha256`` carried from intermediate files).
    Raises ``ValueError`` (naming the variable) when CF attributes are missing.
    """
    path = Path(path)
    out = ds.copy(deep=False)
    out.attrs = _with_provenance(ds.attrs, sources, config, extra_attrs)
    check_cf(out)
    out, encoding = _prepare(out, chunks)

    with atomic_path(path) as tmp:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_CONSOLIDATED_WARNING)
            out.to_zarr(tmp, mode="w", zarr_format=3, consolidated=True, encoding=encoding)
    log.info("wrote store %s (%s)", path, ", ".join(f"{d}={n}" for d, n in out.sizes.items()))
    return path


def open_store(path: str | os.PathLike) -> xr.Dataset:
    """Open a store written by :func:`write_store` (lazily, dask-backed, consolidated metadata).

    Raises :class:`InputFileError` naming ``path`` when it is missing or not a readable store.
    """
    return _open_zarr(path, "store", lambda p: xr.open_zarr(p, consolidated=True))


def _open_zarr(path: str | os.PathLike, what: str, opener):
    """``opener(path)`` on an existing Zarr store (consolidated-metadata warning silenced); a
    missing or unreadable store is an :class:`InputFileError` naming ``path``."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, f"{what} does not exist")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_CONSOLIDATED_WARNING)
            return opener(path)
    except Exception as exc:  # zarr raises many types for a broken store
        raise InputFileError(
            path, f"not a readable Zarr store with consolidated metadata ({type(exc).__name__}: {exc})"
        ) from exc


# --------------------------------------------------------------------------------------------
# collections: one group per member


#: A group name: a wildcard-safe id (letters, digits, ``_ . -``, not starting with ``_ . -``), the
#: same pattern as :data:`eoml.core.workflow.SAFE_ID` (a test keeps them equal). Not imported from
#: there: every job that writes a store would then list the parse-time workflow helpers among its
#: code dependencies and rerun when they change.
GROUP_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]*"

#: Root attribute listing the groups in the order they were written (Zarr lists them sorted).
_GROUPS_ATTR = "groups"


def write_collection(
    groups: Mapping[str, xr.Dataset],
    path: str | os.PathLike,
    *,
    sources: Iterable[str | os.PathLike] = (),
    config: Any = None,
    attrs: Mapping[str, Any] | None = None,
    chunks: Mapping[str, int] | str | None = None,
) -> Path:
    """Write ``groups`` (name → dataset) as the groups of one Zarr v3 store at ``path``, atomically.

    Each dataset becomes the group ``/<name>`` with its variables and its own attributes,
    CF-checked and chunked as by :func:`write_store` (``chunks`` applies to every group, for the
    dimensions a group has; ``"whole"``: one chunk per variable, for small collections read
    whole; default :func:`chunk_policy` per group). The root group holds no
    data: its attributes are ``attrs``, the provenance attributes (:func:`provenance_attrs` of
    ``sources`` and ``config``) and ``groups`` (the names in the order given, which
    :func:`open_collection` restores). Names must be wildcard-safe ids (:data:`GROUP_NAME`).
    Raises ``ValueError`` naming the group for a bad name or missing CF attributes (before
    anything is written). Returns ``path``.
    """
    path = Path(path)
    if not groups:
        raise ValueError(f"{path}: a collection needs at least one group")
    bad = [name for name in groups if not isinstance(name, str) or not re.fullmatch(GROUP_NAME, name)]
    if bad:
        raise ValueError(f"{path}: group names must match {GROUP_NAME} (letters, digits, _ . -): {bad}")
    if attrs and _GROUPS_ATTR in attrs:
        raise ValueError(f"{path}: the root attribute {_GROUPS_ATTR!r} is reserved for the group names")
    prepared: dict[str, xr.Dataset] = {}
    encoding: dict[str, dict] = {}
    for name, ds in groups.items():
        try:
            check_cf(ds)
        except ValueError as exc:
            raise ValueError(f"{path}: group {name!r}: {exc}") from exc
        prepared[name], encoding[f"/{name}"] = _prepare(ds, chunks)
    root = xr.Dataset(attrs={**_with_provenance(dict(attrs or {}), sources, config, None),
                             _GROUPS_ATTR: list(groups)})
    tree = xr.DataTree.from_dict({"/": root, **prepared})

    with atomic_path(path) as tmp:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_CONSOLIDATED_WARNING)
            tree.to_zarr(tmp, mode="w", zarr_format=3, consolidated=True, encoding=encoding)
    log.info("wrote collection %s (%d groups: %s)", path, len(prepared), ", ".join(prepared))
    return path


def open_collection(path: str | os.PathLike) -> xr.DataTree:
    """Open a collection written by :func:`write_collection` (lazily, dask-backed).

    Returns an :class:`xarray.DataTree`: ``tree.attrs`` are the root (provenance) attributes,
    ``tree.children`` the groups in the order written, ``tree[name].to_dataset()`` one group as a
    dataset. Raises :class:`InputFileError` naming ``path`` when it is missing, not a readable
    Zarr store, or not a collection (no ``groups`` root attribute, or a listed group missing).
    """
    path = Path(path)
    tree = _open_zarr(path, "collection store",
                      lambda p: xr.open_datatree(p, engine="zarr", consolidated=True, chunks={}))
    names = tree.attrs.get(_GROUPS_ATTR)
    if not isinstance(names, list) or not names:
        raise InputFileError(path, f"not a collection: no {_GROUPS_ATTR!r} root attribute naming its groups")
    missing = [n for n in names if n not in tree.children]
    if missing:
        raise InputFileError(path, f"collection lacks the group(s) {missing} its root attribute lists")
    return xr.DataTree.from_dict(
        {"/": tree.to_dataset(inherit=False), **{n: tree[n].to_dataset(inherit=False) for n in names}}
    )
