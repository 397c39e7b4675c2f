"""Change a motion's frame rate: slerp for rotations, linear interpolation for translation."""
from __future__ import annotations

import numpy as np

from ..body.rotations import matrix_to_quat, quat_to_matrix
from .motion import Motion


def sample_times(num_frames: int, fps: float, target_fps: float) -> np.ndarray:
    """Source-frame coordinates (float) of the target frames covering the same time span."""
    duration = (num_frames - 1) / fps
    count = int(np.floor(duration * target_fps + 1e-6)) + 1
    return np.arange(count) * (fps / target_fps)


def lerp_frames(x: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Linear interpolation of (T, ...) arrays at fractional frame coordinates."""
    i0 = np.clip(np.floor(coords).astype(np.int64), 0, len(x) - 1)
    i1 = np.minimum(i0 + 1, len(x) - 1)
    w = (coords - i0).reshape((-1,) + (1,) * (x.ndim - 1))
    return x[i0] * (1.0 - w) + x[i1] * w


def slerp_frames(rotations: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """(T, J, 3, 3) rotation matrices sampled at fractional frame coordinates with slerp."""
    q = matrix_to_quat(rotations.astype(np.float64))          # (T, J, 4) wxyz
    i0 = np.clip(np.floor(coords).astype(np.int64), 0, len(q) - 1)
    i1 = np.minimum(i0 + 1, len(q) - 1)
    t = (coords - i0)[:, None, None]
    a, b = q[i0], q[i1]
    dot = np.sum(a * b, axis=-1, keepdims=True)
    b = np.where(dot < 0, -b, b)                               # shortest arc
    dot = np.abs(dot).clip(-1.0, 1.0)
    theta = np.arccos(dot)
    sin = np.sin(theta)
    small = sin < 1e-6
    wa = np.where(small, 1.0 - t, np.sin((1.0 - t) * theta) / np.where(small, 1.0, sin))
    wb = np.where(small, t, np.sin(t * theta) / np.where(small, 1.0, sin))
    out = wa * a + wb * b
    out /= np.linalg.norm(out, axis=-1, keepdims=True)
    return quat_to_matrix(out)


def resample(motion: Motion, target_fps: float = 30.0) -> Motion:
    """The same motion at `target_fps` (same start time, last frame at or before the source's end)."""
    if abs(motion.fps - target_fps) < 1e-6:
        return motion
    coords = sample_times(motion.num_frames, motion.fps, target_fps)
    return Motion(motion.take_id, float(target_fps),
                  lerp_frames(motion.transl.astype(np.float64), coords).astype(np.float32),
                  slerp_frames(motion.rotations, coords).astype(np.float32),
                  motion.text, motion.skeleton, dict(motion.meta))
