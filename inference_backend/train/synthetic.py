"""Small synthetic Motions from our own FK: smooth periodic joint swings on a walking-like root.

Used by the fast tests and for developing the training loop without the data cache. Never used
for the shipped weights.
"""
from __future__ import annotations

import numpy as np

from ..body.rotations import axis_angle_to_matrix
from ..data.motion import Motion

TEXTS = ("walk forward", "walk in a circle to the left", "stand still and wave", "run forward")


def synthetic_motion(seed: int, seconds: float = 4.0, fps: int = 30) -> Motion:
    rng = np.random.default_rng(seed)
    kind = seed % len(TEXTS)
    t = np.arange(int(seconds * fps)) / fps
    speed = [1.2, 1.0, 0.0, 3.0][kind]
    turn = [0.0, 0.5, 0.0, 0.0][kind]
    freq = [1.8, 1.6, 0.8, 2.6][kind]
    heading = rng.uniform(-np.pi, np.pi) + turn * t
    # Body faces -y at heading 0 (rest pose): forward = R_z(heading) @ (0, -1, 0).
    fwd = np.stack([np.sin(heading), -np.cos(heading)], -1)
    xy = np.cumsum(fwd * speed / fps, axis=0) + rng.normal(0, 1, 2)
    phase = 2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi)
    z = 0.92 + 0.02 * np.sin(2 * phase)
    transl = np.concatenate([xy, z[:, None]], -1)
    aa = np.zeros((len(t), 22, 3))
    aa[:, 0, 2] = heading
    amp = 0.5 if speed > 0 else 0.05
    aa[:, 1, 0] = amp * np.sin(phase)          # hips swing about x
    aa[:, 2, 0] = -amp * np.sin(phase)
    aa[:, 4, 0] = -amp * np.clip(np.sin(phase + 1.0), 0, None)  # knees bend one way
    aa[:, 5, 0] = -amp * np.clip(-np.sin(phase + 1.0), 0, None)
    aa[:, 16, 1] = 1.2 + 0.1 * np.sin(phase)   # arms down-ish
    aa[:, 17, 1] = -1.2 - 0.1 * np.sin(phase)
    aa[:, 18, 2] = 0.3 * np.sin(phase) if kind != 2 else 1.0 + 0.6 * np.sin(4 * phase)
    aa[:, 3:, :] += rng.normal(0, 0.03, (1, 19, 3))
    rot = axis_angle_to_matrix(aa).astype(np.float32)
    return Motion(f"synthetic_{seed:03d}", float(fps), transl.astype(np.float32), rot, TEXTS[kind], "synthetic")


def synthetic_motions(count: int, seconds: float = 4.0, seed: int = 0) -> list[Motion]:
    return [synthetic_motion(seed + i, seconds) for i in range(count)]
