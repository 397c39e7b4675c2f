"""Forward kinematics over a kinematic tree, batched, for numpy arrays and torch tensors.

A pose is a local rotation per joint (relative to the rest pose, in the parent's frame, as in
SMPL-X) plus the world position of the root joint. With all rotations identity the result is the
rest pose translated so that the root sits at `root_position`.
"""
from __future__ import annotations

import numpy as np

from .rotations import _is_torch, _stack
from .skeleton import PARENTS


def forward_kinematics(local_rotations, offsets, root_position, parents=None):
    """Global rotations and positions of every joint.

    local_rotations: (..., J, 3, 3)
    offsets:         (J, 3) or (..., J, 3) rest offsets from each joint's parent
    root_position:   (..., 3) world position of joint 0
    parents:         (J,) parent index per joint, -1 for the root; parents[j] < j
    returns (global_rotations (..., J, 3, 3), positions (..., J, 3))
    """
    num_joints = local_rotations.shape[-3]
    if parents is None:
        parents = PARENTS[:num_joints]
    if _is_torch(local_rotations) and not _is_torch(offsets):
        import torch

        offsets = torch.as_tensor(np.asarray(offsets), dtype=local_rotations.dtype, device=local_rotations.device)
    global_rot = [None] * num_joints
    positions = [None] * num_joints
    for j in range(num_joints):
        p = int(parents[j])
        if p < 0:
            global_rot[j] = local_rotations[..., j, :, :]
            positions[j] = root_position
        else:
            global_rot[j] = global_rot[p] @ local_rotations[..., j, :, :]
            positions[j] = positions[p] + (global_rot[p] @ offsets[..., j, :, None])[..., 0]
    return _stack(global_rot, -3), _stack(positions, -2)


def joint_positions(local_rotations, offsets, root_position, parents=None):
    """Only the positions (..., J, 3); see `forward_kinematics`."""
    return forward_kinematics(local_rotations, offsets, root_position, parents)[1]
