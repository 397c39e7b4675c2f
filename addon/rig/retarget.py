"""Retarget a reaction onto any mapped rig (plain numpy): different rest poses (A-pose vs
T-pose), bone rolls, bone lengths and object transforms.

Per mapped bone b (SMPL-X joint j, child joint c), a rest correction S_j turns the target bone's
rest direction (its head -> the head of the bone mapped to c) onto the SMPL-X rest direction of
j -> c; the bone's posed world rotation is then W_j(t) · S_j · R_rest_b, with W_j the SMPL-X global
joint rotation relative to rest. So every mapped segment points where the reaction's segment
points, and twist follows the reaction's joint rotation. Joints without a child in the 22-joint
body (head, toes, wrists) reuse their parent's correction. Unmapped bones stay at rest.
The root bone's head follows the pelvis, with heights scaled by the rigs' pelvis-height ratio
so a taller or shorter rig keeps its feet on the floor.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .keys import split_matrix_world
from .rotations import make_continuous, matrix_to_quat, rotation_between
from .skeleton import BODY_JOINT_NAMES, BODY_PARENTS, JOINT_INDEX

# The child joint that gives each body joint's bone direction (None: reuse the parent's correction).
DIRECTION_CHILD = {
    "pelvis": "spine1", "spine1": "spine2", "spine2": "spine3", "spine3": "neck", "neck": "head", "head": None,
    "left_hip": "left_knee", "left_knee": "left_ankle", "left_ankle": "left_foot", "left_foot": None,
    "right_hip": "right_knee", "right_knee": "right_ankle", "right_ankle": "right_foot", "right_foot": None,
    "left_collar": "left_shoulder", "left_shoulder": "left_elbow", "left_elbow": "left_wrist", "left_wrist": None,
    "right_collar": "right_shoulder", "right_shoulder": "right_elbow", "right_elbow": "right_wrist", "right_wrist": None,
}


@dataclass
class TargetRig:
    names: list[str]  # every bone, parents before children
    parents: list[int]  # index into names, -1 for roots
    rest: np.ndarray  # (n, 4, 4) bone.matrix_local (armature frame)
    matrix_world: np.ndarray  # (4, 4) the armature object's world matrix


def global_rotations(local: np.ndarray, offsets: np.ndarray, transl: np.ndarray):
    """SMPL-X forward kinematics over the 22 body joints: (T, 22, 3, 3) global rotations and
    (T, 22, 3) positions."""
    num = len(BODY_JOINT_NAMES)
    rots = [None] * num
    pos = [None] * num
    for j in range(num):
        p = BODY_PARENTS[j]
        if p < 0:
            rots[j], pos[j] = local[:, j], np.asarray(transl, dtype=np.float64)
        else:
            rots[j] = rots[p] @ local[:, j]
            pos[j] = pos[p] + (rots[p] @ offsets[j])
    return np.stack(rots, 1), np.stack(pos, 1)


@dataclass
class TargetPose:
    """Where every bone of a target rig should be, per frame (armature frame)."""

    posed: np.ndarray  # (T, n, 3, 3) rotation of every bone of the rig (unmapped ones follow their parent)
    root: str  # the bone mapped to the pelvis
    root_head: np.ndarray  # (T, 3) where the root bone's head goes
    mapped: dict  # bone name -> SMPL-X body joint index


def target_pose(world_rot: np.ndarray, positions: np.ndarray, smpl_rest: np.ndarray, target: TargetRig,
                bones: dict[str, str], scale_height: bool = True) -> TargetPose:
    """The armature-frame rotation of every target bone and the root head position per frame.

    world_rot: (T, 22, 3, 3) SMPL-X global joint rotations relative to rest; positions (T, 22, 3)
    smpl_rest: (22, 3) SMPL-X rest joint positions standing on the floor (pelvis height = z[0])
    bones: SMPL-X joint -> target bone name"""
    rot_w, trans_w, scale = split_matrix_world(target.matrix_world)
    index = {n: i for i, n in enumerate(target.names)}
    b_rest = target.rest[:, :3, :3]
    head_world = (target.rest[:, :3, 3] * scale) @ rot_w.T + trans_w
    corrections: dict[str, np.ndarray] = {}
    for joint in BODY_JOINT_NAMES:  # parents first, so leaves can reuse the parent's correction
        child = DIRECTION_CHILD[joint]
        if child is None:
            corrections[joint] = corrections[BODY_JOINT_NAMES[BODY_PARENTS[JOINT_INDEX[joint]]]]
            continue
        d_target = head_world[index[bones[child]]] - head_world[index[bones[joint]]]
        d_smpl = smpl_rest[JOINT_INDEX[child]] - smpl_rest[JOINT_INDEX[joint]]
        if np.linalg.norm(d_target) < 1e-9:
            raise ValueError(f"bones {bones[joint]!r} and {bones[child]!r} start at the same point; cannot retarget")
        corrections[joint] = rotation_between(d_target, d_smpl)
    by_bone = {bones[j]: JOINT_INDEX[j] for j in BODY_JOINT_NAMES}
    posed = np.zeros((len(world_rot), len(target.names), 3, 3))
    for i, name in enumerate(target.names):
        p = target.parents[i]
        if name in by_bone:
            j = by_bone[name]
            posed[:, i] = rot_w.T @ world_rot[:, j] @ (corrections[BODY_JOINT_NAMES[j]] @ rot_w @ b_rest[i])
        else:
            posed[:, i] = b_rest[i] if p < 0 else posed[:, p] @ b_rest[p].T @ b_rest[i]
    root = bones["pelvis"]
    r = index[root]
    wanted = np.array(positions[:, 0], dtype=np.float64)
    pelvis_height = float(smpl_rest[0, 2])
    if scale_height and pelvis_height > 0 and head_world[r, 2] > 0:
        wanted[:, 2] *= head_world[r, 2] / pelvis_height
    root_head = ((wanted - trans_w) @ rot_w) / scale
    return TargetPose(posed, root, root_head, {n: by_bone[n] for n in target.names if n in by_bone})


def retarget(world_rot: np.ndarray, positions: np.ndarray, smpl_rest: np.ndarray, target: TargetRig,
             bones: dict[str, str], scale_height: bool = True):
    """Pose channels for the mapped bones of `target` (arguments as `target_pose`).

    returns (mapped bone names, quaternions (T, n, 4), root bone name, root location (T, 3))"""
    pose = target_pose(world_rot, positions, smpl_rest, target, bones, scale_height)
    b_rest = target.rest[:, :3, :3]
    quats = {}
    for i, name in enumerate(target.names):
        if name not in pose.mapped:
            continue
        p = target.parents[i]
        if p < 0:
            local = b_rest[i].T @ pose.posed[:, i]
        else:
            local = b_rest[i].T @ b_rest[p] @ np.swapaxes(pose.posed[:, p], -1, -2) @ pose.posed[:, i]
        quats[name] = make_continuous(matrix_to_quat(local))
    r = target.names.index(pose.root)
    location = (pose.root_head - target.rest[r, :3, 3]) @ b_rest[r]
    names = [n for n in target.names if n in quats]
    return names, np.stack([quats[n] for n in names], 1), pose.root, location
