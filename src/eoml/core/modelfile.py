"""One model-file format for every trained network of the workflow (``model.pt``).

A model file is a ``torch.save`` of plain data only (tensors, dicts, lists, strings, numbers), so
it is read back with ``torch.load(weights_only=True)`` — no code is unpickled:

============== ===============================================================================
``format``     ``"eoml-model"`` (what tells an eoml model file from any other torch file)
``version``    :data:`FORMAT_VERSION` of the layout
``kind``       what the file holds, ``"<study>.<model family>"`` (e.g. ``"demo.mlp"``); a loader
               names the kind it expects and refuses another
``weights``    a ``state_dict`` (several networks: one ``state_dict`` of an
               ``nn.ModuleDict``, keys prefixed by the network's name)
``arch``       the architecture spec that rebuilds the network(s) before loading the weights
``norm``       the normalisation (e.g. :meth:`eoml.core.data.Normalizer.to_dict`), or None
``settings``   everything else worth keeping: training settings, seed, best epoch, data digest…
``eoml_version`` the eoml version that wrote the file
============== ===============================================================================

Files are written atomically (temporary sibling renamed into place). :func:`load_model_file`
raises :class:`eoml.core.errors.InputFileError` naming the file when it is missing, unreadable,
not an eoml model file, of a newer layout, or of another kind; :func:`load_network` also when the
weights do not fit the network its ``arch`` rebuilds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from eoml import __version__
from eoml.core.config import plain_json
from eoml.core.errors import ConfigError, InputFileError
from eoml.core.io import atomic_path

__all__ = ["FORMAT", "FORMAT_VERSION", "ModelFile", "load_model_file", "load_network", "save_model_file"]

FORMAT = "eoml-model"
FORMAT_VERSION = 1


@dataclass
class ModelFile:
    """The content of a model file (see the module documentation for the fields)."""

    kind: str
    weights: dict[str, torch.Tensor]
    arch: dict[str, Any] = field(default_factory=dict)
    norm: Any = None
    settings: dict[str, Any] = field(default_factory=dict)
    eoml_version: str = __version__


def save_model_file(
    path: str | Path,
    *,
    kind: str,
    weights: Mapping[str, torch.Tensor],
    arch: Mapping[str, Any],
    norm: Any = None,
    settings: Mapping[str, Any] | None = None,
) -> Path:
    """Write a model file atomically; return its path.

    ``arch``, ``norm`` and ``settings`` must be JSON-able (they are stored as plain data);
    ``weights`` are stored as contiguous CPU copies.
    """
    path = Path(path)
    record = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "kind": str(kind),
        "weights": {str(k): v.detach().cpu().contiguous().clone() for k, v in weights.items()},
        "arch": plain_json(dict(arch)),
        "norm": plain_json(norm),
        "settings": plain_json(dict(settings or {})),
        "eoml_version": __version__,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(record, tmp)
    return path


def load_model_file(path: str | Path, kind: str | None = None) -> ModelFile:
    """Read a model file written by :func:`save_model_file` (of ``kind``, when given)."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "model file does not exist")
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad or foreign file
        raise InputFileError(path, f"not a readable eoml model file ({type(exc).__name__}: {exc})") from exc
    if not isinstance(record, Mapping) or record.get("format") != FORMAT:
        raise InputFileError(path, "not an eoml model file (no 'format: eoml-model' record; retrain the "
                                   "model with this eoml version)")
    version = record.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise InputFileError(path, f"model file layout version {version!r} is newer than this eoml "
                                   f"({__version__}) reads ({FORMAT_VERSION})")
    missing = [k for k in ("kind", "weights", "arch", "norm", "settings") if k not in record]
    if missing:
        raise InputFileError(path, f"model file lacks {', '.join(missing)}")
    if kind is not None and record["kind"] != kind:
        raise InputFileError(path, f"holds a {record['kind']!r} model, not a {kind!r} model")
    weights = record["weights"]
    if not isinstance(weights, Mapping) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise InputFileError(path, "model file weights are not a state_dict of tensors")
    return ModelFile(kind=str(record["kind"]), weights=dict(weights), arch=dict(record["arch"]),
                     norm=record["norm"], settings=dict(record["settings"]),
                     eoml_version=str(record.get("eoml_version", "unknown")))


def load_network(
    path: str | Path,
    kind: str,
    build: Callable[[ModelFile], tuple[torch.nn.Module, Any]],
    device: str | torch.device | None = None,
) -> tuple[torch.nn.Module, ModelFile, Any]:
    """A trained network from its model file, in eval mode on ``device``
    (:func:`eoml.core.training.select_device`: CUDA when visible unless told otherwise).

    ``build(record)`` rebuilds the (untrained) network from ``record.arch`` and parses what else
    the caller needs (e.g. its normalisation), returning ``(network, extra)``; the file's weights
    are then loaded into the network. Returns ``(network, record, extra)``. A file that cannot be
    read, or whose architecture, weights or normalisation do not fit together, raises
    :class:`InputFileError` naming it.
    """
    from eoml.core.training import select_device

    record = load_model_file(path, kind=kind)
    try:
        net, extra = build(record)
        net.load_state_dict(record.weights)
    except (ConfigError, RuntimeError, KeyError, TypeError, ValueError) as exc:
        raise InputFileError(path, f"model weights do not match its settings: {exc}") from exc
    return net.to(select_device(device)).eval(), record, extra
