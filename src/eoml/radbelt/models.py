"""radbelt models: plain ``nn.Module``s mapping ``(batch, window, n_feat)`` to ``(batch,)``, and OLS.

* :class:`MLP` — flatten → 64 → 32 → 1, ELU, dropout 0.5 after each hidden layer.
* :class:`CNN1D` — Conv1d(n_feat→64, k=3) ELU → Conv1d(64→32, k=3) ELU → MaxPool1d(2) → dropout
  0.5 → flatten → linear → 1 (an optional hidden dense layer).
* :class:`LSTMNet` — one LSTM layer (hidden 128), last hidden state → linear → 1.
* :func:`fit_linreg` / :class:`LinearRegPerL` — the paper's linear regression: ordinary least
  squares in closed form on the flattened window, one model per L-shell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from eoml.core.errors import ConfigError

MODEL_NAMES = ("mlp", "cnn", "lstm")


class MLP(nn.Module):
    def __init__(self, window: int, n_feat: int, hidden: Sequence[int] = (64, 32), dropout: float = 0.5):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = int(window) * int(n_feat)
        for size in hidden:
            layers += [nn.Linear(width, int(size)), nn.ELU(), nn.Dropout(dropout)]
            width = int(size)
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


class CNN1D(nn.Module):
    def __init__(
        self,
        window: int,
        n_feat: int,
        channels: Sequence[int] = (64, 32),
        kernel_size: int = 3,
        pool: int = 2,
        dropout: float = 0.5,
        dense_hidden: int | None = None,
    ):
        super().__init__()
        length = int(window)
        convs: list[nn.Module] = []
        width = int(n_feat)
        for size in channels:
            convs += [nn.Conv1d(width, int(size), kernel_size=kernel_size), nn.ELU()]
            width = int(size)
            length -= kernel_size - 1
        length //= pool
        if length < 1:
            raise ConfigError(
                f"radbelt.window: {window} bins is too short for the CNN "
                f"(needs at least {len(channels) * (kernel_size - 1) + pool})"
            )
        self.features = nn.Sequential(*convs, nn.MaxPool1d(pool), nn.Dropout(dropout), nn.Flatten())
        head: list[nn.Module] = []
        flat = width * length
        if dense_hidden:
            head += [nn.Linear(flat, int(dense_hidden)), nn.ELU()]
            flat = int(dense_hidden)
        head.append(nn.Linear(flat, 1))
        self.head = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (batch, window, n_feat) → (batch, n_feat, window) for Conv1d
        return self.head(self.features(x.transpose(1, 2))).squeeze(-1)


class LSTMNet(nn.Module):
    def __init__(self, window: int, n_feat: int, hidden: int = 128):
        super().__init__()
        self.lstm = nn.LSTM(int(n_feat), int(hidden), batch_first=True)
        self.head = nn.Linear(int(hidden), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.lstm(x)
        return self.head(h[-1]).squeeze(-1)


def build_model(name: str, window: int, n_feat: int, **kwargs: Any) -> nn.Module:
    """The network called ``name`` (``mlp``, ``cnn`` or ``lstm``) for the given input shape."""
    builders = {"mlp": MLP, "cnn": CNN1D, "lstm": LSTMNet}
    if name not in builders:
        raise ConfigError(f"radbelt.models: unknown neural model {name!r}; known: {', '.join(MODEL_NAMES)}")
    return builders[name](int(window), int(n_feat), **kwargs)


# --------------------------------------------------------------------------------------------
# ordinary least squares
# --------------------------------------------------------------------------------------------
def _flat(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    return X.reshape(X.shape[0], -1)


def fit_linreg(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """OLS of ``y`` on the flattened windows of ``X`` with an intercept: ``(coef, intercept)``.

    Solved in closed form with ``numpy.linalg.lstsq`` on centred data (well conditioned; a
    constant column gets coefficient 0, rank deficiency gives the minimum-norm solution).
    """
    A = _flat(X)
    y = np.asarray(y, dtype=np.float64)
    if A.shape[0] == 0:
        raise ValueError("cannot fit a linear regression on 0 samples")
    x_mean = A.mean(axis=0)
    y_mean = float(y.mean())
    coef, *_ = np.linalg.lstsq(A - x_mean, y - y_mean, rcond=None)
    return coef, y_mean - float(x_mean @ coef)


def predict_linreg(coef: np.ndarray, intercept: float, X: np.ndarray) -> np.ndarray:
    return _flat(X) @ coef + intercept


class LinearRegPerL:
    """One OLS model per L value (the pooled samples are split by their ``L``)."""

    def __init__(self) -> None:
        self.models: dict[float, tuple[np.ndarray, float]] = {}

    @staticmethod
    def _key(value: float) -> float:
        return round(float(value), 6)

    def fit(self, X: np.ndarray, y: np.ndarray, L: np.ndarray, min_samples: int = 1) -> LinearRegPerL:
        L = np.asarray(L, dtype=np.float64)
        for value in np.unique(L):
            mask = L == value
            if mask.sum() >= min_samples:
                self.models[self._key(value)] = fit_linreg(np.asarray(X)[mask], np.asarray(y)[mask])
        return self

    def predict(self, X: np.ndarray, L: np.ndarray) -> np.ndarray:
        """Forecasts; NaN for samples whose L has no fitted model."""
        L = np.asarray(L, dtype=np.float64)
        out = np.full(L.shape[0], np.nan)
        for value in np.unique(L):
            model = self.models.get(self._key(value))
            if model is not None:
                mask = L == value
                out[mask] = predict_linreg(*model, np.asarray(X)[mask])
        return out

    def to_dict(self) -> dict[str, Any]:
        return {str(k): {"coef": c.tolist(), "intercept": b} for k, (c, b) in self.models.items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LinearRegPerL:
        obj = cls()
        obj.models = {float(k): (np.asarray(v["coef"]), float(v["intercept"])) for k, v in d.items()}
        return obj
