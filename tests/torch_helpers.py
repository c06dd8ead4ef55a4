"""Helpers shared by the tests of torch networks (importable from every test folder)."""

from __future__ import annotations

import torch
from torch import nn


def randomise_batch_norms(module: nn.Module, seed: int = 3) -> None:
    """Non-trivial BatchNorm parameters and running statistics, so eval mode uses them."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.rand(n, generator=g) - 0.5)
