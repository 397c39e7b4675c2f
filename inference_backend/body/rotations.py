"""Rotation conversions that work on numpy arrays and torch tensors alike, batched over any
leading dimensions.

Conventions: rotation matrices act on column vectors (v' = R v); quaternions are (w, x, y, z)
with w >= 0 on output; axis-angle is the rotation vector (axis * angle, radians); the 6D
representation (Zhou et al. 2019) is the first two *columns* of the matrix, concatenated:
(R[:, 0], R[:, 1]) -> 6 numbers.
"""
from __future__ import annotations

import numpy as np

try:  # torch is optional here so the numpy half works in any Python (e.g. Blender's)
    import torch
except ImportError:  # pragma: no cover - exercised only where torch is missing
    torch = None

_EPS = 1e-8


def _is_torch(x) -> bool:
    return torch is not None and isinstance(x, torch.Tensor)


def _norm(x, keepdims=True):
    if _is_torch(x):
        return torch.linalg.norm(x, dim=-1, keepdim=keepdims)
    return np.linalg.norm(x, axis=-1, keepdims=keepdims)


def _stack(xs, axis):
    return torch.stack(xs, dim=axis) if _is_torch(xs[0]) else np.stack(xs, axis=axis)


def _cat(xs, axis):
    return torch.cat(xs, dim=axis) if _is_torch(xs[0]) else np.concatenate(xs, axis=axis)


def _dot(a, b):
    """Dot product over the last axis, kept as a size-1 axis."""
    return (a * b).sum(-1)[..., None]


def _where(cond, a, b):
    return torch.where(cond, a, b) if _is_torch(a) else np.where(cond, a, b)


def _sqrt(x):
    return torch.sqrt(x) if _is_torch(x) else np.sqrt(x)


def _clip(x, lo, hi):
    return torch.clamp(x, lo, hi) if _is_torch(x) else np.clip(x, lo, hi)


def _cross(a, b):
    return torch.linalg.cross(a, b, dim=-1) if _is_torch(a) else np.cross(a, b)


def _eye_like(x, shape):
    if _is_torch(x):
        return torch.eye(3, dtype=x.dtype, device=x.device).expand(*shape, 3, 3)
    return np.broadcast_to(np.eye(3, dtype=x.dtype), (*shape, 3, 3))


def _swap(m):  # transpose of the last two axes
    return m.transpose(-1, -2) if _is_torch(m) else np.swapaxes(m, -1, -2)


def skew(v):
    """(..., 3) -> (..., 3, 3) cross-product matrix."""
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    zero = x * 0
    rows = [_stack([zero, -z, y], -1), _stack([z, zero, -x], -1), _stack([-y, x, zero], -1)]
    return _stack(rows, -2)


def axis_angle_to_matrix(aa):
    """(..., 3) rotation vectors -> (..., 3, 3) matrices (Rodrigues, stable near zero)."""
    theta = _norm(aa)[..., None]  # (..., 1, 1)
    k = skew(aa)
    small = theta < 1e-4
    safe = _where(small, theta * 0 + 1.0, theta)
    if _is_torch(aa):
        a = torch.sin(safe) / safe
        b = (1 - torch.cos(safe)) / safe**2
    else:
        a = np.sin(safe) / safe
        b = (1 - np.cos(safe)) / safe**2
    a = _where(small, 1 - theta**2 / 6, a)
    b = _where(small, 0.5 - theta**2 / 24, b)
    return _eye_like(aa, aa.shape[:-1]) + a * k + b * (k @ k)


def matrix_to_quat(m):
    """(..., 3, 3) -> (..., 4) unit quaternions (w, x, y, z), w >= 0 (Shepperd's method)."""
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    m01, m02, m10, m12, m20, m21 = m[..., 0, 1], m[..., 0, 2], m[..., 1, 0], m[..., 1, 2], m[..., 2, 0], m[..., 2, 1]
    # Four candidate solutions, each well conditioned when its leading component is largest.
    t0 = 1 + m00 + m11 + m22
    t1 = 1 + m00 - m11 - m22
    t2 = 1 - m00 + m11 - m22
    t3 = 1 - m00 - m11 + m22
    cands = [
        _stack([t0, m21 - m12, m02 - m20, m10 - m01], -1),
        _stack([m21 - m12, t1, m01 + m10, m02 + m20], -1),
        _stack([m02 - m20, m01 + m10, t2, m12 + m21], -1),
        _stack([m10 - m01, m02 + m20, m12 + m21, t3], -1),
    ]
    ts = _stack([t0, t1, t2, t3], -1)
    if _is_torch(m):
        best = torch.argmax(ts, dim=-1)
        allq = torch.stack(cands, dim=-2)  # (..., 4, 4)
        q = torch.gather(allq, -2, best[..., None, None].expand(*best.shape, 1, 4)).squeeze(-2)
        tb = torch.gather(ts, -1, best[..., None])
        q = q * (0.5 / torch.sqrt(torch.clamp(tb, min=_EPS)))
    else:
        best = np.argmax(ts, axis=-1)
        allq = np.stack(cands, axis=-2)
        q = np.take_along_axis(allq, best[..., None, None], axis=-2)[..., 0, :]
        tb = np.take_along_axis(ts, best[..., None], axis=-1)
        q = q * (0.5 / np.sqrt(np.maximum(tb, _EPS)))
    q = q / _norm(q)
    return _where(q[..., :1] < 0, -q, q)


def quat_to_matrix(q):
    """(..., 4) quaternions (w, x, y, z), any norm > 0 -> (..., 3, 3)."""
    q = q / _norm(q)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    rows = [
        _stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        _stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        _stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ]
    return _stack(rows, -2)


def quat_to_axis_angle(q):
    """(..., 4) (w, x, y, z) -> (..., 3) rotation vectors with angle in [0, pi]."""
    q = q / _norm(q)
    q = _where(q[..., :1] < 0, -q, q)
    v = q[..., 1:]
    s = _norm(v)
    if _is_torch(q):
        angle = 2 * torch.atan2(s, q[..., :1])
    else:
        angle = 2 * np.arctan2(s, q[..., :1])
    small = s < 1e-6
    scale = _where(small, 2.0 / _clip(q[..., :1], _EPS, None) + 0 * s, angle / _where(small, s * 0 + 1, s))
    return v * scale


def axis_angle_to_quat(aa):
    angle = _norm(aa)
    half = angle / 2
    small = angle < 1e-6
    if _is_torch(aa):
        w, s = torch.cos(half), torch.sin(half)
    else:
        w, s = np.cos(half), np.sin(half)
    scale = _where(small, 0.5 - angle**2 / 48, s / _where(small, angle * 0 + 1, angle))
    return _cat([w, aa * scale], -1)


def matrix_to_axis_angle(m):
    return quat_to_axis_angle(matrix_to_quat(m))


def matrix_to_6d(m):
    """(..., 3, 3) -> (..., 6): first two columns."""
    return _cat([m[..., :, 0], m[..., :, 1]], -1)


def sixd_to_matrix(d6):
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt on the two stored columns."""
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = a1 / _clip(_norm(a1), _EPS, None)
    b2 = a2 - _dot(b1, a2) * b1
    b2 = b2 / _clip(_norm(b2), _EPS, None)
    b3 = _cross(b1, b2)
    return _stack([b1, b2, b3], -1)


def rotation_between(a, b):
    """(..., 3), (..., 3) -> (..., 3, 3): the smallest rotation taking direction a onto b."""
    a = a / _clip(_norm(a), _EPS, None)
    b = b / _clip(_norm(b), _EPS, None)
    axis = _cross(a, b)
    s = _norm(axis)
    c = _dot(a, b)
    angle = torch.atan2(s, c) if _is_torch(a) else np.arctan2(s, c)
    # Opposite vectors: rotate pi about any axis perpendicular to a.
    helper = _where(abs(a[..., :1]) < 0.9, a * 0 + _as(a, [1.0, 0.0, 0.0]), a * 0 + _as(a, [0.0, 1.0, 0.0]))
    perp = _cross(a, helper)
    perp = perp / _clip(_norm(perp), _EPS, None)
    unit = _where(s > 1e-7, axis / _clip(s, _EPS, None), perp)
    return axis_angle_to_matrix(unit * angle)


def _as(like, values):
    if _is_torch(like):
        return torch.tensor(values, dtype=like.dtype, device=like.device)
    return np.asarray(values, dtype=like.dtype)


def transpose(m):
    """Inverse of a rotation matrix (batched)."""
    return _swap(m)


def angle_between(a, b):
    """Angle (radians) between direction vectors, batched."""
    a = a / _clip(_norm(a), _EPS, None)
    b = b / _clip(_norm(b), _EPS, None)
    dot = _clip(_dot(a, b)[..., 0], -1.0, 1.0)
    return torch.arccos(dot) if _is_torch(dot) else np.arccos(dot)
