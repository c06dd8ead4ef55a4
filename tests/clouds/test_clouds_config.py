"""The clouds config section: schema defaults and the semantic checks."""

from __future__ import annotations

import pytest

from eoml.core.config import validate_config
from eoml.core.errors import ConfigError


def test_defaults_are_the_papers():
    cl = validate_config({"studies": ["clouds"]})["clouds"]
    assert cl["analysis"]["tile_sizes"] == [64, 128, 256, 512, 612, 850]
    assert cl["true_colour"]["green"] == {"red": 0.45, "nir": 0.10, "blue": 0.45}
    assert cl["domain"] == {"lon_min": -61.0, "lon_max": -40.0, "lat_min": 10.0, "lat_max": 24.0,
                            "resolution_deg": 0.01}
    assert cl["embedding"]["dim"] == 100 and cl["triplets"]["neighbour_offset"] == 0.5


@pytest.mark.parametrize("section, message", [
    ({"source": "files"}, "list GOES L1b files"),
    ({"source": "files", "kaggle": [{"name": "a", "images": "i", "labels": "l.csv"}],
      "expert": [{"name": "a", "root": "r"}]}, "must be unique"),
    ({"domain": {"lon_min": -40.0, "lon_max": -61.0}}, "clouds.domain"),
    ({"analysis": {"k_range": [6, 3]}}, "clouds.analysis.k_range"),
    ({"cloud_mask": {"kind": "greyscale"}}, "clouds.cloud_mask.kind"),
])
def test_bad_sections_are_refused_naming_the_key(section, message):
    with pytest.raises(ConfigError, match=message):
        validate_config({"studies": ["clouds"], "clouds": section})
