"""GR00T's min-max normalisation: robot units <-> [-1, 1] per dimension.

Dimensions whose min equals max (a joint that never moved) map to 0 and come back as that constant, as in
GR00T's ``Normalizer`` ("min_max" mode); values outside the recorded range are clipped to [-1, 1].
"""

from __future__ import annotations

import numpy as np


def normalize(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    span = high - low
    moving = span > 0
    out = np.zeros(np.shape(values), dtype=np.float32)
    scaled = 2.0 * (np.asarray(values, dtype=np.float64) - low) / np.where(moving, span, 1.0) - 1.0
    out[..., moving] = np.clip(scaled[..., moving], -1.0, 1.0)
    return out


def unnormalize(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    clipped = np.clip(np.asarray(values, dtype=np.float64), -1.0, 1.0)
    return ((clipped + 1.0) / 2.0 * (high - low) + low).astype(np.float32)


__all__ = ["normalize", "unnormalize"]
