"""Poses in and out of the runtime: where the reactor starts, SMPL-X parameters out, blending.

Start rule (when the caller gives no `start`): the reactor stands `START_DISTANCE` = 1.5 m in
front of the partner's latest known frame (along the partner's facing direction, from the hip
axis), facing the partner, in the prior's standing pose (the training data's typical stance,
`data.standing`; for a prior without one, the rest pose with the arms lowered by 1.3 rad), as
`rollout.rest_start`, its lowest joint level with the partner's lowest joint
(both stand on the same floor). 1.5 m is conversational/handshake distance; in the CMU
two-person takes the first-frame hip distance ranges from 0.5 m (side by side) to 2.0 m
(approaching each other). Without a partner frame the reactor stands at the origin facing -Y,
as the rest pose does.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..body import JOINT_INDEX, NUM_BODY_JOINTS, forward_kinematics
from ..body.rotations import axis_angle_to_matrix, matrix_to_axis_angle, matrix_to_quat, quat_to_matrix

START_DISTANCE = 1.5
ARM_DROP = 1.3  # radians, as `rollout.rest_start` (a T-pose is rare in mocap)
J = NUM_BODY_JOINTS


def _rot_z(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _rot_y(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def standing_rotations(standing=None) -> np.ndarray:
    """(22, 3, 3) local rotations of the standing start: the prior's standing pose when given
    (root facing -y), else the rest pose with the arms lowered from the T-pose."""
    if standing is not None:
        pose = standing.detach().cpu().numpy() if torch.is_tensor(standing) else np.asarray(standing)
        return pose.astype(np.float32).copy()
    rot = np.tile(np.eye(3), (J, 1, 1))
    rot[JOINT_INDEX["left_shoulder"]] = _rot_y(ARM_DROP)    # left arm (+x) swings down
    rot[JOINT_INDEX["right_shoulder"]] = _rot_y(-ARM_DROP)  # right arm (-x) swings down
    return rot.astype(np.float32)


def pelvis_above_lowest_joint(offsets: np.ndarray, standing=None) -> float:
    """Pelvis height above the lowest joint (a foot) of the standing pose."""
    rot = standing_rotations(standing).astype(np.float64)
    _, pos = forward_kinematics(rot, np.asarray(offsets, np.float64), np.zeros(3))
    return float(-pos[:, 2].min())


FOOT_JOINT_HEIGHT = 0.05  # the foot joints sit about this far above the floor


def facing(joints: np.ndarray) -> np.ndarray:
    """Unit xy facing direction (2,) of a body from its joints (22, 3): hips x z."""
    hip = joints[JOINT_INDEX["left_hip"]] - joints[JOINT_INDEX["right_hip"]]
    f = np.array([hip[1], -hip[0]], dtype=np.float64)
    n = np.linalg.norm(f)
    return f / n if n > 1e-6 else np.array([0.0, -1.0])


def yaw_facing(direction: np.ndarray) -> np.ndarray:
    """Root rotation (3, 3) about z that turns the rest pose (facing -y) to face `direction`."""
    return _rot_z(math.atan2(direction[1], direction[0]) + math.pi / 2)


def default_start(partner: np.ndarray | None, offsets: np.ndarray, standing=None) -> tuple[np.ndarray, np.ndarray]:
    """(transl (3,), rotations (22, 3, 3)) of the start rule above; `standing`: the prior's
    standing pose (`MotionPrior.standing`) or None."""
    rot = standing_rotations(standing)
    lift = pelvis_above_lowest_joint(offsets, standing)
    if partner is None:
        return np.array([0.0, 0.0, lift + FOOT_JOINT_HEIGHT], np.float32), rot
    height = float(partner[:, 2].min()) + lift
    f = facing(partner)
    pos = partner[0, :2] + START_DISTANCE * f
    rot[0] = yaw_facing(-f) @ rot[0]
    return np.array([pos[0], pos[1], height], np.float32), rot


def start_from_dict(start: dict) -> tuple[np.ndarray, np.ndarray]:
    """A caller's start pose: {"transl": (3,)} plus either {"rotations": (22, 3, 3)} or
    {"global_orient": (3,), "body_pose": (63,)} (axis-angle, as the step output)."""
    if not isinstance(start, dict):
        raise ValueError(f"start must be a dict with 'transl' and rotations, got {type(start).__name__}")
    unknown = set(start) - {"transl", "rotations", "global_orient", "body_pose", "joints"}
    if unknown:
        raise ValueError(f"start: unknown keys {sorted(unknown)}")

    def arr(name, shape):
        if name not in start:
            raise ValueError(f"start: missing {name!r}")
        a = np.asarray(start[name], dtype=np.float64)
        if a.shape != shape:
            raise ValueError(f"start[{name!r}] must have shape {shape}, got {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError(f"start[{name!r}] has non-finite values")
        return a

    transl = arr("transl", (3,))
    if "rotations" in start:
        rot = arr("rotations", (J, 3, 3))
        if np.abs(rot @ np.swapaxes(rot, -1, -2) - np.eye(3)).max() > 1e-3 or (np.linalg.det(rot) < 0).any():
            raise ValueError("start['rotations'] are not rotation matrices")
    else:
        aa = np.concatenate([arr("global_orient", (3,)), arr("body_pose", (3 * (J - 1),))]).reshape(J, 3)
        rot = axis_angle_to_matrix(aa)
    return transl.astype(np.float32), rot.astype(np.float32)


def smplx_output(transl: torch.Tensor, rot: torch.Tensor, offsets: torch.Tensor) -> dict[str, np.ndarray]:
    """World poses (..., 3), (..., 22, 3, 3) -> {"transl", "global_orient", "body_pose", "joints"}
    float32 numpy, as the session and batch outputs."""
    _, joints = forward_kinematics(rot, offsets, transl)
    aa = matrix_to_axis_angle(rot)                                      # (..., 22, 3)
    lead = aa.shape[:-2]
    out = {"transl": transl, "global_orient": aa[..., 0, :], "body_pose": aa[..., 1:, :].reshape(*lead, 3 * (J - 1)),
           "joints": joints}
    return {k: v.detach().cpu().numpy().astype(np.float32) for k, v in out.items()}


def blend(transl_a, rot_a, transl_b, rot_b, w):
    """Pose between a and b at fraction w (a float, or a (N,) tensor for (N, ...) poses):
    linear translation, slerp per joint."""
    if torch.is_tensor(w):
        w_t, w_q = w.to(transl_a)[..., None], w.to(transl_a)[..., None, None]
    else:
        w_t = w_q = w
    qa, qb = matrix_to_quat(rot_a), matrix_to_quat(rot_b)
    dot = (qa * qb).sum(-1, keepdim=True)
    qb = torch.where(dot < 0, -qb, qb)
    theta = torch.acos(dot.abs().clamp(max=1.0))
    sin = torch.sin(theta)
    small = sin < 1e-6
    wa = torch.where(small, (1 - w_q) + 0 * theta, torch.sin((1 - w_q) * theta) / sin.clamp_min(1e-6))
    wb = torch.where(small, w_q + 0 * theta, torch.sin(w_q * theta) / sin.clamp_min(1e-6))
    return (1 - w_t) * transl_a + w_t * transl_b, quat_to_matrix(wa * qa + wb * qb)
