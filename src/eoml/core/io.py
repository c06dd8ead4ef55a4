"""Atomic writes and file digests.

Every artifact eoml writes goes to a temporary sibling path first and is renamed into place only
when complete, so an interrupted job never leaves a half-written file or store behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path


def sha256_file(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk_size), b""):
            digest.update(block)
    return digest.hexdigest()


def array_digest(*arrays) -> str:
    """Hex SHA-256 of arrays' dtypes, shapes and bytes (e.g. a training job's data fingerprint)."""
    import numpy as np

    digest = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        digest.update(str((a.dtype.str, a.shape)).encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``final``; on success rename it onto ``final``.

    Works for single files and for directories (Zarr stores). On any exception the temporary
    path is removed and ``final`` is left exactly as it was (absent, or its previous content).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    if not tmp.exists():
        raise RuntimeError(f"{final}: writer finished without producing {tmp}")
    if final.is_dir() and not final.is_symlink():
        # a directory cannot be replaced atomically by rename: move the old one aside first
        old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_csv_atomic(table, path: str | Path, float_format: str | None = "%.6g") -> Path:
    """Write a ``pandas.DataFrame`` as CSV atomically (no index, ``\\n`` line ends, floats with
    ``float_format``: 6 significant digits by default); create the parent folder; return the path."""
    path = Path(path)
    write_text_atomic(path, table.to_csv(index=False, float_format=float_format, lineterminator="\n"))
    return path
