"""One logging format for every eoml command (rules send stdout/stderr to their ``log:``)."""

from __future__ import annotations

import logging
import sys


def setup_logging(verbosity: int = 0) -> None:
    level = logging.DEBUG if verbosity > 0 else logging.INFO
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
        stream=sys.stderr,
        force=True,
    )
    for noisy in ("matplotlib", "fsspec", "asyncio", "numcodecs", "urllib3", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
