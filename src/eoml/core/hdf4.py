"""HDF4 plumbing shared by the MODIS readers: integrity check, opening, one SDS, its decoding.

MODIS Level-2/3 products (tile granules such as MOD11A1 or MOD09GQ, global grids such as
MOD08_E3) are HDF4 files read with pyhdf's SD interface (GDAL wheels carry no HDF4 driver).
Everything wrong with a file raises :class:`eoml.core.errors.InputFileError` naming the file (and
the SDS or attribute); no bare ``HDF4Error`` escapes.

* :func:`check_hdf4_complete` — catches files cut short *before* pyhdf touches them: pyhdf reads
  some truncated files silently (the missing compressed blocks come back as fill) and crashes on
  others, so the data-descriptor (DD) blocks are walked and every element must end inside the
  file (HDF4 specification 4.2, chapter "The HDF file format").
* :class:`HDF4File` — an open file (the check above, then ``SD(path, READ)``) with its global
  ``attrs``, its ``datasets`` and :meth:`HDF4File.read_sds` (data + attributes of one SDS, a
  missing SDS or unexpected dimensions an error naming it).
* :func:`decode_sds` — raw values to float32 physical values with NaN at ``_FillValue`` and
  outside ``valid_range``; scale, offset, fill and range come from the SDS's own attributes
  (absent ones are an error, never guessed). Two conventions exist and the caller names its own:
  ``"raw*scale+offset"`` (the MODIS land products, e.g. MOD11: "data * scale_factor +
  add_offset") and ``"scale*(raw-offset)"`` (the HDF4 ``SDsetcal`` convention of the MODIS
  atmosphere products, e.g. MOD08: "scale_factor * (stored integer - add_offset)"). With a zero
  offset both give the same numbers.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

import numpy as np

from eoml.core.errors import InputFileError

__all__ = [
    "CONVENTIONS",
    "HDF4_MAGIC",
    "HDF4File",
    "check_hdf4_complete",
    "decode_sds",
    "sds_attr",
    "sds_number",
]

HDF4_MAGIC = b"\x0e\x03\x13\x01"
_DFTAG_NULL = 1
_DD_DTYPE = np.dtype([("tag", ">u2"), ("ref", ">u2"), ("offset", ">i4"), ("length", ">i4")])

#: the scale/offset conventions :func:`decode_sds` knows
CONVENTIONS = ("raw*scale+offset", "scale*(raw-offset)")


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def check_hdf4_complete(path: str | Path) -> None:
    """Raise :class:`InputFileError` unless ``path`` is a complete HDF4 file.

    Checks the magic number ``0e 03 13 01``, then walks the chain of data-descriptor blocks
    (``int16 ndds``, ``int32 next``, then ``ndds`` x ``(uint16 tag, uint16 ref, int32 offset,
    int32 length)``, big-endian) and requires every block and every data element (other than
    ``DFTAG_NULL`` and the offset/length sentinels 0 and -1) to end inside the file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "file does not exist")
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            if fh.read(4) != HDF4_MAGIC:
                raise InputFileError(path, "not an HDF4 file (its first bytes are not the HDF4 magic number 0e031301)")
            offset, seen, n_blocks = 4, set(), 0
            while offset:
                if offset in seen or offset < 4:
                    raise InputFileError(path, "corrupt HDF4 file: the data-descriptor block chain loops at "
                                               f"byte {offset}")
                seen.add(offset)
                fh.seek(offset)
                head = fh.read(6)
                if len(head) < 6:
                    raise InputFileError(path, f"truncated HDF4 file: data-descriptor block {n_blocks} at byte "
                                               f"{offset} lies beyond the end of the file ({size} bytes)")
                ndds, nxt = struct.unpack(">hi", head)
                if ndds < 0 or nxt < 0:
                    raise InputFileError(path, f"corrupt HDF4 file: data-descriptor block at byte {offset} "
                                               f"declares {ndds} descriptors and next block {nxt}")
                raw = fh.read(12 * ndds)
                if len(raw) < 12 * ndds:
                    raise InputFileError(path, f"truncated HDF4 file: data-descriptor block at byte {offset} "
                                               f"({ndds} descriptors) runs past the end of the file ({size} bytes)")
                dds = np.frombuffer(raw, dtype=_DD_DTYPE)
                used = (dds["tag"] != _DFTAG_NULL) & (dds["offset"] > 0) & (dds["length"] > 0)
                ends = dds["offset"][used].astype(np.int64) + dds["length"][used]
                if ends.size and int(ends.max()) > size:
                    k = int(np.argmax(ends))
                    tag, ref = int(dds["tag"][used][k]), int(dds["ref"][used][k])
                    raise InputFileError(
                        path,
                        f"truncated HDF4 file: data element (tag {tag}, ref {ref}) ends at byte {int(ends[k])} "
                        f"but the file has {size} bytes",
                    )
                n_blocks += 1
                offset = nxt
    except OSError as exc:
        raise InputFileError(path, f"cannot read the file ({type(exc).__name__}: {exc})") from exc


class HDF4File:
    """An open HDF4 file (pyhdf SD interface), checked complete first; a context manager.

    ``product`` names what the file should be (e.g. ``"MOD08_E3"``): a missing SDS is reported
    as "(this is not a <product> granule?)". Attributes: ``path``, ``product``, ``sd`` (the pyhdf
    ``SD``), ``attrs`` (global attributes) and ``datasets`` (``SD.datasets()``: ``{name: (dim
    names, shape, type, index)}``).
    """

    def __init__(self, path: str | Path, product: str):
        from pyhdf.SD import SD, SDC

        self.path = Path(path)
        self.product = product
        check_hdf4_complete(self.path)
        try:
            self.sd = SD(str(self.path), SDC.READ)
            self.attrs = self.sd.attributes()
            self.datasets = self.sd.datasets()
        except Exception as exc:  # pyhdf raises HDF4Error
            raise InputFileError(self.path, f"not a readable HDF4 file ({_describe(exc)})") from exc

    def close(self) -> None:
        """End the SD access (idempotent)."""
        from pyhdf.error import HDF4Error

        sd, self.sd = self.sd, None
        if sd is not None:
            with contextlib.suppress(HDF4Error):
                sd.end()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def read_sds(self, name: str, shape: tuple[int, ...] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """``(data, attributes)`` of SDS ``name``; with ``shape`` (``(YDim, XDim)``) its dimensions
        must be exactly those."""
        if name not in self.datasets:
            raise InputFileError(self.path, f"missing SDS {name!r} (this is not a {self.product} granule?)")
        try:
            sds = self.sd.select(name)
            attrs = sds.attributes()
            data = sds.get()
            sds.endaccess()
        except Exception as exc:
            raise InputFileError(self.path, f"cannot read SDS {name!r}; truncated or corrupt file? "
                                            f"({_describe(exc)})") from exc
        data = np.asarray(data)
        if shape is not None and data.shape != tuple(shape):
            raise InputFileError(self.path, f"SDS {name!r} has dimensions {data.shape}, the grid declares "
                                            f"{' x '.join(str(n) for n in shape)} (YDim x XDim)")
        return data, attrs


def sds_attr(attrs: Mapping[str, Any], key: str, path: str | Path, sds: str, default: Any = None,
             required: bool = True) -> Any:
    """Attribute ``key`` of SDS ``sds``; absent: :class:`InputFileError` or, if not ``required``,
    ``default``."""
    if key in attrs:
        return attrs[key]
    if required:
        raise InputFileError(path, f"SDS {sds!r} has no {key!r} attribute")
    return default


def sds_number(value: Any, path: str | Path, sds: str, key: str) -> float:
    """The (first) number of an attribute value, as float; anything else names the attribute."""
    try:
        return float(np.asarray(value).ravel()[0])
    except (TypeError, ValueError, IndexError) as exc:
        raise InputFileError(path, f"SDS {sds!r} attribute {key!r} is not a number: {value!r}") from exc


def decode_sds(raw: np.ndarray, attrs: Mapping[str, Any], path: str | Path, sds: str, *, convention: str,
               offset_required: bool = False) -> np.ndarray:
    """Physical values (float32) of SDS ``sds``, NaN at ``_FillValue`` and outside ``valid_range``.

    ``convention`` ``"raw*scale+offset"`` (MODIS land) or ``"scale*(raw-offset)"`` (HDF4
    ``SDsetcal``, MODIS atmosphere); ``scale_factor``, ``_FillValue`` and ``valid_range`` are
    required attributes, ``add_offset`` too when ``offset_required`` (otherwise absent means 0).
    Fill and range are tested on the raw values (integers compared as integers). Arithmetic in
    float32: ``raw * scale (+ offset)`` or ``(raw - offset) * scale``.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {', '.join(CONVENTIONS)}, got {convention!r}")
    scale = sds_number(sds_attr(attrs, "scale_factor", path, sds), path, sds, "scale_factor")
    offset = sds_number(sds_attr(attrs, "add_offset", path, sds, 0.0, required=offset_required), path, sds,
                        "add_offset")
    fill = sds_number(sds_attr(attrs, "_FillValue", path, sds), path, sds, "_FillValue")
    vr = sds_attr(attrs, "valid_range", path, sds)
    try:
        lo, hi = (float(v) for v in np.asarray(vr).ravel()[:2])
    except (TypeError, ValueError) as exc:
        raise InputFileError(path, f"SDS {sds!r} valid_range is not two numbers: {vr!r}") from exc
    if raw.dtype.kind in "iu" and all(float(v).is_integer() for v in (fill, lo, hi)):
        # compare the integers themselves: no float64 copy of a 4800 x 4800 SDS
        bad = (raw == int(fill)) | (raw < int(lo)) | (raw > int(hi))
    else:
        values = raw.astype(np.float64)
        bad = (values == fill) | (values < lo) | (values > hi)
    out = raw.astype(np.float32)
    if convention == "raw*scale+offset":
        out *= np.float32(scale)
        if offset:
            out += np.float32(offset)
    else:
        if offset:
            out -= np.float32(offset)
        out *= np.float32(scale)
    out[bad] = np.nan
    return out
