"""Where the real agency sample files live, for every study's tests (one definition).

``../shared/realdata`` beside the repository root holds real bytes of the products the readers must
handle (never copied into the repository). Tests that read them carry the ``realdata`` marker (or
use the ``realdata`` fixture of tests/conftest.py, which adds it); tests/conftest.py then

- runs them when the directory is present, and fails a test loudly when a file it names is missing;
- skips them when the whole directory is absent, except under CI (environment variable ``CI`` set),
  where an absent directory is a failure;
- prints ``real-data tests: N passed, ...`` at the end of the session.

Importable as ``from realdata_files import REALDATA, realdata_file`` (tests/ is on pytest's
``pythonpath``), also from the studies' helper modules at import time: nothing here touches the
disk until a function is called.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: ``shared/realdata`` beside the repository root
REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"


def require_realdata(*files: str | Path) -> Path:
    """Check that the real-data directory and ``files`` (relative to it, or absolute) exist.

    Skips the calling test when the whole directory is absent (fails instead when ``CI`` is set);
    fails, naming them, when the directory is there but some of ``files`` are not. Returns the
    directory.
    """
    if not REALDATA.is_dir():
        message = f"real-data directory {REALDATA} is absent (the real agency sample files)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: CI must run the real-data tests", pytrace=False)
        pytest.skip(message)
    missing = [str(f) for f in files if not (REALDATA / f).is_file()]
    if missing:
        pytest.fail(f"real sample file(s) missing under {REALDATA}: {', '.join(missing)}", pytrace=False)
    return REALDATA


def realdata_file(relative: str | Path) -> Path:
    """The real sample file ``REALDATA / relative``, checked as :func:`require_realdata` does."""
    return require_realdata(relative) / relative
