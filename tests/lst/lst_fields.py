"""Random fields for the LST sharpener tests (imported as ``from lst_fields import ...``)."""

from __future__ import annotations

import numpy as np


def exponential_field(shape, corr_range, seed):
    """Unit-variance Gaussian random field with an exponential covariance (FFT filtering)."""
    rng = np.random.default_rng(seed)
    ky = np.fft.fftfreq(shape[0])[:, None]
    kx = np.fft.rfftfreq(shape[1])[None, :]
    amp = (1.0 + (2 * np.pi * corr_range) ** 2 * (ky**2 + kx**2)) ** -0.75
    z = np.fft.irfft2(np.fft.rfft2(rng.standard_normal(shape)) * amp, s=shape)
    return (z - z.mean()) / z.std()
