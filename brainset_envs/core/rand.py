"""Fast random draws from a passed ``numpy.random.Generator`` (never a global RNG)."""

from __future__ import annotations

import numpy as np

_TWO_PI = np.float32(2.0 * np.pi)


def standard_normal_f32(rng: np.random.Generator, shape: int | tuple[int, ...], scale: float = 1.0) -> np.ndarray:
    """Normal float32 samples with mean 0 and std ``scale``, by the Box-Muller transform on float32 uniforms.

    About twice as fast as ``rng.standard_normal(dtype=np.float32)`` here for image-sized batches (the
    transcendental functions are SIMD-vectorised). Exact in distribution up to float32 resolution: the
    tails are cut at 5.77 sigma (probability 8e-9), irrelevant for pixel noise.
    """
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    n = int(np.prod(shape))
    h = (n + 1) // 2
    radius = rng.random(h, dtype=np.float32)
    angle = rng.random(h, dtype=np.float32)
    np.log1p(-radius, out=radius)  # log(1 - u), u in [0, 1): finite
    radius *= np.float32(-2.0 * scale * scale)
    np.sqrt(radius, out=radius)
    angle *= _TWO_PI
    out = np.empty(2 * h, dtype=np.float32)
    np.cos(angle, out=out[:h])
    np.sin(angle, out=out[h:])
    out[:h] *= radius
    out[h:] *= radius
    return out[:n].reshape(shape)
