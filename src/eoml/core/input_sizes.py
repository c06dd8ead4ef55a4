"""The smallest square input (px) each backbone accepts, without torch: config checks read it when
the workflow parses its rules (each ``snakemake`` start); :mod:`eoml.core.backbones` re-exports it.

Inception-v3's unpadded stem and reductions need 75 px; every other backbone 32 px, its output
stride.
"""

from __future__ import annotations

__all__ = ["min_input_size"]

#: smallest input (px) of the backbones that need more than their output stride
_MIN_SIZE = {"inception_v3": 75}


def min_input_size(backbone: str) -> int:
    """The smallest square input (px) backbone ``backbone`` accepts."""
    return _MIN_SIZE.get(backbone, 32)
