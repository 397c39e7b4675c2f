"""The data's typical standing pose: where generation starts when the caller gives no start pose.

A start must look like the motions the prior was trained on. The canonical rest pose (every
joint rotation the identity, arms lowered) is not such a pose: the retarget follows the
source's lower back and pelvis, so a real upright stance has the pelvis tilted a few degrees
and the spine bent back against it. This is the chordal mean (the rotation nearest the average
matrix) of every joint's local rotation over the frames in which a person stands still and
upright, with the heading removed and each take counted mirrored too, so the pose is
left/right symmetric. `train export-prior` stores it in the prior's config.json.
"""
from __future__ import annotations

import numpy as np

from ..body import JOINT_INDEX
from .augment import mirror
from .motion import Motion

MAX_SPEED = 0.1        # m/s of the pelvis: standing still
MIN_HEIGHT = 0.9       # fraction of the median pelvis height: upright, not crouching or lying


def chordal_mean(rotations: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation nearest (Frobenius) to the mean of rotations (N, ..., 3, 3)."""
    u, _, vt = np.linalg.svd(rotations.mean(axis=0))
    d = np.sign(np.linalg.det(u @ vt))
    u[..., :, 2] *= d[..., None]
    return u @ vt


def face_minus_y(root: np.ndarray) -> np.ndarray:
    """Root rotations (N, 3, 3) turned about z so that each body faces -y (heading removed)."""
    forward = root @ np.array([0.0, -1.0, 0.0])
    turn = -np.pi / 2 - np.arctan2(forward[:, 1], forward[:, 0])
    c, s = np.cos(turn), np.sin(turn)
    rz = np.zeros((len(root), 3, 3))
    rz[:, 0, 0], rz[:, 0, 1], rz[:, 1, 0], rz[:, 1, 1], rz[:, 2, 2] = c, -s, s, c, 1.0
    return rz @ root


def standing_frames(motion: Motion, min_height: float) -> np.ndarray:
    """(N, 22, 3, 3) local rotations of the frames where the person stands still and upright."""
    speed = np.linalg.norm(np.gradient(motion.transl.astype(np.float64), axis=0), axis=-1) * motion.fps
    keep = (speed < MAX_SPEED) & (motion.transl[:, 2] > min_height)
    return motion.rotations[keep].astype(np.float64)


def standing_pose(motions: list[Motion]) -> np.ndarray:
    """(22, 3, 3) local rotations of the typical standing pose (root: tilt only, facing -y)."""
    if not motions:
        raise ValueError("standing_pose: no motions given")
    height = MIN_HEIGHT * float(np.median(np.concatenate([m.transl[:, 2] for m in motions])))
    frames = [f for m in motions for x in (m, mirror(m)) if len(f := standing_frames(x, height))]
    if not frames:
        raise ValueError("standing_pose: no frame of the motions stands still and upright")
    frames = np.concatenate(frames)
    frames[:, JOINT_INDEX["pelvis"]] = face_minus_y(frames[:, JOINT_INDEX["pelvis"]])
    return chordal_mean(frames).astype(np.float32)
