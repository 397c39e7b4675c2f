"""Reaction frames -> pose-bone channels (plain numpy, no bpy).

A reaction frame holds SMPL-X parameters: `global_orient` (3,) and `body_pose` (63,) as
axis-angle *local* rotations relative to the rest pose (each in its parent's frame, which in the
rest pose is the world frame since rest rotations are identity in SMPL-X), and `transl` (3,), the
pelvis world position.

Blender stores a pose bone's rotation in the bone's own rest frame. With B_j the bone's rest
rotation in the armature (`bone.matrix_local`), a world-aligned local rotation R_j becomes

    q_j = B_j^-1 · R_j · B_j

(proof: the armature-space rotation of bone j is G_j = G_p · B_p^-1 · B_j · q_j; SMPL-X gives
G_j = W_p · R_j · B_j with W the global joint rotations, and G_p = W_p · B_p, so q_j = B_j^-1 R_j B_j).
The root location channel is the pelvis offset from its rest head, in the root bone's frame:
loc = B_0^-1 · (transl - head_0). An armature object transform (rotation, translation, uniform
scale) is taken out first.
"""
from __future__ import annotations

import numpy as np

from .rotations import axis_angle_to_matrix, make_continuous, matrix_to_quat
from .skeleton import NUM_BODY_JOINTS


class ReactionFormatError(ValueError):
    """Reaction arrays with the wrong shape or non-finite values."""


def local_rotations(frames: dict) -> tuple[np.ndarray, np.ndarray]:
    """(T, 22, 3, 3) local rotations and (T, 3) pelvis positions from stacked reaction frames:
    {"global_orient": (T, 3), "body_pose": (T, 63), "transl": (T, 3)}."""
    try:
        orient = np.asarray(frames["global_orient"], dtype=np.float64).reshape(-1, 1, 3)
        body = np.asarray(frames["body_pose"], dtype=np.float64)
        transl = np.asarray(frames["transl"], dtype=np.float64).reshape(-1, 3)
    except KeyError as exc:
        raise ReactionFormatError(f"reaction frames lack {exc.args[0]!r}") from None
    except ValueError as exc:
        raise ReactionFormatError(f"reaction frames have a bad shape: {exc}") from None
    frames_n = len(orient)
    if body.size != frames_n * (NUM_BODY_JOINTS - 1) * 3 or len(transl) != frames_n:
        raise ReactionFormatError(
            f"reaction frames disagree: global_orient {orient.shape}, body_pose {body.shape}, transl {transl.shape}"
        )
    aa = np.concatenate([orient, body.reshape(frames_n, NUM_BODY_JOINTS - 1, 3)], axis=1)
    if not (np.isfinite(aa).all() and np.isfinite(transl).all()):
        raise ReactionFormatError("reaction frames contain NaN or infinite values")
    return axis_angle_to_matrix(aa), transl


def split_matrix_world(matrix_world) -> tuple[np.ndarray, np.ndarray, float]:
    """(rotation (3, 3), translation (3,), uniform scale) of an object's 4x4 world matrix."""
    m = np.asarray(matrix_world, dtype=np.float64)
    linear = m[:3, :3]
    scale = float(np.cbrt(abs(np.linalg.det(linear))))
    if scale <= 0:
        raise ValueError("the armature object has zero scale")
    return linear / scale, m[:3, 3].copy(), scale


def pose_channels(
    rotations: np.ndarray,
    transl: np.ndarray,
    bone_rest: np.ndarray,
    root_head: np.ndarray,
    matrix_world=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Quaternions (T, J, 4) (w, x, y, z), continuous in time, and root location (T, 3).

    rotations:   (T, J, 3, 3) local rotations relative to the rest pose, world-aligned
    transl:      (T, 3) world position of the root joint
    bone_rest:   (J, 3, 3) rest rotation of each bone in the armature (columns = bone axes)
    root_head:   (3,) rest head of the root bone in the armature
    matrix_world: the armature object's 4x4 world matrix (identity when None)
    """
    rotations = np.array(rotations, dtype=np.float64, copy=True)
    transl = np.asarray(transl, dtype=np.float64)
    if matrix_world is not None:
        rot_w, trans_w, scale = split_matrix_world(matrix_world)
        rotations[:, 0] = rot_w.T @ rotations[:, 0]
        transl = ((transl - trans_w) @ rot_w) / scale
    b = np.asarray(bone_rest, dtype=np.float64)
    q_mats = np.swapaxes(b, -1, -2)[None] @ rotations @ b[None]
    quats = make_continuous(matrix_to_quat(q_mats))
    location = (transl - np.asarray(root_head)) @ b[0]  # B_0^T (p - head) row-wise
    return quats, location


def frames_from_pose(quats: np.ndarray, location: np.ndarray, bone_rest: np.ndarray, root_head: np.ndarray,
                     matrix_world=None) -> dict:
    """Inverse of `pose_channels`: pose-bone quaternions (T, 22, 4) and root location (T, 3) of an
    SMPL-X-named rig back to reaction frames {transl, global_orient, body_pose} (axis-angle)."""
    from .rotations import quat_to_matrix

    b = np.asarray(bone_rest, dtype=np.float64)
    local = b[None] @ quat_to_matrix(quats) @ np.swapaxes(b, -1, -2)[None]
    transl = np.asarray(root_head) + np.asarray(location, dtype=np.float64) @ b[0].T
    if matrix_world is not None:
        rot_w, trans_w, scale = split_matrix_world(matrix_world)
        local[:, 0] = rot_w @ local[:, 0]
        transl = (transl * scale) @ rot_w.T + trans_w
    aa = _matrix_to_axis_angle(local)
    frames_n = len(aa)
    return {"transl": transl, "global_orient": aa[:, 0], "body_pose": aa[:, 1:].reshape(frames_n, -1)}


def _matrix_to_axis_angle(m: np.ndarray) -> np.ndarray:
    q = matrix_to_quat(m)
    v = q[..., 1:]
    s = np.linalg.norm(v, axis=-1, keepdims=True)
    angle = 2 * np.arctan2(s, q[..., :1])
    return np.where(s > 1e-9, v * angle / np.maximum(s, 1e-12), 2 * v)
