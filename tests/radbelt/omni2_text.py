"""Hand-made OMNI2 hourly ASCII records for reader and ingest tests (tests only)."""

from __future__ import annotations

from eoml.radbelt.readers import OMNI2_FIELD_WIDTHS


def omni2_line(year: int, doy: int, hour: int, speed: float) -> str:
    """One 327-character OMNI2 record: words 1-3 the time, word 25 the flow speed, other words 0."""
    words = ["0"] * len(OMNI2_FIELD_WIDTHS)
    words[0], words[1], words[2], words[24] = str(year), str(doy), str(hour), f"{speed:.0f}."
    return "".join(w.rjust(width) for w, width in zip(words, OMNI2_FIELD_WIDTHS, strict=True))


def omni2_text(year: int, speeds: list[float], doy: int = 1) -> str:
    """Hourly records from hour 0 of ``doy``, one per speed, newline-terminated."""
    return "".join(omni2_line(year, doy + h // 24, h % 24, v) + "\n" for h, v in enumerate(speeds))
