"""The few numpy rotation conversions the add-on needs (Blender's Python has numpy, not torch).

Conventions as in `inference_backend.body.rotations`: matrices act on column vectors,
quaternions are (w, x, y, z), axis-angle is axis * angle in radians.
"""
from __future__ import annotations

import numpy as np


def axis_angle_to_matrix(aa: np.ndarray) -> np.ndarray:
    """(..., 3) -> (..., 3, 3), Rodrigues with a series expansion near zero."""
    aa = np.asarray(aa, dtype=np.float64)
    theta = np.linalg.norm(aa, axis=-1)[..., None, None]
    x, y, z = aa[..., 0], aa[..., 1], aa[..., 2]
    zero = np.zeros_like(x)
    k = np.stack([np.stack([zero, -z, y], -1), np.stack([z, zero, -x], -1), np.stack([-y, x, zero], -1)], -2)
    small = theta < 1e-4
    safe = np.where(small, 1.0, theta)
    a = np.where(small, 1 - theta**2 / 6, np.sin(safe) / safe)
    b = np.where(small, 0.5 - theta**2 / 24, (1 - np.cos(safe)) / safe**2)
    return np.eye(3) + a * k + b * (k @ k)


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 4) unit quaternions (w, x, y, z) with w >= 0 (Shepperd)."""
    m = np.asarray(m, dtype=np.float64)
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    m01, m02, m10, m12, m20, m21 = m[..., 0, 1], m[..., 0, 2], m[..., 1, 0], m[..., 1, 2], m[..., 2, 0], m[..., 2, 1]
    ts = np.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1)
    cands = np.stack([
        np.stack([ts[..., 0], m21 - m12, m02 - m20, m10 - m01], -1),
        np.stack([m21 - m12, ts[..., 1], m01 + m10, m02 + m20], -1),
        np.stack([m02 - m20, m01 + m10, ts[..., 2], m12 + m21], -1),
        np.stack([m10 - m01, m02 + m20, m12 + m21, ts[..., 3]], -1),
    ], -2)
    best = np.argmax(ts, axis=-1)
    q = np.take_along_axis(cands, best[..., None, None], axis=-2)[..., 0, :]
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., :1] < 0, -q, q)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def make_continuous(quats: np.ndarray) -> np.ndarray:
    """Flip signs along the first axis (time) so consecutive quaternions have a positive dot
    product: q and -q are the same rotation, but F-curves interpolate the numbers."""
    out = np.array(quats, dtype=np.float64, copy=True)
    for t in range(1, len(out)):
        flip = (out[t] * out[t - 1]).sum(-1) < 0
        out[t][flip] *= -1
    return out


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 3), (..., 3) -> (..., 3, 3): the smallest rotation taking direction a onto b."""
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    axis = np.cross(a, b)
    s = np.linalg.norm(axis, axis=-1, keepdims=True)
    c = (a * b).sum(-1, keepdims=True)
    angle = np.arctan2(s, c)
    helper = np.where(np.abs(a[..., :1]) < 0.9, np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
    perp = np.cross(a, helper)
    perp = perp / np.linalg.norm(perp, axis=-1, keepdims=True)
    unit = np.where(s > 1e-9, axis / np.maximum(s, 1e-12), perp)
    return axis_angle_to_matrix(unit * angle)
