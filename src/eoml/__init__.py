"""eoml: raw satellite and space-weather data to ML-ready Zarr stores, models and paper figures."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("eoml")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
